package io.syncwarden.source;

import org.apache.camel.Exchange;

/**
 * The start of every source's run, written once: the shared route configuration ({@code interceptFrom} on
 * {@code quartz:syncwarden/*}) calls {@link #begin} before a source route's own steps, so a template holds only what
 * differs per kind (its pull and its reader) and ends with its source's {@code complete}.
 */
public class Lifecycle {

    /** Opens the run of the route's source (lock, record) or marks the exchange refused (paused, rate-limited, busy). */
    public void begin(Exchange exchange) throws Exception {
        String sourceId = exchange.getFromRouteId();
        SyncSource source = SyncSource.of(exchange.getContext(), sourceId);
        if (source == null) {
            throw new io.syncwarden.sync.NonRecoverableSyncException("Route " + sourceId + " listens on quartz:syncwarden/ "
                    + "but is not a source (a templated route of a source kind)");
        }
        // an upstream's body cached to a temporary file inside the circuit breaker (which works on a copy of the
        // exchange with a unit of work of its own) must live as long as the run, not end with the breaker's step
        exchange.setProperty(org.apache.camel.ExchangePropertyKey.STREAM_CACHE_UNIT_OF_WORK, exchange.getUnitOfWork());
        source.begin(exchange);
    }
}
