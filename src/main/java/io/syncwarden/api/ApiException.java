package io.syncwarden.api;

/** An answer other than success: its HTTP status and a message safe to show any caller. */
public class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String message) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
