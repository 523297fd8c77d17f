package io.syncwarden.sync;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Fault injection for H2 replicas, called per row by the SQL function {@code sw_gate(id)}: makes the replica fail
 * (as a dropped connection would) or stall at a given row, mid-stream, after earlier batches were committed.
 */
public final class Gate {
    static volatile long failFrom = Long.MAX_VALUE;
    static volatile long checkpointFailFrom = Long.MAX_VALUE;
    static volatile long blockFrom = Long.MAX_VALUE;
    static volatile long checkpointBlockFrom = Long.MAX_VALUE;
    static volatile CountDownLatch checkpointRelease = new CountDownLatch(0);
    static volatile CountDownLatch release = new CountDownLatch(0);
    static final CountDownLatch NEVER = new CountDownLatch(1);
    static volatile CountDownLatch blocked = new CountDownLatch(1);

    private Gate() {
    }

    public static int gate(long id) throws Exception {
        if (id >= failFrom) {
            throw new java.sql.SQLException("replica connection lost (injected at row " + id + ")", "08006");
        }
        if (id >= blockFrom) {
            blocked.countDown();
            if (!release.await(60, TimeUnit.SECONDS)) {
                throw new IllegalStateException("gate never released");
            }
        }
        return 1;
    }

    static void reset() {
        failFrom = Long.MAX_VALUE;
        checkpointFailFrom = Long.MAX_VALUE;
        blockFrom = Long.MAX_VALUE;
        checkpointBlockFrom = Long.MAX_VALUE;
        checkpointRelease.countDown();
        checkpointRelease = new CountDownLatch(0);
        release = new CountDownLatch(0);
        blocked = new CountDownLatch(1);
    }
}
