/**
 * Self-healing policy: which errors are worth retrying ({@link io.syncwarden.heal.ErrorClass}) and how long to wait
 * before the next attempt ({@link io.syncwarden.heal.UpstreamWait}); later the retry queue, the watchdog and circuit
 * settings. It decides; the routes' shared error handling and the {@code sync} run lifecycle act on its answers.
 */
package io.syncwarden.heal;
