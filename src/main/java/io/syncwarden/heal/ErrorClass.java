package io.syncwarden.heal;

import com.google.api.client.http.HttpResponseException;
import io.syncwarden.sync.NonRecoverableSyncException;
import org.apache.camel.Exchange;
import org.apache.camel.http.base.HttpOperationFailedException;

/**
 * First cut of error classification, kept in one place (the self-healing issue extends it): recoverable errors
 * are retried, non-recoverable ones are not. routes/error-handling.camel.yaml asks {@link #isNonRecoverable}.
 *
 * <p>Non-recoverable: configuration and data-shape errors ({@link NonRecoverableSyncException}) and an upstream's
 * 400/401/403/404 (the request or the credentials are wrong and will stay wrong). Everything else (timeouts, lost
 * connections, 429, 5xx, database errors) is recoverable.
 */
public final class ErrorClass {
    public static final String RECOVERABLE = "recoverable";
    public static final String NON_RECOVERABLE = "non_recoverable";

    private ErrorClass() {
    }

    public static String of(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof NonRecoverableSyncException) {
                return NON_RECOVERABLE;
            }
            Integer status = httpStatus(t);
            if (status != null) {
                return status == 400 || status == 401 || status == 403 || status == 404 ? NON_RECOVERABLE : RECOVERABLE;
            }
        }
        return RECOVERABLE;
    }

    /** The exception-policy predicate of the shared error handling. */
    public static boolean isNonRecoverable(Exchange exchange) {
        Throwable error = exchange.getException() != null ? exchange.getException()
                : exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        return NON_RECOVERABLE.equals(of(error));
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
