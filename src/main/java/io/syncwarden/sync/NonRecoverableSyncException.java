package io.syncwarden.sync;

/** A failure that retrying cannot fix (bad configuration, missing column, rejected credentials): no redelivery. */
public class NonRecoverableSyncException extends RuntimeException {
    public NonRecoverableSyncException(String message) {
        super(message);
    }

    public NonRecoverableSyncException(String message, Throwable cause) {
        super(message, cause);
    }
}
