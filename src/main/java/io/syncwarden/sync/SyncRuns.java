package io.syncwarden.sync;

import io.syncwarden.heal.ErrorClass;
import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Run lifecycle: opens a run record under the source's lock, closes it with its counts, and keeps
 * {@code source_health} current. The lock is a {@code source_lock} row with a lease renewed at every
 * committed batch, so a run whose node died is taken over once its lease has run out, never while it lives.
 */
public class SyncRuns {
    private static final Logger LOG = LoggerFactory.getLogger(SyncRuns.class);

    private final TargetDatabase db;
    private final SyncSettings settings;
    private final SyncMetrics metrics;

    public SyncRuns(TargetDatabase db, SyncSettings settings, SyncMetrics metrics) {
        this.db = db;
        this.settings = settings;
        this.metrics = metrics;
    }

    public TargetDatabase database() {
        return db;
    }

    public SyncSettings settings() {
        return settings;
    }

    /** Opens a run and takes the lock; a run refused because another holds the lock is recorded as {@code refused}. */
    public RunContext begin(String sourceId, String kind, String trigger) throws SQLException {
        Instant now = Instant.now();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            long runId;
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO sync_run (source_id, source_kind, run_trigger, status, node_id, started_at) VALUES (?, ?, ?, 'running', ?, ?)",
                    new String[] {"run_id"})) {
                ps.setString(1, sourceId);
                ps.setString(2, kind);
                ps.setString(3, trigger);
                ps.setString(4, settings.nodeId());
                ps.setObject(5, utc(now));
                ps.executeUpdate();
                try (ResultSet keys = ps.getGeneratedKeys()) {
                    keys.next();
                    runId = keys.getLong(1);
                }
            }
            String holder = acquireLock(c, sourceId, runId, now);
            RunContext run = new RunContext(runId, sourceId, kind, trigger, now);
            if (holder != null) {
                String why = "refused: " + holder;
                try (PreparedStatement ps = c.prepareStatement(
                        "UPDATE sync_run SET status = 'refused', finished_at = ?, duration_ms = 0, error_message = ? WHERE run_id = ?")) {
                    ps.setObject(1, utc(Instant.now()));
                    ps.setString(2, why);
                    ps.setLong(3, runId);
                    ps.executeUpdate();
                }
                LOG.info("Sync {} run {} ({}) {}", sourceId, runId, trigger, why);
                metrics.run(sourceId, "refused", 0);
                return null;
            }
            LOG.debug("Sync {} run {} started ({}) on {}", sourceId, runId, trigger, settings.nodeId());
            return run;
        }
    }

    /** Returns null when the lock was taken, or a description of the live holder. */
    private String acquireLock(Connection c, String sourceId, long runId, Instant now) throws SQLException {
        Instant leaseUntil = now.plusMillis(settings.leaseMillis());
        Long previousRun = null;
        try (PreparedStatement ps = c.prepareStatement("SELECT run_id, node_id, lease_until FROM source_lock WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    OffsetDateTime lease = rs.getObject(3, OffsetDateTime.class);
                    if (lease.toInstant().isAfter(now)) {
                        return "run " + rs.getLong(1) + " on node " + rs.getString(2) + " holds the lock until " + lease.toInstant();
                    }
                    previousRun = rs.getLong(1);
                }
            }
        }
        if (previousRun != null) {
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE source_lock SET run_id = ?, node_id = ?, acquired_at = ?, heartbeat_at = ?, lease_until = ? WHERE source_id = ? AND run_id = ? AND lease_until < ?")) {
                ps.setLong(1, runId);
                ps.setString(2, settings.nodeId());
                ps.setObject(3, utc(now));
                ps.setObject(4, utc(now));
                ps.setObject(5, utc(leaseUntil));
                ps.setString(6, sourceId);
                ps.setLong(7, previousRun);
                ps.setObject(8, utc(now));
                if (ps.executeUpdate() == 0) {
                    return "another run took the expired lock first";
                }
            }
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE sync_run SET status = 'abandoned', finished_at = ?, error_message = ? WHERE run_id = ? AND status = 'running'")) {
                ps.setObject(1, utc(now));
                ps.setString(2, "lease expired; lock taken over by run " + runId);
                ps.setLong(3, previousRun);
                ps.executeUpdate();
            }
            LOG.warn("Sync {}: run {} lost its lease (its node stopped or hung); run {} takes over", sourceId, previousRun, runId);
            return null;
        }
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO source_lock (source_id, run_id, node_id, acquired_at, heartbeat_at, lease_until) VALUES (?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, sourceId);
            ps.setLong(2, runId);
            ps.setString(3, settings.nodeId());
            ps.setObject(4, utc(now));
            ps.setObject(5, utc(now));
            ps.setObject(6, utc(leaseUntil));
            ps.executeUpdate();
            return null;
        } catch (SQLException e) {
            if (e.getSQLState() != null && e.getSQLState().startsWith("23")) {
                return "another run took the lock at the same moment";
            }
            throw e;
        }
    }

    /**
     * Heartbeat outside a batch, while a run waits (an upstream's rate limit): the wait must not let the lease lapse
     * and hand the source to another run. Extends the lease to cover {@code waitMillis} as well.
     */
    public void renewLease(RunContext run, long waitMillis) throws SQLException {
        Instant now = Instant.now();
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "UPDATE source_lock SET heartbeat_at = ?, lease_until = ? WHERE source_id = ? AND run_id = ?")) {
            ps.setObject(1, utc(now));
            ps.setObject(2, utc(now.plusMillis(settings.leaseMillis() + Math.max(0, waitMillis))));
            ps.setString(3, run.sourceId());
            ps.setLong(4, run.runId());
            ps.executeUpdate();
        }
    }

    /** Heartbeat inside a batch transaction; throws when the lease was lost, so the batch rolls back. */
    public void renewLease(Connection c, RunContext run) throws SQLException {
        Instant now = Instant.now();
        try (PreparedStatement ps = c.prepareStatement(
                "UPDATE source_lock SET heartbeat_at = ?, lease_until = ? WHERE source_id = ? AND run_id = ?")) {
            ps.setObject(1, utc(now));
            ps.setObject(2, utc(now.plusMillis(settings.leaseMillis())));
            ps.setString(3, run.sourceId());
            ps.setLong(4, run.runId());
            if (ps.executeUpdate() == 0) {
                throw new IllegalStateException("Sync " + run.sourceId() + " run " + run.runId()
                        + " lost its lock (lease expired and taken over); stopping without writing this batch");
            }
        }
    }

    public void complete(RunContext run) throws SQLException {
        Instant now = Instant.now();
        long duration = now.toEpochMilli() - run.startedAt().toEpochMilli();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            closeRun(c, run, run.outcome(), null, null, now, duration);
            updateHealth(c, run, true, null, now);
            releaseLock(c, run);
            c.commit();
        }
        metrics.rows(run);
        metrics.run(run.sourceId(), run.outcome(), duration);
        LOG.info("Sync {} run {} {}: trigger={} mode={} read={} inserted={} updated={} unchanged={} rejected={} skipped={}{} in {} ms",
                run.sourceId(), run.runId(), run.outcome(), run.trigger(), run.mode(), run.read(), run.inserted(),
                run.updated(), run.unchanged(), run.rejected(), run.skipped(),
                run.resumedFrom() != null ? " resumedFrom=" + run.resumedFrom() : "", duration);
    }

    /** Called by the shared error handling once redelivery is exhausted (or not allowed). */
    public void fail(Exchange exchange) throws SQLException {
        Throwable error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        String message = describe(error);
        if (run == null) {
            LOG.error("Sync {} could not start: {}", exchange.getFromRouteId(), message);
            return;
        }
        String errorClass = ErrorClass.of(error);
        Instant now = Instant.now();
        long duration = now.toEpochMilli() - run.startedAt().toEpochMilli();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            closeRun(c, run, "failed", errorClass, message, now, duration);
            updateHealth(c, run, false, message, now);
            try (PreparedStatement ps = c.prepareStatement(
                    "INSERT INTO failure_log (source_id, run_id, attempt, error_class, exception, error_message, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, run.sourceId());
                ps.setLong(2, run.runId());
                ps.setInt(3, Math.max(1, run.attempts()));
                ps.setString(4, errorClass);
                ps.setString(5, truncate(error == null ? "unknown" : error.getClass().getName(), 300));
                ps.setString(6, truncate(message, 4000));
                ps.setObject(7, utc(now));
                ps.executeUpdate();
            }
            releaseLock(c, run);
            c.commit();
        }
        metrics.rows(run);
        metrics.run(run.sourceId(), "failed", duration);
        LOG.error("Sync {} run {} failed after {} attempt(s) ({}): read={} inserted={} updated={} rejected={}; {}",
                run.sourceId(), run.runId(), Math.max(1, run.attempts()), errorClass, run.read(), run.inserted(), run.updated(),
                run.rejected(), message);
    }

    /** Makes sure a source has a health row ({@code unknown} until its first run). */
    public void register(String sourceId, String kind) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT 1 FROM source_health WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return;
                }
            }
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO source_health (source_id, source_kind, status, updated_at) VALUES (?, ?, 'unknown', ?)")) {
                ins.setString(1, sourceId);
                ins.setString(2, kind);
                ins.setObject(3, utc(Instant.now()));
                ins.executeUpdate();
            } catch (SQLException e) {
                if (e.getSQLState() == null || !e.getSQLState().startsWith("23")) {
                    throw e;
                }
            }
        }
    }

    private void closeRun(Connection c, RunContext run, String status, String errorClass, String message,
                          Instant now, long duration) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE sync_run SET status = ?, mode = ?, rows_read = ?, rows_inserted = ?, "
                + "rows_updated = ?, rows_unchanged = ?, rows_rejected = ?, rows_skipped = ?, resumed_from = ?, attempts = ?, "
                + "finished_at = ?, duration_ms = ?, error_class = ?, error_message = ? WHERE run_id = ?")) {
            ps.setString(1, status);
            ps.setString(2, run.mode());
            ps.setLong(3, run.read());
            ps.setLong(4, run.inserted());
            ps.setLong(5, run.updated());
            ps.setLong(6, run.unchanged());
            ps.setLong(7, run.rejected());
            ps.setLong(8, run.skipped());
            ps.setString(9, truncate(run.resumedFrom(), 4000));
            ps.setInt(10, Math.max(1, run.attempts()));
            ps.setObject(11, utc(now));
            ps.setLong(12, duration);
            ps.setString(13, errorClass);
            ps.setString(14, truncate(message, 4000));
            ps.setLong(15, run.runId());
            ps.executeUpdate();
        }
    }

    private void updateHealth(Connection c, RunContext run, boolean success, String error, Instant now) throws SQLException {
        int failures = 0;
        try (PreparedStatement ps = c.prepareStatement("SELECT consecutive_failures FROM source_health WHERE source_id = ?")) {
            ps.setString(1, run.sourceId());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    failures = rs.getInt(1);
                } else {
                    try (PreparedStatement ins = c.prepareStatement(
                            "INSERT INTO source_health (source_id, source_kind, status, updated_at) VALUES (?, ?, 'unknown', ?)")) {
                        ins.setString(1, run.sourceId());
                        ins.setString(2, run.kind());
                        ins.setObject(3, utc(now));
                        ins.executeUpdate();
                    }
                }
            }
        }
        failures = success ? 0 : failures + 1;
        String status = success ? "healthy" : failures >= settings.unhealthyAfterFailures() ? "unhealthy" : "degraded";
        String sql = success
                ? "UPDATE source_health SET status = ?, consecutive_failures = ?, last_run_id = ?, last_run_status = ?, last_success_at = ?, last_row_count = ?, last_error = NULL, updated_at = ? WHERE source_id = ?"
                : "UPDATE source_health SET status = ?, consecutive_failures = ?, last_run_id = ?, last_run_status = ?, last_failure_at = ?, last_error = ?, updated_at = ? WHERE source_id = ?";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, status);
            ps.setInt(2, failures);
            ps.setLong(3, run.runId());
            ps.setString(4, success ? run.outcome() : "failed");
            ps.setObject(5, utc(now));
            if (success) {
                ps.setLong(6, run.read());
            } else {
                ps.setString(6, truncate(error, 4000));
            }
            ps.setObject(7, utc(now));
            ps.setString(8, run.sourceId());
            ps.executeUpdate();
        }
    }

    private void releaseLock(Connection c, RunContext run) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM source_lock WHERE source_id = ? AND run_id = ?")) {
            ps.setString(1, run.sourceId());
            ps.setLong(2, run.runId());
            ps.executeUpdate();
        }
    }

    public static String describe(Throwable error) {
        if (error == null) {
            return "unknown error";
        }
        StringBuilder sb = new StringBuilder(error.getClass().getSimpleName()).append(": ").append(error.getMessage());
        if (error instanceof org.apache.camel.http.base.HttpOperationFailedException http) {
            sb = new StringBuilder("HTTP ").append(http.getStatusCode()).append(' ').append(http.getStatusText())
                    .append(http.getStatusCode() == 401 || http.getStatusCode() == 403
                            ? " (the upstream rejected the credentials: check the key/secret)" : "")
                    .append(" from ").append(http.getUri().replaceAll("\\?.*", ""))
                    .append(upstreamError(http.getResponseBody()));
        }
        Throwable google = error;
        while (google != null && !(google instanceof com.google.api.client.http.HttpResponseException)) {
            google = google.getCause();
        }
        if (google instanceof com.google.api.client.http.HttpResponseException g) {
            // its message carries the whole response; keep the status and the API's own words
            return "HTTP " + g.getStatusCode() + " " + (g.getStatusMessage() == null ? "" : g.getStatusMessage())
                    + (g.getStatusCode() == 401 || g.getStatusCode() == 403
                    ? " (the upstream rejected the credentials or their access to this document)" : "")
                    + " from Google" + googleError(g);
        }
        Throwable cause = error.getCause();
        for (int depth = 0; cause != null && cause != error && depth < 3; depth++, cause = cause.getCause()) {
            sb.append(" <- ").append(cause.getClass().getSimpleName()).append(": ").append(cause.getMessage());
        }
        return sb.toString();
    }

    /** The upstream's own words from a JSON error body ({@code error.code}/{@code status} and {@code message}). */
    static String upstreamError(String body) {
        if (body == null || body.isBlank() || !body.trim().startsWith("{")) {
            return "";
        }
        try {
            com.fasterxml.jackson.databind.JsonNode error = ERROR_JSON.readTree(body).path("error");
            String code = error.path("code").isTextual() ? error.path("code").asText() : error.path("status").asText("");
            String message = error.path("message").asText("");
            return code.isEmpty() && message.isEmpty() ? "" : ": " + truncate((code + " " + message).trim(), 300);
        } catch (Exception e) {
            return "";
        }
    }

    private static String googleError(com.google.api.client.http.HttpResponseException g) {
        if (g instanceof com.google.api.client.googleapis.json.GoogleJsonResponseException j && j.getDetails() != null) {
            Object status = j.getDetails().get("status");
            String message = j.getDetails().getMessage();
            return ": " + truncate(((status == null ? "" : status + " ") + (message == null ? "" : message)).trim(), 300);
        }
        return upstreamError(g.getContent());
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper ERROR_JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    static OffsetDateTime utc(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC);
    }

    static String truncate(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }
}
