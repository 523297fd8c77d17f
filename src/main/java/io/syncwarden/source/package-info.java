/**
 * One reader per source kind and its row mapping. A reader is a bean created per source instance by its route
 * template; it reads the upstream and hands rows to the {@code sync} writer. It owns no tables.
 */
package io.syncwarden.source;
