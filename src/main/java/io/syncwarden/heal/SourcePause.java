package io.syncwarden.heal;

import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.component.quartz.QuartzComponent;
import org.quartz.Scheduler;
import org.quartz.TriggerKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a non-recoverable failure does to its source (retrying cannot help): it is not queued; the source's health says
 * {@code unhealthy} with the reason (written by the run's close) and a {@code non_recoverable} incident is opened, one
 * per source however many runs fail. After {@code pauseAfter} non-recoverable failures in a row the source is
 * <b>paused</b>: its Quartz trigger is paused, automatic triggers (schedule, retry, watchdog, start-up) do not start
 * it, health says {@code paused: <reason>}, the incident becomes critical, until an operator resumes it. A paused
 * source stays paused across restarts ({@code source_health.paused}).
 */
public class SourcePause {
    private static final Logger LOG = LoggerFactory.getLogger(SourcePause.class);
    static final String QUARTZ_GROUP = "syncwarden";

    private final SyncRuns runs;
    private final Incidents incidents;
    private final CamelContext context;
    private final int pauseAfter;

    public SourcePause(SyncRuns runs, Incidents incidents, CamelContext context, int pauseAfter) {
        this.runs = runs;
        this.incidents = incidents;
        this.context = context;
        this.pauseAfter = pauseAfter;
        // the next success resolves what non-recoverable failures and an exhausted queue opened
        runs.addCloseListener((c, run, status, errorClass, at) -> {
            if ("success".equals(status) || "empty".equals(status)) {
                String by = "run " + run.runId() + " (" + run.trigger() + ")";
                incidents.resolve(c, run.sourceId(), "non_recoverable", by, "the source synced again", run.runId());
                incidents.resolve(c, run.sourceId(), "retry_exhausted", by, "the source synced again", run.runId());
                incidents.resolve(c, run.sourceId(), "refused_empty", by, "a run was accepted", run.runId());
                incidents.resolve(c, run.sourceId(), "refused_shrink", by, "a run was accepted", run.runId());
                incidents.resolve(c, run.sourceId(), "refused_schema", by, "a run was accepted", run.runId());
                incidents.resolve(c, run.sourceId(), "refused_anomaly", by, "a run was accepted", run.runId());
                // fresh again: a stale source repaired before anyone was told is never alerted on
                incidents.resolve(c, run.sourceId(), "stale", by, "the source synced again", run.runId());
            }
        });
    }

    /** Called by the shared error handling after a run failed non-recoverably (its close is written already). */
    public void nonRecoverable(Exchange exchange) {
        Throwable error = ErrorClass.caught(exchange);
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        String source = run != null ? run.sourceId() : exchange.getFromRouteId();
        String message = FailureText.describe(error);
        boolean failedOutright = run != null && "failed".equals(run.closedStatus());
        if (ErrorClass.REFUSED.equals(ErrorClass.of(error)) && !failedOutright) {
            // a guard kept bad data out: someone should look, but the source is not failing
            String kind = run == null || run.closedStatus() == null ? "refused" : run.closedStatus();
            incidents.open(source, kind, "high", "Sync " + source + " run " + (run == null ? "?" : run.runId()) + " " + kind
                    + ": " + message, run == null ? null : run.runId(), "guard");
            return;
        }
        if (!ErrorClass.NON_RECOVERABLE.equals(ErrorClass.of(error)) && !failedOutright) {
            return; // a lost lease, a stopping service or an open breaker is not the source's fault
        }
        String pausedNow = null;
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                int streak = streak(c, source);
                boolean pause = pauseAfter > 0 && streak >= pauseAfter;
                String reason = streak + " non-recoverable failure(s) in a row; last: " + message;
                if (pause && runs.setPaused(c, source, reason, Instant.now())) {
                    pausedNow = reason;
                }
                incidents.open(c, source, "non_recoverable", pause ? "critical" : "high",
                        (pause ? "Paused after " : "Failed without retry: ") + reason, run == null ? null : run.runId(),
                        pause ? "pause" : "error-handling");
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            LOG.error("Sync {}: cannot record its non-recoverable failure as an incident: {}", source, e.getMessage());
            return;
        }
        if (pausedNow != null) {
            runs.metrics().count("syncwarden.sources.paused", "Sources paused after repeated non-recoverable failures", source);
            pauseTrigger(source, true);
            LOG.error("Sync {} PAUSED: {}. It stays paused (also across restarts) until an operator resumes it.", source, pausedNow);
        }
    }

    /** Lets the next run a guard would refuse (an empty source) through once: an operator's decision. */
    public boolean allowNext(String source, String actor) throws SQLException {
        boolean changed = runs.allowNext(source);
        if (changed) {
            LOG.warn("Sync {}: the next run is allowed once past the guards, by {}", source, actor);
        }
        return changed;
    }

    /** Pauses a source by an operator's decision. */
    public boolean pause(String source, String reason, String actor) throws SQLException {
        boolean changed;
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(true);
            changed = runs.setPaused(c, source, reason + " (by " + actor + ")", Instant.now());
        }
        if (changed) {
            pauseTrigger(source, true);
            LOG.warn("Sync {} paused by {}: {}", source, actor, reason);
        }
        return changed;
    }

    /** Resumes a paused source: its schedule runs again and its non-recoverable streak starts from zero. */
    public boolean resume(String source, String actor) throws SQLException {
        boolean changed;
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                changed = runs.setPaused(c, source, null, Instant.now());
                if (changed) {
                    incidents.resolve(c, source, "non_recoverable", actor, "resumed by " + actor);
                }
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
        if (changed) {
            pauseTrigger(source, false);
            LOG.warn("Sync {} resumed by {}", source, actor);
        }
        return changed;
    }

    private static int streak(Connection c, String source) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT consecutive_non_recoverable FROM source_health WHERE source_id = ?")) {
            ps.setString(1, source);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getInt(1) : 0;
            }
        }
    }

    /**
     * Pauses or resumes the source's Quartz trigger (its schedule); best effort: a fire that still comes is refused by
     * the paused check at the run's begin.
     */
    private void pauseTrigger(String source, boolean pause) {
        try {
            QuartzComponent quartz = context.getComponent("quartz", QuartzComponent.class);
            Scheduler scheduler = quartz == null ? null : quartz.getScheduler();
            if (scheduler == null) {
                return;
            }
            TriggerKey key = TriggerKey.triggerKey(source, QUARTZ_GROUP);
            if (scheduler.checkExists(key)) {
                if (pause) {
                    scheduler.pauseTrigger(key);
                } else {
                    scheduler.resumeTrigger(key);
                }
            }
        } catch (Exception e) {
            LOG.warn("Cannot {} the schedule of {}: {}", pause ? "pause" : "resume", source, e.getMessage());
        }
    }
}
