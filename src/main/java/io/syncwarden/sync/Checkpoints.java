package io.syncwarden.sync;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;

/** Per-source progress, written in the same transaction as the batch it describes. */
public final class Checkpoints {
    public static final String IN_PROGRESS = "in_progress";
    public static final String COMPLETE = "complete";

    /** A stored checkpoint: the cursor of the last committed row, whether the run that wrote it finished, and that run. */
    public record Checkpoint(String cursor, String phase, long rowsDone, Long runId) {
    }

    private Checkpoints() {
    }

    public static Checkpoint load(Connection c, String sourceId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "SELECT cursor_value, phase, rows_done, run_id FROM sync_checkpoint WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? new Checkpoint(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getObject(4, Long.class)) : null;
            }
        }
    }

    public static void save(Connection c, RunContext run, String cursor, String phase, long rowsDone) throws SQLException {
        try (PreparedStatement up = c.prepareStatement(
                "UPDATE sync_checkpoint SET cursor_value = ?, phase = ?, run_id = ?, rows_done = ?, updated_at = ? WHERE source_id = ?")) {
            up.setString(1, cursor);
            up.setString(2, phase);
            up.setLong(3, run.runId());
            up.setLong(4, rowsDone);
            up.setObject(5, SyncRuns.utc(Instant.now()));
            up.setString(6, run.sourceId());
            if (up.executeUpdate() > 0) {
                return;
            }
        }
        try (PreparedStatement ins = c.prepareStatement(
                "INSERT INTO sync_checkpoint (source_id, cursor_value, phase, run_id, rows_done, updated_at) VALUES (?, ?, ?, ?, ?, ?)")) {
            ins.setString(1, run.sourceId());
            ins.setString(2, cursor);
            ins.setString(3, phase);
            ins.setLong(4, run.runId());
            ins.setLong(5, rowsDone);
            ins.setObject(6, SyncRuns.utc(Instant.now()));
            ins.executeUpdate();
        }
    }
}
