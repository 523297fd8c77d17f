package io.syncwarden.heal;

import com.google.api.client.http.HttpResponseException;
import io.syncwarden.source.MalformedAnswerException;
import io.syncwarden.store.SqlStates;
import io.syncwarden.sync.Failure;
import io.syncwarden.sync.LeaseLostException;
import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunInterruptedException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.sql.SQLException;
import java.sql.SQLTransientException;
import java.util.Set;
import org.apache.camel.Exchange;
import org.apache.camel.http.base.HttpOperationFailedException;

/**
 * Every retry decision in one place: which failures are worth retrying ({@link #RECOVERABLE}), which never get better
 * by themselves ({@link #NON_RECOVERABLE}: configuration, credentials, permissions, a request the upstream refuses),
 * and the two that stop a run without retry for reasons of their own ({@link #LEASE_LOST}, {@link #INTERRUPTED}).
 * The cause chain is followed; the first exception that says something decides. routes/error-handling.camel.yaml asks
 * {@link #isNonRecoverable}; the batch writer asks {@link #isRowError} whether a database error is about one row.
 *
 * <p>HTTP: 400, 401, 403, 404, 405, 409, 410, 413, 422, 501 and other 3xx/4xx are non-recoverable; 408, 429 and
 * 5xx (but 501) recoverable. SQLState: class 28 (authorization), 3D000 (no such database), class 42 (syntax, missing
 * table or column, permission denied, no unique constraint for ON CONFLICT) are non-recoverable; class 08
 * (connection), 40001 and 40P01 (serialization, deadlock), class 53 (out of resources), 55P03 (lock not available),
 * 57014 (statement timeout or cancel), 57P01-57P03 (server shutting down or starting), H2's HYT00 (lock timeout) are
 * recoverable. Anything unknown is recoverable: it is retried a bounded number of times, then recorded as failed.
 */
public final class ErrorClass {
    public static final String RECOVERABLE = Failure.RECOVERABLE;
    public static final String NON_RECOVERABLE = Failure.NON_RECOVERABLE;
    public static final String LEASE_LOST = Failure.LEASE_LOST;
    public static final String INTERRUPTED = Failure.INTERRUPTED;
    /** The source's circuit breaker is open: no request was sent, the run is recorded as skipped (not a failure). */
    public static final String CIRCUIT_OPEN = Failure.CIRCUIT_OPEN;
    /** A guard refused the run before anything was applied (an empty source...): not retried, an incident. */
    public static final String REFUSED = Failure.REFUSED;

    private static final Set<Integer> NON_RECOVERABLE_HTTP = Set.of(400, 401, 403, 404, 405, 409, 410, 413, 422, 501);
    private static final Set<Integer> RECOVERABLE_HTTP = Set.of(408, 429);

    private ErrorClass() {
    }

    public static String of(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String decided = decide(t);
            if (decided != null) {
                return decided;
            }
        }
        return RECOVERABLE;
    }

    private static String decide(Throwable t) {
        if (t instanceof LeaseLostException) {
            return LEASE_LOST;
        }
        if (t instanceof RunInterruptedException) {
            return INTERRUPTED;
        }
        if (t instanceof NonRecoverableSyncException) {
            return NON_RECOVERABLE;
        }
        if (t instanceof io.syncwarden.sync.RunRefusedException) {
            return REFUSED;
        }
        if (t instanceof io.github.resilience4j.circuitbreaker.CallNotPermittedException) {
            return CIRCUIT_OPEN;
        }
        if (t instanceof MalformedAnswerException || t instanceof SocketTimeoutException
                || t instanceof ConnectException || t instanceof UnknownHostException) {
            return RECOVERABLE;
        }
        Integer status = httpStatus(t);
        if (status != null) {
            return ofHttpStatus(status);
        }
        if (t instanceof SQLException sql) {
            String state = sqlState(sql);
            if (state != null) {
                return ofSqlState(state);
            }
            if (t instanceof SQLTransientException) {
                return RECOVERABLE;
            }
        }
        return null;
    }

    /** The class of an upstream's HTTP status. */
    public static String ofHttpStatus(int status) {
        if (RECOVERABLE_HTTP.contains(status) || status >= 500 && !NON_RECOVERABLE_HTTP.contains(status)) {
            return RECOVERABLE;
        }
        return status >= 300 ? NON_RECOVERABLE : RECOVERABLE;
    }

    /** The class of a database error by its SQLState. */
    public static String ofSqlState(String state) {
        if (state.length() < 2) {
            return RECOVERABLE;
        }
        String cls = state.substring(0, 2);
        if (cls.equals("28") || cls.equals("42") || state.equals("3D000")) {
            return NON_RECOVERABLE;
        }
        return RECOVERABLE;
    }

    /** Whether a database error is about one row (SQLState class 22/23): see {@link SqlStates#isRowError}. */
    public static boolean isRowError(SQLException e) {
        return SqlStates.isRowError(e);
    }

    /** The SQLState that says most: see {@link SqlStates#sqlState}. */
    public static String sqlState(SQLException e) {
        return SqlStates.sqlState(e);
    }

    /** The exception-policy predicate of the shared error handling: true for every class that must not be retried. */
    public static boolean isNonRecoverable(Exchange exchange) {
        Throwable error = caught(exchange);
        String cls = of(error);
        if (CIRCUIT_OPEN.equals(cls) && openedDuringRun(exchange)) {
            // the breaker opened on this run's own failed attempts: the run failed (recoverable), it was not skipped
            return false;
        }
        return !RECOVERABLE.equals(cls);
    }

    /** True when an open breaker stopped a run that had already failed attempts (so requests were sent). */
    public static boolean openedDuringRun(Exchange exchange) {
        io.syncwarden.sync.RunContext run = exchange.getProperty(io.syncwarden.sync.RunContext.PROPERTY,
                io.syncwarden.sync.RunContext.class);
        if (run == null || run.lastFailure() == null || CIRCUIT_OPEN.equals(of(run.lastFailure()))) {
            return false;
        }
        // and the breaker opened after the run began (a breaker still open from an earlier run makes this one a skip)
        Breakers breakers = exchange.getContext().getRegistry().findSingleByType(Breakers.class);
        for (Throwable t = caught(exchange); t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof io.github.resilience4j.circuitbreaker.CallNotPermittedException open) {
                java.time.Instant since = breakers == null ? null : breakers.since(open.getCausingCircuitBreakerName());
                return since == null || !since.isBefore(run.startedAt());
            }
        }
        return true;
    }

    /** The failure an error handler is dealing with. */
    public static Throwable caught(Exchange exchange) {
        return exchange.getException() != null ? exchange.getException()
                : exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
    }

    /** The HTTP status of an upstream's answer carried by an exception (camel-http or a Google API client), or null. */
    public static Integer httpStatus(Throwable t) {
        if (t instanceof HttpOperationFailedException http) {
            return http.getStatusCode();
        }
        if (t instanceof HttpResponseException google) {
            return google.getStatusCode();
        }
        return null;
    }
}
