package io.syncwarden.heal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncwarden.source.SyncSource;
import io.syncwarden.sync.SourceRegistry;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncTrigger;
import io.syncwarden.sync.TargetTable;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import org.apache.camel.CamelContext;
import org.apache.camel.ServiceStatus;
import org.quartz.CronExpression;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The watchdog's pass (the {@code watchdog} route, Quartz, every 5 minutes by default): for every started source it
 * checks freshness against the source's SLA, recent failed runs and the target's row count, acts where a person
 * would, and writes the pass down as a {@code watchdog_report}.
 *
 * <p>Freshness: the age of the last successful run against the SLA ({@code freshnessSla} in the source's instance;
 * by default 5 intervals of its schedule for a sheet, 10 minutes for a 2-minute sheet, and 3 intervals for the other
 * kinds). Severity {@code warning} from 1x to 2x the SLA, {@code high} to 4x, {@code critical} above.
 *
 * <p>The ladder for a stale source: paused, breaker open or rate limited -> that is the reason, the recovery probe
 * works on it; a run holding the lock -> it is running; last run failed non-recoverably or refused -> no blind
 * re-fire, the incident says why; otherwise its sync is fired again (trigger {@code watchdog}). A {@code stale}
 * incident follows the severity (opened, escalated) and is resolved when the source is fresh again. A target table
 * that is empty while the source's last good run had rows gets an emergency full sync (the guards still apply) and
 * an {@code empty_target} incident.
 */
public class Watchdog {
    private static final Logger LOG = LoggerFactory.getLogger(Watchdog.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String STALE = "stale";
    static final String EMPTY_TARGET = "empty_target";

    private final SyncRuns runs;
    private final Incidents incidents;
    private final CamelContext context;
    private volatile Clock clock = Clock.systemUTC();

    public Watchdog(SyncRuns runs, Incidents incidents, CamelContext context) {
        this.runs = runs;
        this.incidents = incidents;
        this.context = context;
    }

    /** The clock the watchdog judges ages by (tests move it; the service uses the system clock). */
    public void clock(Clock clock) {
        this.clock = clock;
    }

    /** {@code ok}, or how late a source is: warning (1-2x the SLA), high (2-4x), critical (above 4x). */
    static String severity(Duration age, Duration sla) {
        if (age.compareTo(sla) <= 0) {
            return "ok";
        }
        if (age.compareTo(sla.multipliedBy(2)) <= 0) {
            return "warning";
        }
        return age.compareTo(sla.multipliedBy(4)) <= 0 ? "high" : "critical";
    }

    /**
     * A source's freshness SLA: the configured one ({@code PT10M}, {@code 10m}, {@code 90s}), else 5 intervals of its
     * schedule for a sheet and 3 for the others (the interval between its cron's next two fire times).
     */
    static Duration freshnessSla(String kind, String cron, String configured, Instant now) {
        if (configured != null && !configured.isBlank()) {
            return io.syncwarden.source.JdbcSource.duration(configured);
        }
        Duration interval = Duration.ofHours(6);
        if (cron != null && !cron.isBlank()) {
            try {
                CronExpression expression = new CronExpression(cron);
                Date first = expression.getNextValidTimeAfter(Date.from(now));
                Date second = first == null ? null : expression.getNextValidTimeAfter(first);
                if (second != null) {
                    interval = Duration.ofMillis(second.getTime() - first.getTime());
                }
            } catch (ParseException e) {
                LOG.debug("Watchdog: cron '{}' does not parse: {}", cron, e.getMessage());
            }
        }
        return interval.multipliedBy("google-sheets".equals(kind) ? 5 : 3);
    }

    /** One pass; returns the ids of the sources whose sync it fires again (the route hands them to watchdog-runs). */
    public List<String> pass() throws SQLException {
        long started = System.nanoTime();
        Instant now = clock.instant();
        ObjectNode report = JSON.createObjectNode();
        ObjectNode checks = report.putObject("checks");
        ArrayNode actions = report.putArray("actions");
        List<String> refire = new ArrayList<>();
        String overall = "healthy";
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(true);
            SourceRegistry registry = context.getRegistry().findSingleByType(SourceRegistry.class);
            for (SourceRegistry.Source source : registry == null ? List.<SourceRegistry.Source>of() : registry.sources()) {
                ServiceStatus status = context.getRouteController().getRouteStatus(source.id());
                if (status == null || !status.isStarted()) {
                    continue; // a source switched off has no schedule to keep
                }
                String worst = check(c, source, now, checks.putObject(source.id()), actions, refire);
                overall = worse(overall, worst);
            }
        }
        report.put("overall", overall);
        report.put("takenAt", now.toString());
        report.put("durationMs", (System.nanoTime() - started) / 1_000_000);
        save(report, now);
        if (!refire.isEmpty() || !"healthy".equals(overall)) {
            LOG.info("Watchdog: {}; actions {}", overall, actions);
        }
        return refire;
    }

