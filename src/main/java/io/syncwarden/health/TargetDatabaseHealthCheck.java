package io.syncwarden.health;

import io.syncwarden.store.TargetDatabase;
import java.util.Map;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/**
 * Readiness of the service itself: without its target database it can neither sync nor record anything, so this
 * check (with Camel's own context check) is what takes the service out of a load balancer. The message never carries
 * the driver's text (it can name hosts and users).
 */
public class TargetDatabaseHealthCheck extends AbstractHealthCheck {
    private final TargetDatabase db;

    public TargetDatabaseHealthCheck(TargetDatabase db) {
        super("syncwarden", "target-database");
        this.db = db;
    }

    @Override
    public boolean isLiveness() {
        return false;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        builder.detail("dialect", db.dialect().name());
        var breakers = getCamelContext() == null ? null
                : getCamelContext().getRegistry().findSingleByType(io.syncwarden.heal.Breakers.class);
        var breaker = breakers == null ? null : breakers.registry().getAllCircuitBreakers().stream()
                .filter(b -> b.getName().equals(io.syncwarden.heal.Breakers.TARGET)).findFirst().orElse(null);
        if (breaker != null) {
            builder.detail("circuit", io.syncwarden.heal.Breakers.state(breaker))
                    .detail("circuit_failed_calls", breaker.getMetrics().getNumberOfFailedCalls());
        }
        if (db.reachable()) {
            builder.up();
        } else {
            builder.message("target database unreachable").down();
        }
    }
}
