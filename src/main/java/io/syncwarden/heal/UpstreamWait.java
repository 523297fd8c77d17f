package io.syncwarden.heal;

import io.syncwarden.source.KeyRing;
import io.syncwarden.sync.RunContext;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.http.base.HttpOperationFailedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs when a sync step fails, before the redelivery delay is chosen ({@code onExceptionOccurredRef} in
 * routes/error-handling.camel.yaml). An upstream that says how long to wait is obeyed instead of blind back-off:
 * Cal.com's {@code X-RateLimit-Reset-<Name>} (whole seconds; a value above 10^9 is read as an epoch second) and the
 * standard {@code Retry-After} (seconds) on 429 and 503. A 429 that names no wait waits {@code rateLimitDefaultMs}
 * (the limits refill per minute). A wait longer than {@code maxWaitMs} is not held in-route: the run ends and the retry
 * queue takes it up at the upstream's time ({@link RetryQueue#RETRY_AT}). Other failures keep the exponential back-off.
 */
public final class UpstreamWait implements Processor {
    private static final Logger LOG = LoggerFactory.getLogger(UpstreamWait.class);
    private final long rateLimitDefaultMs;
    private final long maxWaitMs;

    private final long maxHoldMs;

    public UpstreamWait(long rateLimitDefaultMs, long maxWaitMs) {
        this(rateLimitDefaultMs, maxWaitMs, 86_400_000L);
    }

    /** {@code maxHoldMs}: the longest an upstream's reset may hold a source (a garbled or far reset is capped). */
    public UpstreamWait(long rateLimitDefaultMs, long maxWaitMs, long maxHoldMs) {
        this.rateLimitDefaultMs = rateLimitDefaultMs;
        this.maxWaitMs = maxWaitMs;
        this.maxHoldMs = maxHoldMs;
    }

    @Override
    public void process(Exchange exchange) {
        Throwable error = exchange.getException() != null ? exchange.getException()
                : exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        Long wait = null;
        int status = 0;
        for (Throwable t = error; t != null && wait == null; t = t.getCause()) {
            if (t instanceof HttpOperationFailedException http) {
                status = http.getStatusCode();
                wait = waitMillis(status, http.getResponseHeaders());
            } else if (t instanceof com.google.api.client.http.HttpResponseException google) {
                status = google.getStatusCode();
                String retryAfter = google.getHeaders() == null ? null : google.getHeaders().getRetryAfter();
                wait = waitMillis(status, retryAfter == null ? Map.of() : Map.of("Retry-After", retryAfter));
            }
        }
        if (wait == null) {
            exchange.getIn().removeHeader(Exchange.REDELIVERY_DELAY);
            return;
        }
        wait = Math.min(wait, maxHoldMs);
        Instant now = Instant.now();
        io.syncwarden.source.SyncSource source = exchange.getFromRouteId() == null ? null
                : io.syncwarden.source.SyncSource.of(exchange.getContext(), exchange.getFromRouteId());
        KeyRing ring = source == null ? null : source.keyRing();
        int used = ring == null ? -1 : ring.lastUsed();
        // only the source's own API answers rest its keys (a 429 from a write-back to Google is another upstream's)
        boolean ownApi = error instanceof HttpOperationFailedException
                || error != null && error.getCause() instanceof HttpOperationFailedException;
        if (status == 429 && (ownApi || source instanceof io.syncwarden.source.GoogleSheetsSource)) {
            // the source's own upstream answered, if only "wait": that is no reason to open its breaker
            Breakers breakers = exchange.getContext().getRegistry().findSingleByType(Breakers.class);
            if (breakers != null) {
                breakers.answered(exchange.getFromRouteId());
            }
        }
        if (status == 429 && ownApi && ring != null && used >= 0 && ring.size() > 1) {
            // this key rests until its reset; another key that does not rest takes the next attempt at once
            ring.rest(used, now.plusMillis(wait));
            int next = ring.pick(now);
            if (next >= 0) {
                LOG.warn("Sync {}: {} is rate-limited until {}; the next attempt uses {} at once", exchange.getFromRouteId(),
                        ring.name(used), now.plusMillis(wait), ring.name(next));
                exchange.getIn().setHeader(Exchange.REDELIVERY_DELAY, 0L);
                return;
            }
            wait = Math.max(0, java.time.Duration.between(now, ring.earliestReset(now)).toMillis());
            LOG.warn("Sync {}: every one of its {} keys is rate-limited; the first is usable again at {}",
                    exchange.getFromRouteId(), ring.size(), now.plusMillis(wait));
        }
        if (status == 429) {
            // the source waits for the upstream's reset: not a failure, and no run of it starts before then
            exchange.setProperty(RunContext.RATE_LIMITED_UNTIL, now.plusMillis(wait));
        }
        if (wait > maxWaitMs) {
            // longer than a run may hold its scheduler thread: end the run now and let the retry queue come back then
            Instant at = Instant.now().plusMillis(wait);
            exchange.setProperty(RetryQueue.RETRY_AT, at);
            exchange.getExchangeExtension().setRedeliveryExhausted(true);
            exchange.getIn().removeHeader(Exchange.REDELIVERY_DELAY);
            LOG.warn("Sync {}: upstream asked to wait {} s, longer than the in-route limit of {} s: handed to the retry queue "
                    + "for {}", exchange.getFromRouteId(), wait / 1000, maxWaitMs / 1000, at);
            return;
        }
        LOG.warn("Sync {}: upstream asked to wait (rate limit); next attempt in {} s",
                exchange.getFromRouteId(), Math.round(wait / 1000.0));
        // the lease keeper renews the run's lock meanwhile, so the wait does not hand the source to another run
        exchange.getIn().setHeader(Exchange.REDELIVERY_DELAY, wait);
    }

    /** The wait the upstream asked for, in ms; null when it asked for none (then back-off applies). */
    Long waitMillis(int status, Map<String, String> headers) {
        if (status != 429 && status != 503) {
            return null;
        }
        Long shortest = null;
        if (headers != null) {
            for (Map.Entry<String, String> h : headers.entrySet()) {
                String name = h.getKey().toLowerCase(Locale.ROOT);
                if (name.startsWith("x-ratelimit-reset") || name.equals("retry-after")) {
                    Long ms = seconds(h.getValue());
                    // several named limits: a request passes again as soon as one of them resets
                    if (ms != null && (shortest == null || ms < shortest)) {
                        shortest = ms;
                    }
                }
            }
        }
        return shortest != null ? shortest : status == 429 ? rateLimitDefaultMs : null;
    }

    private static Long seconds(String value) {
        try {
            long v = Long.parseLong(value.trim());
            if (v > 1_000_000_000_000L) {
                v = v / 1000 - System.currentTimeMillis() / 1000; // an epoch in milliseconds
            } else if (v > 1_000_000_000L) {
                v = v - System.currentTimeMillis() / 1000; // an epoch in seconds
            }
            return Math.max(0, v) * 1000;
        } catch (NumberFormatException | NullPointerException e) {
            return null; // an HTTP-date Retry-After or garbage: fall back to the default
        }
    }
}