    /** Fires a source's sync for the watchdog (on the watchdog-runs route's thread, never the pass's). */
    public void refire(String sourceId) throws Exception {
        SyncTrigger.Result result = new SyncTrigger(context).fire(sourceId, "watchdog");
        LOG.info("Watchdog: sync of {} fired again: {}", sourceId, result.status());
    }

    /** The latest report as JSON, or null before the first pass. */
    public String latestReport() throws SQLException {
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT report FROM watchdog_report ORDER BY report_id DESC FETCH FIRST 1 ROWS ONLY");
             ResultSet rs = ps.executeQuery()) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private String check(Connection c, SourceRegistry.Source source, Instant now, ObjectNode check, ArrayNode actions,
                         List<String> refire) throws SQLException {
        String id = source.id();
        Facts f = facts(c, id, now);
        Object cron = source.parameters().get("cron");
        Object configured = source.parameters().get("freshnessSla");
        Duration sla = freshnessSla(source.kind(), cron == null ? null : cron.toString(),
                configured == null ? null : configured.toString(), now);

        ObjectNode lastSync = check.putObject("lastSync");
        String severity;
        if (f.lastSuccess == null) {
            lastSync.putNull("minutesAgo");
            lastSync.put("status", "UNKNOWN");
            severity = "ok"; // never synced: nothing to be late against yet (its failures show in its runs)
        } else {
            Duration age = Duration.between(f.lastSuccess, now);
            severity = severity(age, sla);
            lastSync.put("minutesAgo", age.toMinutes());
            lastSync.put("status", "ok".equals(severity) ? "OK" : severity.toUpperCase(Locale.ROOT));
        }
        lastSync.put("slaMinutes", sla.toMinutes());
        ObjectNode errors = check.putObject("recentErrors");
        errors.put("count", f.failedLastHour);
        errors.put("status", f.failedLastHour == 0 ? "OK" : "WARN");
        ObjectNode rows = check.putObject("rowCount");
        long total = targetRows(c, id);
        rows.put("total", total);
        boolean emptied = total == 0 && f.lastGoodCount > 0;
        rows.put("status", total < 0 ? "UNKNOWN" : emptied ? "EMPTY" : "OK");

        String worst = "ok".equals(severity) ? "healthy" : "critical".equals(severity) ? "unhealthy" : "degraded";
        if (emptied) {
            worst = worse(worst, "unhealthy");
            String reason = "target table is empty while the last good run read " + f.lastGoodCount + " rows";
            String blocked = blocked(f, now);
            incidents.open(id, EMPTY_TARGET, "high", reason + (blocked == null ? "; emergency full sync fired" : "; " + blocked), null, "watchdog");
            if (blocked == null && !f.running) {
                refire.add(id);
                action(actions, id, "emergency_sync", reason);
            } else {
                action(actions, id, "report", reason + "; " + (blocked != null ? blocked : "a run is active"));
            }
        } else if (total > 0) {
            resolve(c, id, EMPTY_TARGET, "the target table has rows again");
        }
        if ("ok".equals(severity)) {
            resolve(c, id, STALE, "fresh again");
            return worst;
        }
        String late = "no successful sync for " + Duration.between(f.lastSuccess, now).toMinutes() + " min (SLA "
                + sla.toMinutes() + " min)";
        String blocked = blocked(f, now);
        String reason;
        if (blocked != null) {
            reason = blocked + "; the recovery probe retries it";
            action(actions, id, "report", late + ": " + reason);
        } else if (f.running) {
            reason = "a run is active";
            action(actions, id, "report", late + ": " + reason);
        } else if (f.lastErrorClass != null && ("non_recoverable".equals(f.lastErrorClass) || f.lastStatus.startsWith("refused"))) {
            // firing again would fail the same way: a person has to look
            reason = "its last run " + f.lastStatus + " (" + f.lastErrorClass + "): " + (f.lastError == null ? "" : f.lastError);
            action(actions, id, "incident", late + ": " + reason);
        } else {
            reason = "sync fired again (trigger watchdog)";
            if (!emptied) {
                refire.add(id);
            }
            action(actions, id, "refire", late);
        }
        incidents.open(id, STALE, severity, late + "; " + reason, f.lastRunId, "watchdog");
        return worst;
    }

