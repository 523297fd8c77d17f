package io.syncwarden.sync;

import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.Route;

/**
 * Fires a source's route now, outside its schedule (startup, manual; later watchdog, retry, webhook), through
 * the same consumer pipeline the Quartz trigger uses, so lock, error handling and run records are identical.
 */
public class SyncTrigger {
    private final CamelContext context;

    public SyncTrigger(CamelContext context) {
        this.context = context;
    }

    /** The outcome of a fired run: its id (null when refused) and final status. */
    public record Result(Long runId, String status, Throwable error) {
    }

    public Result fire(String sourceId, String trigger) throws Exception {
        return fire(sourceId, trigger, false);
    }

    /** As above; {@code restart}: the run drops the checkpoint once it holds the lock and reads everything again. */
    public Result fire(String sourceId, String trigger, boolean restart) throws Exception {
        Route route = context.getRoute(sourceId);
        if (route == null) {
            throw new IllegalArgumentException("No source route with id '" + sourceId + "'");
        }
        Exchange exchange = route.getEndpoint().createExchange();
        exchange.getExchangeExtension().setFromEndpoint(route.getEndpoint());
        exchange.getExchangeExtension().setFromRouteId(route.getRouteId());
        exchange.setProperty(RunContext.TRIGGER, trigger);
        exchange.setProperty(RunContext.RESTART, restart);
        route.getConsumer().getProcessor().process(exchange);
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        Throwable error = exchange.getException() != null ? exchange.getException()
                : exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        if (Boolean.TRUE.equals(exchange.getProperty(RunContext.REFUSED, Boolean.class))) {
            String reason = exchange.getProperty(RunContext.REFUSED_REASON, String.class);
            return new Result(null, reason == null ? "refused" : reason.startsWith("paused") ? "paused"
                    : reason.startsWith("rate_limited") ? "rate_limited" : "refused", null);
        }
        String status = run == null ? "failed" : run.closedStatus() != null ? run.closedStatus() : error != null ? "failed" : run.outcome();
        return new Result(run == null ? null : run.runId(), status, error);
    }
}
