/**
 * Self-healing policy. It judges a failed attempt or run ({@link io.syncwarden.heal.ErrorClass},
 * {@link io.syncwarden.heal.FailureText}, {@link io.syncwarden.heal.RunFailures}), decides how long to wait
 * ({@link io.syncwarden.heal.UpstreamWait}, key rotation), keeps the persistent retry queue behind the dead-letter
 * channel ({@link io.syncwarden.heal.RetryQueue}), the circuit breakers ({@link io.syncwarden.heal.Breakers}), the
 * recovery probe ({@link io.syncwarden.heal.RecoveryProbe}), what non-recoverable failures and refusals do to a source
 * ({@link io.syncwarden.heal.SourcePause}) and the incidents they open ({@link io.syncwarden.heal.Incidents}), the
 * watchdog's passes and the resilient full sync ({@link io.syncwarden.heal.Watchdog}), incremental row-count anomalies
 * ({@link io.syncwarden.heal.IncrementalAnomalies}) and the daily retention ({@link io.syncwarden.heal.Retention}). The routes' shared error handling calls it; it runs sources again only through the
 * {@code sync} package's trigger, and never reads or writes a source's data.
 */
package io.syncwarden.heal;
