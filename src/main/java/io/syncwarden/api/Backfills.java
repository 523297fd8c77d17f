package io.syncwarden.api;

import static io.syncwarden.sync.SyncRuns.utc;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncwarden.source.SyncSource;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.sync.SyncRuns;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.concurrent.ExecutorService;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Backfills: a source's date range read again through the same writer and guards (see
 * {@link SyncSource#backfill}), as a job ({@code backfill_job}) at most one active per source, run in the background
 * one at a time per node. Operators may backfill at most {@value #OPERATOR_DAYS} days at once, admins any range. The
 * estimate counts the upstream's rows in the range and divides by the source's own recent throughput.
 */
public class Backfills {
    private static final Logger LOG = LoggerFactory.getLogger(Backfills.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int OPERATOR_DAYS = 90;
    /** Rows per second assumed for a source without a timed run yet. */
    private static final double DEFAULT_RATE = 1000;

    private final CamelContext context;
    private final TargetDatabase db;
    private ExecutorService executor;
    private final java.util.concurrent.Semaphore estimating = new java.util.concurrent.Semaphore(1);

    public Backfills(CamelContext context, TargetDatabase db) {
        this.context = context;
        this.db = db;
    }

    /** A requested range: both days inclusive, UTC. */
    record Range(LocalDate from, LocalDate to) {
        long days() {
            return ChronoUnit.DAYS.between(from, to) + 1;
        }
    }

    static Range range(String from, String to) {
        if (from == null || to == null || from.isBlank() || to.isBlank()) {
            throw new ApiException(400, "from and to are required, as dates (2026-01-31)");
        }
        try {
            Range r = new Range(LocalDate.parse(from.strip()), LocalDate.parse(to.strip()));
            if (r.from().getYear() < 1900 || r.to().getYear() > 2200) {
                throw new ApiException(400, "from and to must lie between 1900 and 2200");
            }
            if (r.to().isBefore(r.from())) {
                throw new ApiException(400, "to (" + r.to() + ") is before from (" + r.from() + ")");
            }
            return r;
        } catch (DateTimeParseException e) {
            throw new ApiException(400, "from and to must be dates like 2026-01-31");
        }
    }

    private static SyncSource backfillable(CamelContext context, String sourceId) {
        SyncSource source = SyncSource.of(context, sourceId);
        if (source == null) {
            throw new ApiException(409, "source " + sourceId + " is not running (switched off?)");
        }
        String refusal = source.backfillRefusal();
        if (refusal != null) {
            throw new ApiException(409, refusal);
        }
        return source;
    }

    /** The estimate of a backfill: rows in the range (the upstream's count), days, seconds at the source's recent pace. */
    ObjectNode estimate(String sourceId, Range range, ApiAccess.Caller caller) throws Exception {
        SyncSource source = backfillable(context, sourceId);
        // one count at a time per node: the replica's pool is small and the syncs come first
        if (!estimating.tryAcquire()) {
            throw new ApiException(429, "an estimate is being counted already; try again in a moment");
        }
        long rows;
        try {
            rows = source.countRange(context, range.from(), range.to());
        } finally {
            estimating.release();
        }
        double rate = rate(sourceId);
        ObjectNode out = JSON.createObjectNode();
        out.put("source", sourceId);
        out.put("from", range.from().toString());
        out.put("to", range.to().toString());
        out.put("days", range.days());
        out.put("rows", rows);
        out.put("rowsPerSecond", Math.round(rate));
        out.put("seconds", (long) Math.ceil(rows / rate));
        out.put("overOperatorLimit", range.days() > OPERATOR_DAYS);
        out.put("allowed", caller.may("admin") || caller.may("operator") && range.days() <= OPERATOR_DAYS);
        return out;
    }

    /** Rows per second over the source's last ten timed good runs that read rows. */
    private double rate(String sourceId) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT SUM(rows_read), SUM(duration_ms) FROM (SELECT rows_read, duration_ms "
                     + "FROM sync_run WHERE source_id = ? AND status = 'success' AND rows_read > 0 AND duration_ms > 0 "
                     + "ORDER BY run_id DESC FETCH FIRST 10 ROWS ONLY) recent")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long rows = rs.getLong(1);
                long ms = rs.getLong(2);
                return rows > 0 && ms > 0 ? Math.max(1, rows * 1000.0 / ms) : DEFAULT_RATE;
            }
        }
    }

    /** Starts a backfill (202): 403 past the operator's 90 days, 409 while one is active for the source. */
    ObjectNode start(String sourceId, Range range, ApiAccess.Caller caller) throws Exception {
        if (range.days() > OPERATOR_DAYS && !caller.may("admin")) {
            throw new ApiException(403, "a backfill of " + range.days() + " days needs an admin token (operators: at most "
                    + OPERATOR_DAYS + " days at once)");
        }
        backfillable(context, sourceId);
        long id;
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            releaseDead(c, sourceId);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO backfill_job (source_id, active_source, from_day, to_day, "
                    + "status, requested_by, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?)", new String[] {"backfill_id"})) {
                ps.setString(1, sourceId);
                ps.setString(2, sourceId);
                ps.setObject(3, range.from());
                ps.setObject(4, range.to());
                ps.setString(5, caller.name());
                ps.setObject(6, utc(Instant.now()));
                ps.executeUpdate();
                try (ResultSet keys = ps.getGeneratedKeys()) {
                    keys.next();
                    id = keys.getLong(1);
                }
            } catch (SQLException e) {
                if (e.getSQLState() != null && e.getSQLState().startsWith("23")) {
                    throw new ApiException(409, "a backfill of " + sourceId + " is active already (GET /api/sources/" + sourceId
                            + "/backfill/status)");
                }
                throw e;
            }
        }
        executor().submit(() -> run(id, sourceId, range));
        ObjectNode out = JSON.createObjectNode();
        out.put("backfillId", id);
        out.put("source", sourceId);
        out.put("from", range.from().toString());
        out.put("to", range.to().toString());
        out.put("status", "pending");
        return out;
    }

    /**
     * A job its node left behind is failed: still pending after an hour (never started), running without a run for
     * ten minutes (the node stopped before taking the lock), or whose run has ended (closed by the restarted node).
     */
    private static void releaseDead(Connection c, String sourceId) throws SQLException {
        Instant now = Instant.now();
        try (PreparedStatement ps = c.prepareStatement("UPDATE backfill_job SET status = 'failed', active_source = NULL, finished_at = ?, "
                + "error = 'the node running it stopped' WHERE active_source = ? AND ((status = 'pending' AND created_at < ?) "
                + "OR (status = 'running' AND run_id IS NULL AND started_at < ?) "
                + "OR run_id IN (SELECT run_id FROM sync_run WHERE status <> 'running'))")) {
            ps.setObject(1, utc(now));
            ps.setString(2, sourceId);
            ps.setObject(3, utc(now.minus(Duration.ofHours(1))));
            ps.setObject(4, utc(now.minus(Duration.ofMinutes(10))));
            ps.executeUpdate();
        }
    }

    private void run(long id, String sourceId, Range range) {
        if (update("UPDATE backfill_job SET status = 'running', started_at = ? WHERE backfill_id = ? AND status = 'pending'",
                utc(Instant.now()), id) != 1) {
            return; // released meanwhile (or taken): not run
        }
        try {
            SyncSource source = backfillable(context, sourceId);
            SyncSource.BackfillResult result = source.backfill(context, range.from(), range.to(), (runId, read) ->
                    update("UPDATE backfill_job SET rows_read = ?, run_id = ? WHERE backfill_id = ?", read, runId, id));
            update("UPDATE backfill_job SET status = 'done', active_source = NULL, run_id = ?, rows_read = ?, rows_written = ?, "
                    + "rows_rejected = ?, finished_at = ? WHERE backfill_id = ?", result.runId(), result.read(), result.written(),
                    result.rejected(), utc(Instant.now()), id);
            LOG.info("Backfill {} of {} ({}..{}) done: {} read, {} written, {} rejected", id, sourceId, range.from(), range.to(),
                    result.read(), result.written(), result.rejected());
        } catch (Exception e) {
            update("UPDATE backfill_job SET status = 'failed', active_source = NULL, error = ?, finished_at = ? WHERE backfill_id = ?",
                    SyncRuns.truncate(e.getMessage(), 4000), utc(Instant.now()), id);
            LOG.warn("Backfill {} of {} ({}..{}) failed: {}", id, sourceId, range.from(), range.to(), e.getMessage());
        }
    }

    /** The source's latest backfill, or null. */
    ObjectNode status(String sourceId) throws SQLException {
        try (Connection c = db.dataSource().getConnection()) {
            List<ObjectNode> rows = Api.rows(c, "SELECT backfill_id, from_day, to_day, status, requested_by, estimated_rows, rows_read, "
                    + "rows_written, rows_rejected, run_id, created_at, started_at, finished_at, error FROM backfill_job "
                    + "WHERE source_id = ? ORDER BY backfill_id DESC FETCH FIRST 1 ROWS ONLY", sourceId);
            return rows.isEmpty() ? null : rows.get(0);
        }
    }

    private int update(String sql, Object... params) {
        try (Connection c = db.dataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            c.setAutoCommit(true);
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            return ps.executeUpdate();
        } catch (SQLException e) {
            LOG.warn("Backfill: cannot record its progress: {}", e.getMessage());
            return 0;
        }
    }

    private synchronized ExecutorService executor() {
        if (executor == null) {
            executor = context.getExecutorServiceManager().newSingleThreadExecutor(this, "backfills");
        }
        return executor;
    }
}
