package io.syncwarden.sync;

/**
 * A guard refused the run before anything of it was applied (e.g. the upstream returned no rows while the last good
 * run had rows): recorded with its own status ({@code refused_empty}), an incident is opened, nothing is retried.
 */
public class RunRefusedException extends RuntimeException {
    private final String status;

    public RunRefusedException(String status, String message) {
        super(message);
        this.status = status;
    }

    /** The run's status: {@code refused_empty}, {@code refused_shrink}. */
    public String status() {
        return status;
    }
}
