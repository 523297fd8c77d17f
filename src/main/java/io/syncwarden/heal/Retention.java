package io.syncwarden.heal;

import static io.syncwarden.sync.SyncRuns.utc;

import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daily clean-up (route {@code retention}): control rows older than {@code months} (13 by default, so a year can be
 * compared with the one before) are deleted, in batches of {@code batch} rows, each batch its own transaction so a big
 * first clean-up never holds long locks: runs and their failures, rejected rows, watchdog reports, resolved incidents
 * with their history and alerts; and retry entries that ended more than {@code retryKeepDays} ago. What is still in
 * use is never removed: a running run, the last run of a source, a run a checkpoint, an open incident or a live retry
 * entry points at, the last good run that recorded the upstream's columns (the schema guard's baseline), an open
 * incident. Every node runs it (Quartz is not clustered yet): the deletes are idempotent and taken in key order.
 */
public class Retention {
    private static final Logger LOG = LoggerFactory.getLogger(Retention.class);

    private final TargetDatabase db;
    private final int months;
    private final int retryKeepDays;
    private final int batch;
    private volatile Clock clock = Clock.systemUTC();

    public Retention(TargetDatabase db, int months, int retryKeepDays, int batch) {
        if (months < 1 || retryKeepDays < 1 || batch < 1) {
            throw new IllegalArgumentException("syncwarden.retention: months, retry-queue.keep-days and batch must be >= 1; were "
                    + months + ", " + retryKeepDays + ", " + batch);
        }
        this.db = db;
        this.months = months;
        this.retryKeepDays = retryKeepDays;
        this.batch = batch;
    }

    public void clock(Clock clock) {
        this.clock = clock;
    }

    /** One clean-up; the rows removed per table (also logged). */
    public Map<String, Long> run() throws SQLException {
        Instant now = clock.instant();
        Instant cutoff = now.atOffset(ZoneOffset.UTC).minusMonths(months).toInstant();
        Instant retryCutoff = now.minus(java.time.Duration.ofDays(retryKeepDays));
        Map<String, Long> removed = new LinkedHashMap<>();
        // children first: a crash half-way leaves nothing pointing at a removed row
        removed.put("failure_log", delete("failure_log", "failure_id", "occurred_at < ?", cutoff));
        removed.put("rejected_row", delete("rejected_row", "rejected_id", "rejected_at < ?", cutoff));
        removed.put("sync_run", delete("sync_run", "run_id", "started_at < ? AND status <> 'running' "
                + "AND run_id NOT IN (SELECT last_run_id FROM source_health WHERE last_run_id IS NOT NULL) "
                + "AND run_id NOT IN (SELECT run_id FROM sync_checkpoint WHERE run_id IS NOT NULL) "
                + "AND run_id NOT IN (SELECT run_id FROM source_lock) "
                + "AND run_id NOT IN (SELECT run_id FROM incident WHERE open_key IS NOT NULL AND run_id IS NOT NULL) "
                + "AND run_id NOT IN (SELECT first_run_id FROM retry_queue WHERE active_source IS NOT NULL AND first_run_id IS NOT NULL) "
                + "AND run_id NOT IN (SELECT last_run_id FROM retry_queue WHERE active_source IS NOT NULL AND last_run_id IS NOT NULL) "
                // the schema guard's baseline: each source's last good run that recorded the upstream's columns
                + "AND run_id NOT IN (SELECT MAX(run_id) FROM sync_run WHERE status = 'success' AND upstream_columns IS NOT NULL "
                + "GROUP BY source_id)", cutoff));
        removed.put("watchdog_report", delete("watchdog_report", "report_id", "taken_at < ?", cutoff));
        removed.put("audit_log", delete("audit_log", "audit_id", "at < ?", cutoff));
        String oldResolved = "SELECT incident_id FROM incident WHERE status = 'resolved' AND resolved_at < ?";
        removed.put("alert_log", delete("alert_log", "alert_id", "incident_id IN (" + oldResolved + ")", cutoff));
        removed.put("incident_event", delete("incident_event", "event_id", "incident_id IN (" + oldResolved + ")", cutoff));
        removed.put("incident", delete("incident", "incident_id", "status = 'resolved' AND resolved_at < ?", cutoff));
        removed.put("retry_queue", delete("retry_queue", "retry_id", "status IN ('done', 'failed', 'cancelled') "
                + "AND COALESCE(finished_at, updated_at) < ?", retryCutoff));
        long total = removed.values().stream().mapToLong(Long::longValue).sum();
        LOG.info("Retention: removed {} row(s) older than {} ({} months; ended retry entries: {} days): {}", total, cutoff,
                months, retryKeepDays, removed);
        return removed;
    }

    /** Deletes the matching rows in batches, each committed on its own; how many. */
    private long delete(String table, String key, String where, Instant before) throws SQLException {
        long total = 0;
        String sql = "DELETE FROM " + table + " WHERE " + key + " IN (SELECT " + key + " FROM " + table + " WHERE " + where
                + " ORDER BY " + key + " FETCH FIRST " + batch + " ROWS ONLY)"; // in key order: nodes cleaning at once do not deadlock
        try (Connection c = db.dataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            c.setAutoCommit(true);
            while (true) {
                ps.setObject(1, utc(before));
                int n = ps.executeUpdate();
                total += n;
                if (n < batch) {
                    return total;
                }
                if (total % (batch * 50L) == 0) {
                    LOG.info("Retention: {} rows of {} removed so far", total, table);
                }
            }
        }
    }
}
