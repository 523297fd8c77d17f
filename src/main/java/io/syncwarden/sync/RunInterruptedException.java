package io.syncwarden.sync;

/**
 * The service is stopping: the run stops at its next batch boundary, keeps its checkpoint and is recorded as
 * {@code interrupted}; the next run resumes where it stopped. Not retried.
 */
public class RunInterruptedException extends RuntimeException {
    public RunInterruptedException(String message) {
        super(message);
    }
}
