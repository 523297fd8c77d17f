/**
 * Self-healing policy: which errors are worth retrying ({@link io.syncwarden.heal.ErrorClass}), how long to wait
 * before the next attempt ({@link io.syncwarden.heal.UpstreamWait}), the persistent retry queue behind the dead-letter
 * channel ({@link io.syncwarden.heal.RetryQueue}), what non-recoverable failures do to a source
 * ({@link io.syncwarden.heal.SourcePause}) and the incidents they open ({@link io.syncwarden.heal.Incidents}); later the
 * watchdog and circuit settings. The routes' shared error handling calls it; it runs sources again only through the
 * {@code sync} package's trigger, and never reads or writes a source's data.
 */
package io.syncwarden.heal;