    /** Why the source cannot run now, as the ladder's reason; null when nothing holds it. */
    private String blocked(Facts f, Instant now) {
        if (f.paused) {
            return "paused: " + f.pausedReason;
        }
        if (f.notBefore != null && f.notBefore.isAfter(now)) {
            return "rate limited until " + f.notBefore;
        }
        if ("open".equals(f.circuit)) {
            return "its circuit breaker is open";
        }
        return null;
    }

    private void resolve(Connection c, String id, String kind, String note) throws SQLException {
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            incidents.resolve(c, id, kind, "watchdog", note);
            c.commit();
        } catch (SQLException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(auto);
        }
    }

    private static void action(ArrayNode actions, String source, String kind, String reason) {
        actions.addObject().put("source", source).put("action", kind).put("reason", reason);
    }

    private static String worse(String a, String b) {
        List<String> order = List.of("healthy", "degraded", "unhealthy");
        return order.indexOf(b) > order.indexOf(a) ? b : a;
    }

    /** What the control tables say of a source. */
    private record Facts(Instant lastSuccess, String lastStatus, String lastErrorClass, String lastError, Long lastRunId,
                         long lastGoodCount, boolean paused, String pausedReason, Instant notBefore, String circuit,
                         boolean running, long failedLastHour) {
    }

    private Facts facts(Connection c, String id, Instant now) throws SQLException {
        Instant lastSuccess = null;
        String lastStatus = null;
        String lastErrorClass = null;
        String lastError = null;
        Long lastRunId = null;
        long lastGood = 0;
        boolean paused = false;
        String pausedReason = null;
        Instant notBefore = null;
        String circuit = "closed";
        try (PreparedStatement ps = c.prepareStatement("SELECT h.last_success_at, h.last_run_status, r.error_class, h.last_error, "
                + "h.last_run_id, h.last_row_count, h.paused, h.paused_reason, h.not_before, h.circuit_state "
                + "FROM source_health h LEFT JOIN sync_run r ON r.run_id = h.last_run_id WHERE h.source_id = ?")) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    lastSuccess = instant(rs.getObject(1, OffsetDateTime.class));
                    lastStatus = rs.getString(2);
                    lastErrorClass = rs.getString(3);
                    lastError = rs.getString(4);
                    long run = rs.getLong(5);
                    lastRunId = rs.wasNull() ? null : run;
                    lastGood = rs.getLong(6);
                    paused = rs.getBoolean(7);
                    pausedReason = rs.getString(8);
                    notBefore = instant(rs.getObject(9, OffsetDateTime.class));
                    circuit = rs.getString(10);
                }
            }
        }
        boolean running;
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM source_lock WHERE source_id = ? AND lease_until > ?")) {
            ps.setString(1, id);
            ps.setObject(2, SyncRuns.utc(now));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                running = rs.getLong(1) > 0;
            }
        }
        long failed;
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM sync_run WHERE source_id = ? AND status = 'failed' "
                + "AND started_at > ?")) {
            ps.setString(1, id);
            ps.setObject(2, SyncRuns.utc(now.minus(Duration.ofHours(1))));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                failed = rs.getLong(1);
            }
        }
        return new Facts(lastSuccess, lastStatus == null ? "" : lastStatus, lastErrorClass, lastError, lastRunId, lastGood,
                paused, pausedReason, notBefore, circuit, running, failed);
    }

    /** Rows of the source's target table (not counting rows marked deleted); -1 when it cannot be told. */
    private long targetRows(Connection c, String id) {
        SyncSource source = SyncSource.of(context, id);
        if (source == null || source.target() == null || source.target().isBlank()) {
            return -1;
        }
        try {
            TargetTable table = TargetTable.existing(c, runs.database(), source.target());
            if (table == null) {
                return 0;
            }
            boolean marked = table.columnNames().contains(TargetTable.DELETED_AT);
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM " + table.qualified()
                    + (marked ? " WHERE " + table.quoted(TargetTable.DELETED_AT) + " IS NULL" : ""));
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Watchdog: cannot count the rows of {}'s target: {}", id, e.getMessage());
            return -1;
        }
    }

    private void save(ObjectNode report, Instant now) {
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("INSERT INTO watchdog_report (taken_at, overall, report) VALUES (?, ?, ?)")) {
            c.setAutoCommit(true);
            ps.setObject(1, SyncRuns.utc(now));
            ps.setString(2, report.get("overall").asText());
            ps.setString(3, report.toString());
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.warn("Watchdog: the report of this pass could not be written: {}", e.getMessage());
        }
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
