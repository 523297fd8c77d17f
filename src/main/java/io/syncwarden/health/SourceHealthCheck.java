package io.syncwarden.health;

import io.syncwarden.sync.SyncRuns;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/**
 * One source's state, from {@code source_health} and its running run: {@code healthy}, {@code degraded},
 * {@code unhealthy} or {@code unknown}, consecutive failures, last success, and whether a run has been going for
 * longer than a multiple of the source's usual duration. A failing upstream is the source's problem, not the
 * service's: the check stays UP (its {@code source.status} detail says how the source fares), so one source never
 * takes the whole service out of a load balancer; only the target database and the Camel context decide readiness.
 * Neither liveness nor error text: a failing upstream never gets the service restarted, and error texts stay off
 * the unauthenticated health endpoint.
 */
public class SourceHealthCheck extends AbstractHealthCheck {
    private final String sourceId;
    private final SyncRuns runs;
    private final long longRunMinMillis;

    public SourceHealthCheck(String sourceId, SyncRuns runs, long longRunMinMillis) {
        super("syncwarden", "source-" + sourceId);
        this.sourceId = sourceId;
        this.runs = runs;
        this.longRunMinMillis = longRunMinMillis;
    }

    @Override
    public boolean isLiveness() {
        return false;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        builder.detail("source", sourceId);
        try (Connection c = runs.database().dataSource().getConnection()) {
            String status = "unknown";
            try (PreparedStatement ps = c.prepareStatement("SELECT status, consecutive_failures, last_success_at, last_run_status, "
                    + "paused, paused_reason, not_before FROM source_health WHERE source_id = ?")) {
                ps.setString(1, sourceId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        status = rs.getString(1);
                        builder.detail("source.consecutive_failures", rs.getInt(2))
                                .detail("source.last_run_status", String.valueOf(rs.getString(4)))
                                .detail("source.last_success_at", String.valueOf(rs.getObject(3, OffsetDateTime.class)));
                        OffsetDateTime notBefore = rs.getObject(7, OffsetDateTime.class);
                        if (notBefore != null && notBefore.toInstant().isAfter(Instant.now())) {
                            // every key rests until the upstream's reset: waiting, not failing
                            status = "rate_limited";
                            builder.detail("source.rate_limited_until", notBefore.toInstant().toString());
                        }
                        if (rs.getBoolean(5)) {
                            // why, without the upstream's error text (health output carries none; the run record has it)
                            String reason = String.valueOf(rs.getString(6));
                            int last = reason.indexOf("; last:");
                            status = "paused";
                            builder.detail("source.paused", "paused: " + (last < 0 ? reason : reason.substring(0, last)));
                        }
                    }
                }
            }
            Long runningFor = runningFor(c);
            if (runningFor != null) {
                builder.detail("source.running_for_s", runningFor / 1000);
                Long usual = usualDuration(c);
                long limit = Math.max(longRunMinMillis, usual == null ? 0 : Math.round(usual * runs.settings().longRunFactor()));
                if (usual != null && runningFor > limit) {
                    builder.detail("source.long_running", true).detail("source.usual_duration_s", usual / 1000);
                    if ("healthy".equals(status) || "unknown".equals(status)) {
                        status = "degraded";
                    }
                }
            }
            var breakers = getCamelContext() == null ? null
                    : getCamelContext().getRegistry().findSingleByType(io.syncwarden.heal.Breakers.class);
            var breaker = breakers == null ? null : breakers.ofSource(sourceId);
            if (breaker != null) {
                builder.detail("source.circuit", io.syncwarden.heal.Breakers.state(breaker))
                        .detail("source.circuit_failed_calls", breaker.getMetrics().getNumberOfFailedCalls());
                if (breakers.since(breaker.getName()) != null) {
                    builder.detail("source.circuit_since", String.valueOf(breakers.since(breaker.getName())));
                }
            }
            builder.detail("source.status", status).up();
        } catch (Exception e) {
            // the database cannot be asked: what this node saw last (it is written once the database is back)
            SyncRuns.Outcome last = runs.lastOutcome(sourceId);
            builder.detail("source.status", last == null ? "unknown" : "success".equals(last.status()) || "empty".equals(last.status())
                    ? "healthy" : "degraded");
            if (last != null) {
                builder.detail("source.last_run_status", last.status()).detail("source.last_run_recorded", last.recorded());
            }
            builder.up();
        }
    }

    private Long runningFor(Connection c) throws Exception {
        try (PreparedStatement ps = c.prepareStatement("SELECT r.started_at FROM source_lock l JOIN sync_run r ON r.run_id = l.run_id "
                + "WHERE l.source_id = ? AND r.status = 'running'")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Duration.between(rs.getObject(1, OffsetDateTime.class).toInstant(), Instant.now()).toMillis() : null;
            }
        }
    }

    /** The median duration of the source's last ten successful runs; null before it has three. */
    private Long usualDuration(Connection c) throws Exception {
        List<Long> durations = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT duration_ms FROM sync_run WHERE source_id = ? AND status = 'success' "
                + "AND duration_ms IS NOT NULL ORDER BY run_id DESC")) {
            ps.setString(1, sourceId);
            ps.setMaxRows(10);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    durations.add(rs.getLong(1));
                }
            }
        }
        if (durations.size() < 3) {
            return null;
        }
        Collections.sort(durations);
        return durations.get(durations.size() / 2);
    }
}
