package io.syncwarden.heal;

import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;

/**
 * The shared error handling's {@code onExceptionOccurred} processor: runs on every failed attempt, before redelivery
 * is decided. It puts the attempt on the run's record ({@code failure_log}, the attempt count, a metric) and lets an
 * upstream that said how long to wait set the next delay ({@link UpstreamWait}).
 */
public final class AttemptFailed implements Processor {
    private final SyncRuns runs;
    private final RunFailures failures;
    private final UpstreamWait wait;

    public AttemptFailed(SyncRuns runs, UpstreamWait wait) {
        this.runs = runs;
        this.failures = new RunFailures(runs);
        this.wait = wait;
    }

    @Override
    public void process(Exchange exchange) {
        Throwable error = ErrorClass.caught(exchange);
        if (ErrorClass.CIRCUIT_OPEN.equals(ErrorClass.of(error)) && ErrorClass.openedDuringRun(exchange)) {
            // the run's own failures opened its breaker: no more attempts into it; the run ends as the failure it had,
            // through the dead-letter channel into the retry queue
            RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
            Exception real = run.lastFailure() instanceof Exception e ? e : new IllegalStateException(run.lastFailure());
            exchange.setException(real);
            exchange.setProperty(Exchange.EXCEPTION_CAUGHT, real);
            exchange.getExchangeExtension().setRedeliveryExhausted(true);
            return;
        }
        failures.attemptFailed(exchange);
        if (downloadedAndMalformed(error)) {
            // the step that found it would read the same bytes again: no in-route retry, the queue's run asks anew
            exchange.getExchangeExtension().setRedeliveryExhausted(true);
            return;
        }
        wait.process(exchange);
        java.time.Instant until = exchange.getProperty(RunContext.RATE_LIMITED_UNTIL, java.time.Instant.class);
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        if (until != null && run != null) {
            runs.holdUntil(run.sourceId(), until); // no run of the source starts before the upstream's reset
        }
    }

    private static boolean downloadedAndMalformed(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof io.syncwarden.source.MalformedAnswerException m) {
                return m.downloaded();
            }
        }
        return false;
    }
}
