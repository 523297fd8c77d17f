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
    static final String ERROR_RATE = "error_rate";

    private final SyncRuns runs;
    private final Incidents incidents;
    private final CamelContext context;
    private volatile Clock clock = Clock.systemUTC();
    private volatile double errorRate = 0.5;
    private volatile int errorRateMinRuns = 4;
    /** Per source, as of the last pass: seconds since its last success, and its lateness (0 ok .. 3 critical). */
    private final java.util.Map<String, double[]> gauges = new java.util.concurrent.ConcurrentHashMap<>();
    /** Live retry entries (pending or running) as of the last pass. */
    private final double[] retryDepth = new double[1];
    /** Sources with a re-fire queued on watchdog-runs and not yet run: not queued again by a later pass. */
    private final java.util.Set<String> queued = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public Watchdog(SyncRuns runs, Incidents incidents, CamelContext context) {
        this.runs = runs;
        this.incidents = incidents;
        this.context = context;
    }

    /** The clock the watchdog judges ages by (tests move it; the service uses the system clock). */
    public void clock(Clock clock) {
        this.clock = clock;
    }

    /** An error-rate incident: more than {@code share} of at least {@code minRuns} runs of the last hour failed. */
    public void errorRate(double share, int minRuns) {
        if (share <= 0 || share > 1 || minRuns < 1) {
            throw new IllegalArgumentException("syncwarden.watchdog.error-rate must be in (0, 1] and "
                    + "syncwarden.watchdog.error-rate-min-runs >= 1, were " + share + " and " + minRuns);
        }
        this.errorRate = share;
        this.errorRateMinRuns = minRuns;
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
     * A source's freshness deadline after its last success {@code since}: the configured SLA ({@code PT10M},
     * {@code 10m}; at least a minute) after it, else the schedule's 3rd fire time after it (5th for a sheet), so a
     * schedule with gaps (office hours, weekdays) is judged by its own fires. Null when the schedule will not fire that
     * often again (a source run by hand): nothing is expected of it.
     */
    static Instant deadline(String kind, String cron, String configured, Instant since) {
        if (configured != null && !configured.isBlank()) {
            return since.plus(configuredSla(configured));
        }
        if (cron == null || cron.isBlank()) {
            return null;
        }
        try {
            CronExpression expression = new CronExpression(cron);
            Date at = Date.from(since);
            for (int i = 0; i < ("google-sheets".equals(kind) ? 5 : 3) && at != null; i++) {
                at = expression.getNextValidTimeAfter(at);
            }
            return at == null ? null : at.toInstant();
        } catch (ParseException e) {
            throw new IllegalArgumentException("cron '" + cron + "' does not parse: " + e.getMessage());
        }
    }

    /** A configured SLA, at least one minute. */
    public static Duration configuredSla(String configured) {
        Duration sla = io.syncwarden.source.JdbcSource.duration(configured);
        if (sla.compareTo(Duration.ofMinutes(1)) < 0) {
            throw new IllegalArgumentException("freshnessSla '" + configured + "' is shorter than a minute (a bare number is "
                    + "milliseconds: write 30m or PT30M)");
        }
        return sla;
    }

    /** The SLA as a duration, for reports and the unit tests: the deadline's distance from {@code since}. */
    static Duration freshnessSla(String kind, String cron, String configured, Instant since) {
        Instant deadline = deadline(kind, cron, configured, since);
        return deadline == null ? null : Duration.between(since, deadline);
    }

    /** One pass; returns the ids of the sources whose sync it fires again (the route hands them to watchdog-runs). */
    public List<String> pass() {
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
                ObjectNode check = checks.putObject(source.id());
                try {
                    overall = worse(overall, check(c, source, now, check, actions, refire));
                } catch (SQLException | RuntimeException e) {
                    // one source that cannot be judged does not stop the pass over the others
                    check.put("error", SyncRuns.truncate(FailureText.describe(e), 300));
                    overall = worse(overall, "degraded");
                    LOG.warn("Watchdog: source {} could not be checked: {}", source.id(), e.getMessage());
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM retry_queue WHERE status IN ('pending', 'running')");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                retryDepth[0] = rs.getLong(1);
            }
        } catch (SQLException e) {
            report.put("error", "the target database did not answer: " + SyncRuns.truncate(FailureText.describe(e), 300));
            overall = "unhealthy";
            LOG.warn("Watchdog: no pass, the target database did not answer: {}", e.getMessage());
        } finally {
            report.put("overall", overall);
            report.put("takenAt", now.toString());
            report.put("durationMs", (System.nanoTime() - started) / 1_000_000);
            save(report, now, "pass");
        }
        if (!refire.isEmpty() || !"healthy".equals(overall)) {
            LOG.info("Watchdog: {}; actions {}", overall, actions);
        }
        refire.removeIf(id -> !queued.add(id)); // one queued re-fire per source until it has run
        measure(actions, System.nanoTime() - started);
        return refire;
    }

    /**
     * The pass in Prometheus terms: {@code syncwarden_freshness_age_seconds{source}} and
     * {@code syncwarden_staleness_severity{source}} (0 ok, 1 warning, 2 high, 3 critical) as of the last pass,
     * {@code syncwarden_watchdog_pass_duration_seconds} and {@code syncwarden_watchdog_actions_total{action}}.
     */
    private void measure(ArrayNode actions, long nanos) {
        io.micrometer.core.instrument.MeterRegistry meters = context.getRegistry()
                .findSingleByType(io.micrometer.core.instrument.MeterRegistry.class);
        if (meters == null) {
            return;
        }
        io.micrometer.core.instrument.Timer.builder("syncwarden.watchdog.pass.duration").description("Duration of watchdog passes")
                .register(meters).record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        for (com.fasterxml.jackson.databind.JsonNode action : actions) {
            io.micrometer.core.instrument.Counter.builder("syncwarden.watchdog.actions").description("Actions the watchdog took, by kind")
                    .tag("action", action.get("action").asText()).register(meters).increment();
        }
        io.micrometer.core.instrument.Gauge.builder("syncwarden.retry.queue.depth", retryDepth, v -> v[0])
                .description("Live retry entries (pending or running), as of the last watchdog pass").register(meters);
        gauges.forEach((source, values) -> {
            io.micrometer.core.instrument.Gauge.builder("syncwarden.freshness.age.seconds", values, v -> v[0])
                    .description("Seconds since the source's last successful sync, as of the last watchdog pass (-1: never)")
                    .tag("source", source).register(meters);
            io.micrometer.core.instrument.Gauge.builder("syncwarden.staleness.severity", values, v -> v[1])
                    .description("How late the source is: 0 ok, 1 warning, 2 high, 3 critical")
                    .tag("source", source).register(meters);
        });
    }

    /** Fires a source's sync for the watchdog (on the watchdog-runs route's thread, never the pass's). */
    public void refire(String sourceId) throws Exception {
        try {
            ServiceStatus status = context.getRouteController().getRouteStatus(sourceId);
            if (status == null || !status.isStarted()) {
                return; // switched off since the pass
            }
            SyncTrigger.Result result = new SyncTrigger(context).fire(sourceId, "watchdog");
            LOG.info("Watchdog: sync of {} fired again: {}", sourceId, result.status());
        } finally {
            queued.remove(sourceId);
        }
    }

    /** A source's freshness now: its last success, when it is due, how late (ok, warning, high, critical). */
    public record Freshness(Instant lastSuccess, Instant due, String severity, long targetRows, long lastGoodCount,
                            String lastStatus, String lastErrorClass, Instant retryAt, boolean paused) {
    }

    /** Judges one source now, as a pass would (nothing is recorded or fired); the operations API shows it. */
    public Freshness freshness(SourceRegistry.Source source) throws SQLException {
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(true);
            Facts f = facts(c, source.id());
            Instant now = clock.instant();
            Instant since = f.lastSuccess != null ? f.lastSuccess : f.firstRun;
            Instant deadline = since == null ? null : deadline(source.kind(), parameter(source, "cron"),
                    parameter(source, "freshnessSla"), since);
            String severity = deadline == null ? "ok" : severity(Duration.between(since, now), Duration.between(since, deadline));
            return new Freshness(f.lastSuccess, deadline, severity, targetRows(c, source.id()), f.lastGoodCount,
                    f.lastStatus.isEmpty() ? null : f.lastStatus, f.lastErrorClass, f.retryAt, f.paused);
        }
    }

    /** The latest pass's report as JSON, or null before the first pass. */
    public String latestReport() throws SQLException {
        return latest("pass");
    }

    /** The latest resilient full sync's report as JSON, or null before the first. */
    public String latestFullSync() throws SQLException {
        return latest("full_sync");
    }

    private String latest(String kind) throws SQLException {
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT report FROM watchdog_report WHERE kind = ? ORDER BY report_id DESC "
                     + "FETCH FIRST 1 ROWS ONLY")) {
            ps.setString(1, kind);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /**
     * The resilient full sync (route {@code resilient-full-sync}, every 6 hours): every started source's sync is run
     * (trigger {@code full_sync}), one after the other, through its route with its retries and guards; then its health
     * is verified (the target's rows against the last good run's count, freshness within the SLA) and the result is
     * written as a {@code full_sync} report. A source that is paused, rate limited or running is reported as such.
     */
    public String fullSync() {
        long started = System.nanoTime();
        ObjectNode report = JSON.createObjectNode();
        report.put("kind", "full_sync");
        ObjectNode sources = report.putObject("sources");
        String overall = "healthy";
        SourceRegistry registry = context.getRegistry().findSingleByType(SourceRegistry.class);
        for (SourceRegistry.Source source : registry == null ? List.<SourceRegistry.Source>of() : registry.sources()) {
            ServiceStatus status = context.getRouteController().getRouteStatus(source.id());
            if (status == null || !status.isStarted()) {
                continue;
            }
            ObjectNode entry = sources.putObject(source.id());
            try {
                SyncTrigger.Result result = new SyncTrigger(context).fire(source.id(), "full_sync");
                entry.put("run", result.runId() == null ? null : result.runId());
                entry.put("status", result.status());
                if (result.error() != null) {
                    entry.put("error", SyncRuns.truncate(FailureText.describe(result.error()), 300));
                }
                String health = verify(source, entry);
                if ("refused".equals(result.status())) {
                    entry.put("note", "a run of the source was going already (this node's or another's): verified as it stands");
                } else if (!"success".equals(result.status()) && !"empty".equals(result.status())) {
                    health = worse(health, "degraded"); // the run did not go through, whatever the table still holds
                    entry.put("health", health);
                }
                overall = worse(overall, health);
            } catch (Exception e) {
                entry.put("error", SyncRuns.truncate(FailureText.describe(e), 300));
                overall = worse(overall, "unhealthy");
            }
        }
        Instant now = clock.instant();
        report.put("overall", overall);
        report.put("takenAt", now.toString());
        report.put("durationMs", (System.nanoTime() - started) / 1_000_000);
        save(report, now, "full_sync");
        LOG.info("Resilient full sync: {} in {} ms: {}", overall, (System.nanoTime() - started) / 1_000_000, sources);
        return report.toString();
    }

    /** After a full-sync run: the target's rows and freshness; the source's state (healthy, degraded, unhealthy). */
    private String verify(SourceRegistry.Source source, ObjectNode entry) throws SQLException {
        Freshness f = freshness(source); // judged as the pass and the API judge it
        long total = f.targetRows();
        ObjectNode rows = entry.putObject("rowCount");
        rows.put("total", total);
        rows.put("lastGoodRun", f.lastGoodCount());
        boolean rowsOk = total >= 0 && (f.lastGoodCount() == 0 || total > 0);
        rows.put("status", total < 0 ? "UNKNOWN" : rowsOk ? "OK" : "EMPTY");
        ObjectNode fresh = entry.putObject("freshness");
        fresh.put("minutesAgo", f.lastSuccess() == null ? null : Duration.between(f.lastSuccess(), clock.instant()).toMinutes());
        fresh.put("status", "ok".equals(f.severity()) ? "OK" : f.severity().toUpperCase(Locale.ROOT));
        String state = !rowsOk || "critical".equals(f.severity()) ? "unhealthy" : "ok".equals(f.severity()) ? "healthy" : "degraded";
        entry.put("health", state);
        return state;
    }

    private String check(Connection c, SourceRegistry.Source source, Instant now, ObjectNode check, ArrayNode actions,
                         List<String> refire) throws SQLException {
        String id = source.id();
        Long stuck = runs.releaseExpired(id);
        if (stuck != null) {
            // its node died or hung: the run is closed, the lock free, the sync fired again
            action(actions, id, "release_stuck_run", "run " + stuck + " outlived its lease: closed as abandoned, lock released");
        }
        Facts f = facts(c, id);
        String cron = parameter(source, "cron");
        String configured = parameter(source, "freshnessSla");
        // a source that never succeeded is judged from its first run (none yet: nothing to be late against)
        Instant since = f.lastSuccess != null ? f.lastSuccess : f.firstRun;
        Instant deadline = since == null ? null : deadline(source.kind(), cron, configured, since);

        ObjectNode lastSync = check.putObject("lastSync");
        String severity = "ok";
        if (f.lastSuccess == null) {
            lastSync.putNull("minutesAgo");
        } else {
            lastSync.put("minutesAgo", Duration.between(f.lastSuccess, now).toMinutes());
        }
        if (deadline != null) {
            severity = severity(Duration.between(since, now), Duration.between(since, deadline));
            lastSync.put("slaMinutes", Duration.between(since, deadline).toMinutes());
        }
        lastSync.put("status", since == null ? "UNKNOWN" : "ok".equals(severity) ? "OK" : severity.toUpperCase(Locale.ROOT));
        double[] gauge = gauges.computeIfAbsent(id, k -> new double[2]);
        gauge[0] = f.lastSuccess == null ? -1 : Duration.between(f.lastSuccess, now).toSeconds();
        gauge[1] = List.of("ok", "warning", "high", "critical").indexOf(severity);
        ObjectNode errors = check.putObject("recentErrors");
        errors.put("count", f.failedLastHour);
        errors.put("runs", f.runsLastHour);
        boolean spiking = f.runsLastHour >= errorRateMinRuns && f.failedLastHour > errorRate * f.runsLastHour;
        errors.put("status", spiking ? "HIGH" : f.failedLastHour == 0 ? "OK" : "WARN");
        if (spiking) {
            incidents.open(id, ERROR_RATE, "high", f.failedLastHour + " of its " + f.runsLastHour + " runs of the last hour failed "
                    + "(more than " + Math.round(errorRate * 100) + "%)", f.lastRunId, "watchdog");
        } else if (f.runsLastHour >= errorRateMinRuns) {
            resolve(c, id, ERROR_RATE, "the share of failed runs is below " + Math.round(errorRate * 100) + "% again");
        }
        ObjectNode rows = check.putObject("rowCount");
        long total = targetRows(c, id);
        rows.put("total", total);
        boolean emptied = total == 0 && f.lastGoodCount > 0;
        rows.put("status", total < 0 ? "UNKNOWN" : emptied ? "EMPTY" : "OK");

        String worst = "ok".equals(severity) ? "healthy" : "critical".equals(severity) ? "unhealthy" : "degraded";
        if (spiking || stuck != null) {
            worst = worse(worst, "degraded");
        }
        if (stuck != null && "ok".equals(severity) && !emptied) {
            refire.add(id); // a fresh source whose run died: fired again now, not when it turns stale
        }
        if (emptied) {
            worst = worse(worst, "unhealthy");
            String reason = "target table is empty while the last good run read " + f.lastGoodCount + " rows";
            String held = heldBy(f, id);
            if (held == null) {
                refire.add(id);
                action(actions, id, "emergency_sync", reason);
                incidents.open(id, EMPTY_TARGET, "high", reason + "; emergency full sync fired", null, "watchdog");
            } else {
                action(actions, id, "report", reason + "; " + held);
                incidents.open(id, EMPTY_TARGET, "high", reason + "; " + held, null, "watchdog");
            }
        } else if (total > 0) {
            resolve(c, id, EMPTY_TARGET, "the target table has rows again");
        }
        if ("ok".equals(severity)) {
            resolve(c, id, STALE, "fresh again");
            return worst;
        }
        String late = (f.lastSuccess == null ? "no successful sync since its first run " + Duration.between(since, now).toMinutes()
                + " min ago" : "no successful sync for " + Duration.between(f.lastSuccess, now).toMinutes() + " min")
                + " (due within " + Duration.between(since, deadline).toMinutes() + " min)";
        String held = heldBy(f, id);
        String reason;
        if (held != null) {
            reason = held;
            action(actions, id, f.nonRecoverable() ? "incident" : "report", late + ": " + reason);
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

    /** A template parameter of the source as the route saw it (an instance may give it as a {{placeholder}}). */
    private String parameter(SourceRegistry.Source source, String name) {
        Object value = source.parameters().get(name);
        return value == null ? null : context.resolvePropertyPlaceholders(value.toString());
    }

    /**
     * Why firing the source again now would not help, as the ladder's reason; null when it may be fired: paused, rate
     * limited, its breaker open (the recovery probe works on those two), a run active, a retry pending (its back-off
     * is kept), or its last run failed non-recoverably or was refused (it would fail the same way: a person looks).
     */
    private String heldBy(Facts f, String id) {
        Instant now = Instant.now(); // leases and resets are written with the service's clock
        if (f.paused) {
            return "paused: " + f.pausedReason + " (waits for an operator to resume it)";
        }
        if (f.notBefore != null && f.notBefore.isAfter(now)) {
            return "rate limited until " + f.notBefore + " (the recovery probe and the retry queue take it up then)";
        }
        Breakers breakers = context.getRegistry().findSingleByType(Breakers.class);
        io.github.resilience4j.circuitbreaker.CircuitBreaker breaker = breakers == null ? null : breakers.ofSource(id);
        if (breaker != null && breaker.getState() == io.github.resilience4j.circuitbreaker.CircuitBreaker.State.OPEN) {
            return "its circuit breaker is open (the recovery probe syncs it as soon as its upstream answers)";
        }
        if (f.leaseUntil != null && f.leaseUntil.isAfter(now)) {
            return "a run is active";
        }
        if (f.retryAt != null) {
            return "a retry is queued for " + f.retryAt + " (its back-off is kept)";
        }
        if (f.nonRecoverable()) {
            return "its last run " + f.lastStatus + " (" + f.lastErrorClass + "): "
                    + SyncRuns.truncate(f.lastError == null ? "" : f.lastError, 300);
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
    private record Facts(Instant lastSuccess, Instant firstRun, String lastStatus, String lastErrorClass, String lastError,
                         Long lastRunId, long lastGoodCount, boolean paused, String pausedReason, Instant notBefore,
                         Instant leaseUntil, Instant retryAt, long failedLastHour, long runsLastHour) {
        boolean nonRecoverable() {
            return lastErrorClass != null && ("non_recoverable".equals(lastErrorClass) || lastStatus.startsWith("refused"));
        }
    }

    private Facts facts(Connection c, String id) throws SQLException {
        Instant lastSuccess = null;
        String lastStatus = null;
        String lastErrorClass = null;
        String lastError = null;
        Long lastRunId = null;
        long lastGood = 0;
        boolean paused = false;
        String pausedReason = null;
        Instant notBefore = null;
        try (PreparedStatement ps = c.prepareStatement("SELECT h.last_success_at, h.last_run_status, r.error_class, h.last_error, "
                + "h.last_run_id, h.last_row_count, h.paused, h.paused_reason, h.not_before "
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
                }
            }
        }
        Instant leaseUntil = one(c, "SELECT MAX(lease_until) FROM source_lock WHERE source_id = ?", id);
        Instant retryAt = one(c, "SELECT MIN(next_retry_at) FROM retry_queue WHERE source_id = ? AND status IN ('pending', 'running')", id);
        Instant firstRun = lastSuccess != null ? null : one(c, "SELECT MIN(started_at) FROM sync_run WHERE source_id = ?", id);
        long failed;
        long ran;
        // runs that ended in the last hour, judged: successes, empties, failures (not skipped, refused or waiting ones)
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(CASE WHEN status = 'failed' THEN 1 END), COUNT(*) FROM sync_run "
                + "WHERE source_id = ? AND status IN ('success', 'empty', 'failed') AND started_at > ?")) {
            ps.setString(1, id);
            ps.setObject(2, SyncRuns.utc(Instant.now().minus(Duration.ofHours(1))));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                failed = rs.getLong(1);
                ran = rs.getLong(2);
            }
        }
        return new Facts(lastSuccess, firstRun, lastStatus == null ? "" : lastStatus, lastErrorClass, lastError, lastRunId,
                lastGood, paused, pausedReason, notBefore, leaseUntil, retryAt, failed, ran);
    }

    private static Instant one(Connection c, String sql, String id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? instant(rs.getObject(1, OffsetDateTime.class)) : null;
            }
        }
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
                    + (marked ? " WHERE " + table.quoted(TargetTable.DELETED_AT) + " IS NULL" : ""))) {
                ps.setQueryTimeout(10); // a pass is quick: a table too big or too busy to count now is "unknown"
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        } catch (SQLException | RuntimeException e) {
            LOG.debug("Watchdog: cannot count the rows of {}'s target: {}", id, e.getMessage());
            return -1;
        }
    }

    private void save(ObjectNode report, Instant now, String kind) {
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("INSERT INTO watchdog_report (taken_at, overall, report, kind) VALUES (?, ?, ?, ?)")) {
            c.setAutoCommit(true);
            ps.setObject(1, SyncRuns.utc(now));
            ps.setString(2, report.get("overall").asText());
            ps.setString(3, report.toString());
            ps.setString(4, kind);
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.warn("Watchdog: the report of this pass could not be written: {}", e.getMessage());
        }
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }
}
