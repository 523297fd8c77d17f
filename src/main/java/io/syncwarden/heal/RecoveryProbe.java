package io.syncwarden.heal;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.syncwarden.source.SyncSource;
import io.syncwarden.sync.SourceRegistry;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncTrigger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.apache.camel.CamelContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fresh data the moment an upstream is back. The {@code recovery-probe} route asks, every minute, which sources are
 * failing (a live retry entry, or an open circuit breaker; paused sources wait for an operator) and probes each with
 * one cheap request of its kind ({@link SyncSource#probe}: a HEAD of the report, a one-booking page, the sheet's first
 * cell, a ping of the replica). On the first answer the source's breaker (if open) is let half-open and the sync runs
 * at once with trigger {@code recovery}; its success closes the retry entry.
 */
public class RecoveryProbe {
    private static final Logger LOG = LoggerFactory.getLogger(RecoveryProbe.class);

    private final SyncRuns runs;
    private final Breakers breakers;
    private final CamelContext context;

    public RecoveryProbe(SyncRuns runs, Breakers breakers, CamelContext context) {
        this.runs = runs;
        this.breakers = breakers;
        this.context = context;
    }

    /** The sources to probe now: a live retry entry or an open breaker, not paused, not running, route started. */
    public List<String> failing() {
        Set<String> ids = new LinkedHashSet<>();
        Set<String> paused = new LinkedHashSet<>();
        try (Connection c = runs.database().dataSource().getConnection()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT source_id FROM retry_queue WHERE status = 'pending'");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    ids.add(rs.getString(1));
                }
            }
            // paused sources wait for an operator, rate-limited ones for their upstream's reset
            try (PreparedStatement ps = c.prepareStatement("SELECT source_id FROM source_health WHERE paused = TRUE "
                    + "OR not_before > CURRENT_TIMESTAMP");
                 ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    paused.add(rs.getString(1));
                }
            }
        } catch (SQLException e) {
            LOG.debug("Recovery probe: cannot read the failing sources now: {}", e.getMessage());
            return List.of();
        }
        SourceRegistry registry = context.getRegistry().findSingleByType(SourceRegistry.class);
        for (SourceRegistry.Source source : registry == null ? List.<SourceRegistry.Source>of() : registry.sources()) {
            CircuitBreaker breaker = breakers.ofSource(source.id());
            if (breaker != null && breaker.getState() == CircuitBreaker.State.OPEN) {
                ids.add(source.id());
            }
        }
        ids.removeAll(paused);
        ids.removeIf(id -> context.getRouteController().getRouteStatus(id) == null
                || !context.getRouteController().getRouteStatus(id).isStarted()
                || runs.activeRuns().stream().anyMatch(r -> r.sourceId().equals(id)));
        return new ArrayList<>(ids);
    }

    /** Probes one source; when its upstream answers, runs it at once (trigger {@code recovery}). */
    public void recover(String sourceId) {
        SyncSource source = source(sourceId);
        if (source == null) {
            return;
        }
        try {
            source.probe(context);
        } catch (Exception e) {
            LOG.info("Recovery probe of {}: not back yet ({})", sourceId, FailureText.describe(e));
            return;
        }
        CircuitBreaker breaker = breakers.ofSource(sourceId);
        if (breaker != null && breaker.getState() == CircuitBreaker.State.OPEN) {
            breaker.transitionToHalfOpenState(); // the probe answered: let one run through now, not after the cool-down
        }
        LOG.warn("Recovery probe of {}: the upstream answers again; running the sync now (trigger recovery)", sourceId);
        try {
            SyncTrigger.Result result = new SyncTrigger(context).fire(sourceId, "recovery");
            LOG.info("Recovery run of {}: {}", sourceId, result.status());
        } catch (Exception e) {
            LOG.warn("Recovery run of {} could not be fired: {}", sourceId, e.getMessage());
        }
    }

    private SyncSource source(String sourceId) {
        return SyncSource.of(context, sourceId);
    }
}
