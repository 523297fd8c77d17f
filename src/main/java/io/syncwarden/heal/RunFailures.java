package io.syncwarden.heal;

import io.syncwarden.sync.Failure;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.RunRefusedException;
import io.syncwarden.sync.SyncRuns;
import org.apache.camel.Exchange;

/**
 * The shared error handling's judgement of a failed run, handed to the run lifecycle ({@link SyncRuns}): its error
 * class ({@link ErrorClass}), its text for people ({@link FailureText}), and its status: {@code failed}, or, when the
 * source did not fail, {@code interrupted} (a stop), {@code skipped} (its breaker was open), {@code rate_limited}
 * (waiting for the upstream's reset), {@code refused_empty} (a guard kept the data out). The routes call
 * {@link #fail} when redelivery is over; {@link AttemptFailed} calls {@link #attemptFailed} for every attempt.
 */
public class RunFailures {
    private final SyncRuns runs;

    public RunFailures(SyncRuns runs) {
        this.runs = runs;
    }

    /** Every failed attempt, before redelivery is decided. */
    public void attemptFailed(Exchange exchange) {
        Throwable error = ErrorClass.caught(exchange);
        runs.attemptFailed(exchange.getProperty(RunContext.PROPERTY, RunContext.class), error, ErrorClass.of(error),
                FailureText.describe(error));
    }

    /** The run is over without completing: closed with the status its failure deserves. */
    public void fail(Exchange exchange) {
        Throwable error = ErrorClass.caught(exchange);
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        String source = run != null ? run.sourceId() : exchange.getFromRouteId();
        String errorClass = ErrorClass.of(error);
        String message = FailureText.describe(error);
        if (run != null && ErrorClass.LEASE_LOST.equals(errorClass)) {
            runs.leaseLost(source, run, message);
            return;
        }
        RunRefusedException refusal = refusal(error);
        if (refusal != null && "refused_schema".equals(refusal.status()) && !hadGoodRun(source)) {
            // a column missing before the source ever synced is a configuration error (a typo), not drift
            runs.fail(source, run, new Failure(error, ErrorClass.NON_RECOVERABLE, message, "failed", true));
            return;
        }
        boolean rateLimited = exchange.getProperty(RunContext.RATE_LIMITED_UNTIL) != null && rateLimit(error);
        String status = ErrorClass.INTERRUPTED.equals(errorClass) ? "interrupted"
                : ErrorClass.CIRCUIT_OPEN.equals(errorClass) ? "skipped"
                : refusal != null ? refusal.status()
                : rateLimited ? "rate_limited" : "failed";
        runs.fail(source, run, new Failure(error, errorClass, message, status, "failed".equals(status)));
    }

    private boolean hadGoodRun(String source) {
        try {
            return runs.lastGoodCount(source) > 0 || runs.lastSuccess(source) != null;
        } catch (java.sql.SQLException e) {
            return true; // cannot tell: the milder reading (refused, not counted towards a pause)
        }
    }

    /** True when the failure is the upstream's rate limit (HTTP 429). */
    private static boolean rateLimit(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            Integer status = ErrorClass.httpStatus(t);
            if (status != null) {
                return status == 429;
            }
        }
        return false;
    }

    private static RunRefusedException refusal(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof RunRefusedException r) {
                return r;
            }
        }
        return null;
    }
}
