package io.syncwarden.sync;

/**
 * The run no longer holds its source's lock (its lease ran out and another run took the source over, or the run was
 * closed by a shutdown): it stops at once, writes nothing more and is not retried, since the source is someone
 * else's now.
 */
public class LeaseLostException extends RuntimeException {
    public LeaseLostException(String message) {
        super(message);
    }
}
