package io.syncwarden.sync;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replays the rejected rows of one run after their cause was fixed (a wider column, a corrected type): the rows, as
 * recorded in {@code rejected_row}, go through the same batch writer into the source's target table, in a run of
 * their own (trigger {@code replay}, holding the source's lock), at most {@code rowsPerSecond}. A row the table now
 * takes is marked {@code replayed_at}; a row refused again gets a new entry with its new reason. Only the rejects of
 * the source's latest run are replayed (a later run read the keys again), and only rows recorded whole and exact
 * ({@code replayable}: not a reader's partial row, a duplicate, cut data, bytes or zoned times). The replay run changes
 * nothing of the source's health, retry entry or incidents.
 */
public class RejectedReplay {
    private static final Logger LOG = LoggerFactory.getLogger(RejectedReplay.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BATCH = 100;

    private final SyncRuns runs;

    public RejectedReplay(SyncRuns runs) {
        this.runs = runs;
    }

    /** What a replay did: its run, rows taken, refused again, left (not replayable as recorded). */
    public record Result(Long runId, int replayed, int rejectedAgain, int left) {
    }

    public Result replay(String sourceId, String kind, String targetTable, List<String> keys, long rejectsOfRun,
                         int rowsPerSecond) throws SQLException, InterruptedException {
        return replay(sourceId, kind, targetTable, keys, rejectsOfRun, rowsPerSecond, null);
    }

    /** As above; {@code onWritten} is told the rows the replay wrote, in their batches' transactions (a write-back). */
    public Result replay(String sourceId, String kind, String targetTable, List<String> keys, long rejectsOfRun,
                         int rowsPerSecond, BatchWriter.WrittenSink onWritten) throws SQLException, InterruptedException {
        // the source's lock first: no sync (and no other replay) writes the table meanwhile
        RunContext run = runs.begin(sourceId, kind, "replay");
        if (run == null) {
            throw new IllegalStateException("Sync " + sourceId + " is running: replay its rejected rows when it is done");
        }
        try {
            return replay(run, sourceId, targetTable, keys, rejectsOfRun, rowsPerSecond, onWritten);
        } catch (Throwable e) {
            if (run.closedStatus() == null) {
                runs.fail(sourceId, run, new Failure(e, Failure.RECOVERABLE, "replay of the rejected rows of run " + rejectsOfRun
                        + " stopped: " + e.getClass().getSimpleName(), "failed", false));
            }
            throw e;
        }
    }

    private Result replay(RunContext run, String sourceId, String targetTable, List<String> keys, long rejectsOfRun,
                          int rowsPerSecond, BatchWriter.WrittenSink onWritten) throws SQLException, InterruptedException {
        List<Long> ids = new ArrayList<>();
        List<Map<String, String>> rows = new ArrayList<>();
        int left = 0;
        boolean incremental;
        Instant rejectsClosed;
        try (Connection c = runs.database().dataSource().getConnection()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT mode, finished_at FROM sync_run WHERE run_id = ? AND source_id = ?")) {
                ps.setLong(1, rejectsOfRun);
                ps.setString(2, sourceId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new NonRecoverableSyncException("Sync " + sourceId + " has no run " + rejectsOfRun);
                    }
                    incremental = "incremental".equals(rs.getString(1));
                    java.time.OffsetDateTime closed = rs.getObject(2, java.time.OffsetDateTime.class);
                    rejectsClosed = closed == null ? Instant.now() : closed.toInstant();
                }
            }
        }
        try (Connection c = runs.database().dataSource().getConnection()) {
            // a full read: only the rejects of the source's latest run (a later run read those keys again, its values win);
            // an incremental read: a later run read only what changed, so each row is judged by its key (below)
            try (PreparedStatement ps = incremental ? null : c.prepareStatement("SELECT COUNT(*) FROM sync_run WHERE source_id = ? AND run_id > ? "
                    + "AND run_id <> ? AND run_trigger <> 'replay'")) {
                if (!incremental) {
                ps.setString(1, sourceId);
                ps.setLong(2, rejectsOfRun);
                ps.setLong(3, run.runId());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) > 0) {
                        throw new NonRecoverableSyncException("Sync " + sourceId + ": run " + rejectsOfRun + " is not the "
                                + "source's latest; a later run read its rows again (replay that run's rejects, or sync again)");
                    }
                }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT rejected_id, row_data, replayable FROM rejected_row "
                    + "WHERE source_id = ? AND run_id = ? AND replayed_at IS NULL ORDER BY rejected_id")) {
                ps.setString(1, sourceId);
                ps.setLong(2, rejectsOfRun);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        if (!rs.getBoolean(3)) {
                            left++; // partial, a duplicate, cut or inexact as text: not replayed as recorded
                            continue;
                        }
                        rows.add(JSON.readValue(rs.getString(2), new TypeReference<LinkedHashMap<String, String>>() { }));
                        ids.add(rs.getLong(1));
                    }
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new NonRecoverableSyncException("Sync " + sourceId + ": a rejected row's data is not readable: "
                            + e.getOriginalMessage());
                }
            }
            try (ResultSet rs = c.getMetaData().getTables(null, runs.database().dataSchema(),
                    runs.database().dialect().metadataName(TargetTable.identifier("Target table", targetTable)), null)) {
                if (!rs.next()) {
                    throw new NonRecoverableSyncException("Sync " + sourceId + ": target table " + targetTable + " does not exist");
                }
            }
        }
        if (rows.isEmpty()) {
            runs.complete(run);
            return new Result(run.runId(), 0, 0, left);
        }
        run.mode("replay");
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        Set<Long> refused = new HashSet<>();
        try (Connection tc = runs.database().dataSource().getConnection()) {
            tc.setAutoCommit(false);
            List<TargetTable.Column> offered = columns.stream().map(col -> new TargetTable.Column(col, Types.VARCHAR, null, 0, 0)).toList();
            TargetTable table = TargetTable.ensure(tc, runs.database(), targetTable, offered, keys);
            if (incremental) {
                int before = rows.size();
                dropSuperseded(tc, table, keys, rows, ids, rejectsClosed, sourceId);
                left += before - rows.size();
                tc.commit();
            }
            long started = System.nanoTime();
            try (BatchWriter writer = new BatchWriter(tc, runs.database().dialect(), table, columns, keys, BATCH, run, runs, null, 0)
                    .positionName("rejected row").onWritten(onWritten)) {
                for (int i = 0; i < rows.size(); i++) {
                    Object[] row = new Object[columns.size()];
                    for (int k = 0; k < row.length; k++) {
                        row[k] = rows.get(i).get(columns.get(k));
                    }
                    writer.add(row, ids.get(i)); // the position is the rejected row's id
                    if (rowsPerSecond > 0 && (i + 1) % BATCH == 0) {
                        long due = started + (long) ((i + 1) * 1e9 / rowsPerSecond);
                        long wait = due - System.nanoTime();
                        if (wait > 0) {
                            Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000)); // throttled: the target serves others too
                        }
                    }
                }
                writer.finish();
            }
            try (PreparedStatement ps = tc.prepareStatement("SELECT row_position FROM rejected_row WHERE run_id = ?")) {
                ps.setLong(1, run.runId());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        refused.add(rs.getLong(1));
                    }
                }
            }
            try (PreparedStatement ps = tc.prepareStatement("UPDATE rejected_row SET replayed_at = ?, replay_run_id = ? "
                    + "WHERE rejected_id = ? AND replayed_at IS NULL")) {
                for (Long id : ids) {
                    if (!refused.contains(id)) {
                        ps.setObject(1, SyncRuns.utc(Instant.now()));
                        ps.setLong(2, run.runId());
                        ps.setLong(3, id);
                        ps.addBatch();
                    }
                }
                ps.executeBatch();
            }
            tc.commit();
        }
        runs.complete(run);
        int replayed = ids.size() - refused.size();
        LOG.info("Sync {}: replayed {} rejected row(s) of run {} in run {}: {} taken, {} refused again{}", sourceId, ids.size(),
                rejectsOfRun, run.runId(), replayed, refused.size(), left > 0 ? ", " + left + " left (data cut)" : "");
        return new Result(run.runId(), replayed, refused.size(), left);
    }

    /**
     * An incremental source's later runs read only what changed: a rejected row is superseded (and left as it is) when
     * a later run wrote its key ({@code synced_at} after the rejecting run closed) or rejected it again.
     */
    private static void dropSuperseded(Connection c, TargetTable table, List<String> keys, List<Map<String, String>> rows,
                                       List<Long> ids, Instant rejectsClosed, String sourceId) throws SQLException {
        if (!table.hasSyncedAt()) {
            throw new NonRecoverableSyncException("Sync " + sourceId + ": target table " + table.display() + " has no "
                    + TargetTable.SYNCED_AT + " column, so a later run's writes cannot be told from the rejected rows; "
                    + "replay is refused");
        }
        String where = String.join(" AND ", keys.stream().map(k -> table.quoted(k) + " = ?").toList());
        try (PreparedStatement written = c.prepareStatement("SELECT " + table.quoted(TargetTable.SYNCED_AT) + " FROM "
                + table.qualified() + " WHERE " + where);
             PreparedStatement again = c.prepareStatement("SELECT COUNT(*) FROM rejected_row WHERE source_id = ? AND row_key = ? "
                     + "AND rejected_id > ? AND run_id NOT IN (SELECT run_id FROM sync_run WHERE run_trigger = 'replay')")) {
            for (int i = rows.size() - 1; i >= 0; i--) {
                Map<String, String> row = rows.get(i);
                for (int k = 0; k < keys.size(); k++) {
                    TargetTable.Meta m = table.columns.get(keys.get(k));
                    String text = row.get(keys.get(k));
                    written.setObject(k + 1, text == null || Values.isText(m.jdbcType(), m.typeName()) ? text
                            : Values.coerce(text, m.jdbcType(), m.typeName()));
                }
                boolean superseded;
                try (ResultSet rs = written.executeQuery()) {
                    java.time.OffsetDateTime at = rs.next() ? rs.getObject(1, java.time.OffsetDateTime.class) : null;
                    superseded = at != null && at.toInstant().isAfter(rejectsClosed);
                }
                if (!superseded) {
                    again.setString(1, sourceId);
                    again.setString(2, SyncRuns.truncate(String.join("|", keys.stream().map(row::get).toList()), 1000));
                    again.setLong(3, ids.get(i));
                    try (ResultSet rs = again.executeQuery()) {
                        rs.next();
                        superseded = rs.getLong(1) > 0;
                    }
                }
                if (superseded) {
                    rows.remove(i);
                    ids.remove(i);
                }
            }
        }
    }
}
