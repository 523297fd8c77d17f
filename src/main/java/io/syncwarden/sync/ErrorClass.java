package io.syncwarden.sync;

import org.apache.camel.http.base.HttpOperationFailedException;

/**
 * First cut of error classification, kept in one place (the self-healing issue extends it): recoverable errors
 * are retried, non-recoverable ones are not. Must agree with routes/error-handling.camel.yaml.
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
            if (t instanceof HttpOperationFailedException http) {
                int status = http.getStatusCode();
                return status == 400 || status == 401 || status == 403 || status == 404 ? NON_RECOVERABLE : RECOVERABLE;
            }
        }
        return RECOVERABLE;
    }
}
