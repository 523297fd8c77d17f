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
 * takes is marked {@code replayed_at}; a row refused again gets a new entry with its new reason. A row whose recorded
 * data was cut (over 8000 characters) is left as it is.
 */
public class RejectedReplay {
    private static final Logger LOG = LoggerFactory.getLogger(RejectedReplay.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int BATCH = 100;

    private final SyncRuns runs;

    public RejectedReplay(SyncRuns runs) {
        this.runs = runs;
    }

    /** What a replay did: its run (null when the source was busy), rows taken, refused again, left (cut data). */
    public record Result(Long runId, int replayed, int rejectedAgain, int left) {
    }

    public Result replay(String sourceId, String kind, String targetTable, List<String> keys, long rejectsOfRun,
                         int rowsPerSecond) throws SQLException, InterruptedException {
        List<Long> ids = new ArrayList<>();
        List<Map<String, String>> rows = new ArrayList<>();
        int left = 0;
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT rejected_id, row_data FROM rejected_row WHERE source_id = ? "
                     + "AND run_id = ? AND replayed_at IS NULL ORDER BY rejected_id")) {
            ps.setString(1, sourceId);
            ps.setLong(2, rejectsOfRun);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    try {
                        rows.add(JSON.readValue(rs.getString(2), new TypeReference<LinkedHashMap<String, String>>() { }));
                        ids.add(rs.getLong(1));
                    } catch (Exception e) {
                        left++; // the recorded row was cut: it cannot be replayed as it was read
                    }
                }
            }
        }
        if (rows.isEmpty()) {
            return new Result(null, 0, 0, left);
        }
        RunContext run = runs.begin(sourceId, kind, "replay");
        if (run == null) {
            return new Result(null, 0, 0, left);
        }
        run.mode("replay");
        List<String> columns = new ArrayList<>(rows.get(0).keySet());
        Set<Long> refused = new HashSet<>();
        try (Connection tc = runs.database().dataSource().getConnection()) {
            tc.setAutoCommit(false);
            List<TargetTable.Column> offered = columns.stream().map(col -> new TargetTable.Column(col, Types.VARCHAR, null, 0, 0)).toList();
            TargetTable table = TargetTable.ensure(tc, runs.database(), targetTable, offered, keys);
            long started = System.nanoTime();
            try (BatchWriter writer = new BatchWriter(tc, runs.database().dialect(), table, columns, keys, BATCH, run, runs, null, 0)
                    .positionName("rejected row")) {
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
        } catch (SQLException | RuntimeException e) {
            runs.fail(sourceId, run, new Failure(e, Failure.RECOVERABLE, String.valueOf(e.getMessage()), "failed", false));
            throw e;
        }
        runs.complete(run);
        int replayed = ids.size() - refused.size();
        LOG.info("Sync {}: replayed {} rejected row(s) of run {} in run {}: {} taken, {} refused again{}", sourceId, ids.size(),
                rejectsOfRun, run.runId(), replayed, refused.size(), left > 0 ? ", " + left + " left (data cut)" : "");
        return new Result(run.runId(), replayed, refused.size(), left);
    }
}
