package io.syncwarden.sync;

/**
 * How a run ended when it did not complete, as the error handling judged it (the judging is io.syncwarden.heal's):
 * the error, its class, the text for people, the run's status, and whether it counts as the source failing.
 * The class names are the vocabulary of {@code sync_run.error_class} and {@code failure_log.error_class}.
 */
public record Failure(Throwable error, String errorClass, String message, String status, boolean sourceFailure) {
    public static final String RECOVERABLE = "recoverable";
    public static final String NON_RECOVERABLE = "non_recoverable";
    public static final String LEASE_LOST = "lease_lost";
    public static final String INTERRUPTED = "interrupted";
    /** The source's circuit breaker is open: no request was sent, the run is recorded as skipped (not a failure). */
    public static final String CIRCUIT_OPEN = "circuit_open";
    /** A guard refused the run before anything was applied (an empty source...): not retried, an incident. */
    public static final String REFUSED = "refused";
}
