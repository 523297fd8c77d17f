/** Operating the service: validating routes files, reloading them live, the management port's access. */
package io.syncwarden.ops;
