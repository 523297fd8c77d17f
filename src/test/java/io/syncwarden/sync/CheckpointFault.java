package io.syncwarden.sync;

import java.sql.Connection;
import java.sql.SQLException;
import org.h2.api.Trigger;

/**
 * H2 materialises a sorted derived table before the first row, so a replica fault there cannot land mid-read.
 * This trigger on sync_checkpoint fails the batch that would pass {@link Gate.checkpointFailFrom} rows instead: the run dies
 * after its earlier batches were committed, which is the state a resumed run must pick up from.
 */
public class CheckpointFault implements Trigger {
    @Override
    public void fire(Connection conn, Object[] oldRow, Object[] newRow) throws SQLException {
        long rowsDone = ((Number) newRow[4]).longValue();
        if (rowsDone >= Gate.checkpointBlockFrom) {
            try {
                if (!Gate.checkpointRelease.await(60, java.util.concurrent.TimeUnit.SECONDS)) {
                    throw new SQLException("checkpoint gate never released");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (rowsDone >= Gate.checkpointFailFrom) {
            throw new SQLException("target connection lost (injected at row " + Gate.checkpointFailFrom + ")", "08006");
        }
    }
}
