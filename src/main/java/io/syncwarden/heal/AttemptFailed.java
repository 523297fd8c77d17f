package io.syncwarden.heal;

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
    private final UpstreamWait wait;

    public AttemptFailed(SyncRuns runs, UpstreamWait wait) {
        this.runs = runs;
        this.wait = wait;
    }

    @Override
    public void process(Exchange exchange) {
        runs.attemptFailed(exchange);
        wait.process(exchange);
    }
}
