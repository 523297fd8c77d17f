/** Data sources, migrations and SQL dialect differences of the target database. Knows nothing of sources or runs. */
package io.syncwarden.store;
