package io.syncwarden.sync;

import static java.util.concurrent.TimeUnit.MINUTES;

/** Engine-wide settings, validated once at start-up (see application.properties for each key). */
public record SyncSettings(String nodeId, long leaseMillis, int unhealthyAfterFailures) {
    public static final long DEFAULT_LEASE_MILLIS = MINUTES.toMillis(15);
    public static final int DEFAULT_UNHEALTHY_AFTER_FAILURES = 3;

    public SyncSettings {
        if (nodeId == null || nodeId.isBlank()) {
            throw new IllegalArgumentException("syncwarden.node-id must not be blank");
        }
        if (leaseMillis < 1000) {
            throw new IllegalArgumentException("syncwarden.lock.lease-ms must be at least 1000 ms, was " + leaseMillis);
        }
        if (unhealthyAfterFailures < 1) {
            throw new IllegalArgumentException("syncwarden.health.unhealthy-after-failures must be at least 1");
        }
    }
}
