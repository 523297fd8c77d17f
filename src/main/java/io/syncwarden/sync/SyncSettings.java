package io.syncwarden.sync;

import static java.util.concurrent.TimeUnit.MINUTES;
import static java.util.concurrent.TimeUnit.SECONDS;

/**
 * Engine-wide settings, validated once at start-up (see application.properties for each key).
 *
 * @param leaseMillis how long a run's lock outlives its last heartbeat; the lease keeper renews it every quarter of
 *                    that while the run lives, so a node that dies frees its sources within one lease
 * @param shutdownGraceMillis how long a stopping service waits for its runs to reach a batch boundary before it
 *                            closes their records as {@code interrupted} itself
 * @param pendingRetryMillis how often records that could not be written (target database down) are tried again
 * @param longRunFactor a run longer than this multiple of the source's usual duration shows in its health
 * @param progressLogMillis a long run logs its progress (rows so far) at most this often
 */
public record SyncSettings(String nodeId, long leaseMillis, int unhealthyAfterFailures, long shutdownGraceMillis,
                           long pendingRetryMillis, double longRunFactor, long progressLogMillis) {
    public static final long DEFAULT_PROGRESS_LOG_MILLIS = SECONDS.toMillis(30);

    public SyncSettings(String nodeId, long leaseMillis, int unhealthyAfterFailures, long shutdownGraceMillis,
                        long pendingRetryMillis, double longRunFactor) {
        this(nodeId, leaseMillis, unhealthyAfterFailures, shutdownGraceMillis, pendingRetryMillis, longRunFactor,
                DEFAULT_PROGRESS_LOG_MILLIS);
    }

    public static final long DEFAULT_LEASE_MILLIS = MINUTES.toMillis(2);
    public static final int DEFAULT_UNHEALTHY_AFTER_FAILURES = 3;
    public static final long DEFAULT_SHUTDOWN_GRACE_MILLIS = SECONDS.toMillis(6);
    public static final long DEFAULT_PENDING_RETRY_MILLIS = SECONDS.toMillis(5);
    public static final double DEFAULT_LONG_RUN_FACTOR = 3.0;

    public SyncSettings(String nodeId, long leaseMillis, int unhealthyAfterFailures) {
        this(nodeId, leaseMillis, unhealthyAfterFailures, DEFAULT_SHUTDOWN_GRACE_MILLIS, DEFAULT_PENDING_RETRY_MILLIS,
                DEFAULT_LONG_RUN_FACTOR);
    }

    public SyncSettings {
        if (nodeId == null || nodeId.isBlank()) {
            throw new IllegalArgumentException("syncwarden.node-id must not be blank");
        }
        if (nodeId.length() > 100) {
            throw new IllegalArgumentException("syncwarden.node-id must be at most 100 characters");
        }
        if (leaseMillis < 1000) {
            throw new IllegalArgumentException("syncwarden.lock.lease-ms must be at least 1000 ms, was " + leaseMillis);
        }
        if (unhealthyAfterFailures < 1) {
            throw new IllegalArgumentException("syncwarden.health.unhealthy-after-failures must be at least 1");
        }
        if (shutdownGraceMillis < 0) {
            throw new IllegalArgumentException("syncwarden.shutdown.grace-ms must not be negative");
        }
        if (pendingRetryMillis < 100) {
            throw new IllegalArgumentException("syncwarden.runs.pending-retry-ms must be at least 100 ms");
        }
        if (progressLogMillis < 100) {
            throw new IllegalArgumentException("syncwarden.runs.progress-log-ms must be at least 100 ms");
        }
        if (longRunFactor < 1) {
            throw new IllegalArgumentException("syncwarden.health.long-run-factor must be at least 1");
        }
    }

    /** The lease keeper renews every quarter of the lease. */
    public long heartbeatMillis() {
        return Math.max(250, leaseMillis / 4);
    }
}
