/** Entry point ({@link io.syncwarden.Syncwarden}) and the configuration that binds the shared beans routes call. */
package io.syncwarden;
