package io.syncwarden.sync;

import java.time.Instant;

/**
 * One run of one source, carried on the exchange from lock to close. Its counts are those of committed batches only
 * (a batch that rolls back counts nothing), and they are written to the run's record with every batch, so a run that
 * dies keeps a true record of what it wrote.
 */
public final class RunContext {
    public static final String PROPERTY = "syncwardenRun";
    public static final String REFUSED = "syncwardenRefused";
    /** Exchange property: what fired the run (schedule, startup, manual, retry, recovery, watchdog, webhook). */
    public static final String TRIGGER = "syncwardenTrigger";
    /** Exchange property: true drops the source's checkpoint once the run holds the lock (read everything again). */
    public static final String RESTART = "syncwardenRestart";
    /** Why a trigger did not start a run when it was not a running run holding the lock (e.g. {@code paused: ...}). */
    public static final String REFUSED_REASON = "syncwardenRefusedReason";
    /** The upstream rate-limited the run (every key): the instant it said it answers again. */
    public static final String RATE_LIMITED_UNTIL = "syncwardenRateLimitedUntil";

    private final long runId;
    private final String sourceId;
    private final String kind;
    private final String trigger;
    private final Instant startedAt;
    private volatile String mode;
    private volatile String resumedFrom;
    private volatile String outcome = "success";
    private volatile int failures;
    private volatile Throwable lastLoggedFailure;
    private volatile boolean interruptRequested;
    private volatile String interruptReason;
    private volatile long expectedRows = -1;
    private volatile String leaseLost;
    private volatile String progress;
    private volatile long committedPosition;
    private volatile Instant lastCommitAt;
    private volatile String closedStatus;
    volatile long read;
    volatile long inserted;
    volatile long updated;
    volatile long unchanged;
    volatile long rejected;
    volatile long skipped;
    volatile long deleted;
    private volatile String newColumns;
    private volatile String upstreamColumns;

    RunContext(long runId, String sourceId, String kind, String trigger, Instant startedAt) {
        this.runId = runId;
        this.sourceId = sourceId;
        this.kind = kind;
        this.trigger = trigger;
        this.startedAt = startedAt;
        this.lastCommitAt = startedAt;
    }

    public long runId() { return runId; }
    public String sourceId() { return sourceId; }
    public String kind() { return kind; }
    public String trigger() { return trigger; }
    public Instant startedAt() { return startedAt; }
    /** The rows the read will bring when known before it (a counted full read), else -1: for progress and ETA. */
    public long expectedRows() { return expectedRows; }
    public void expectedRows(long rows) { expectedRows = rows; }
    public String mode() { return mode; }
    public void mode(String mode) { this.mode = mode; }
    public String resumedFrom() { return resumedFrom; }
    public void resumedFrom(String cursor) { this.resumedFrom = cursor; }
    /** {@code success} or {@code empty} (the upstream answered with no data rows). */
    public String outcome() { return outcome; }
    public void markEmpty() { outcome = "empty"; }
    public long read() { return read; }
    public long inserted() { return inserted; }
    public long updated() { return updated; }
    public long unchanged() { return unchanged; }
    public long rejected() { return rejected; }
    public long skipped() { return skipped; }
    /** Rows of the target this run marked deleted (or removed): missing from its complete, accepted full read. */
    public long deleted() { return deleted; }
    /** Upstream columns the previous good run did not have (comma-separated), or null. */
    public String newColumns() { return newColumns; }
    /** The upstream's columns as this run found them (comma-separated), or null where the kind does not tell. */
    public String upstreamColumns() { return upstreamColumns; }
    public void columns(String upstream, String added) {
        this.upstreamColumns = upstream;
        this.newColumns = added;
    }
    /** Where the last committed batch ended (a checkpoint cursor, a line, a page), for the run's record. */
    public String progress() { return progress; }
    public void progress(String progress) { this.progress = progress; }
    /** The read position (line, sheet row, result row) through which everything read was committed. */
    public long committedPosition() { return committedPosition; }
    public Instant lastCommitAt() { return lastCommitAt; }

    /** Failed attempts so far (each redelivery follows one). */
    public int failures() { return failures; }
    private volatile boolean allowedPastGuards;
    /** An operator's one-time permission was taken by this run: its later guard checks (and retries) pass. */
    public boolean allowedPastGuards() { return allowedPastGuards; }
    void allowPastGuards() { allowedPastGuards = true; }
    /** The last failure of an attempt of this run (what a breaker that opened meanwhile is hiding). */
    public Throwable lastFailure() { return lastLoggedFailure; }

    /** Attempts made: every failed one, plus the one that succeeded. */
    public int attempts(boolean succeeded) {
        return Math.max(1, failures + (succeeded ? 1 : 0));
    }

    /** Counts a failed attempt; false when this very failure was already counted (the error handler sees it twice). */
    synchronized boolean failed(Throwable error) {
        if (error != null && error == lastLoggedFailure) {
            return false;
        }
        lastLoggedFailure = error;
        failures++;
        return true;
    }

    /** The service is stopping: the run stops at its next batch boundary. */
    public void requestInterrupt() { requestInterrupt("the service is stopping"); }
    /** Someone asked the run to stop ({@code why}: "stopped by <who>"): it stops at its next batch boundary. */
    public void requestInterrupt(String why) { interruptReason = why; interruptRequested = true; }
    public boolean interruptRequested() { return interruptRequested; }
    /** Why the run was asked to stop. */
    public String interruptReason() { return interruptReason == null ? "the service is stopping" : interruptReason; }

    /** The lease keeper found the lock gone: the run must write nothing more. */
    void leaseLost(String why) { leaseLost = why; }
    public String leaseLost() { return leaseLost; }

    /** The status the run was closed with, or null while it runs. */
    public String closedStatus() { return closedStatus; }
    void closed(String status) { closedStatus = status; }

    /** Adds a committed batch's counts. */
    void commit(Counts c, long position, String progress) {
        read += c.read;
        inserted += c.inserted;
        updated += c.updated;
        unchanged += c.unchanged;
        rejected += c.rejected;
        skipped += c.skipped;
        deleted += c.deleted;
        committedPosition = Math.max(committedPosition, position);
        if (progress != null) {
            this.progress = progress;
        }
        lastCommitAt = Instant.now();
    }

    /** Counts of one batch, added to the run when the batch commits. */
    public static final class Counts {
        long read;
        long inserted;
        long updated;
        long unchanged;
        long rejected;
        long skipped;
        long deleted;

        boolean isEmpty() {
            return read == 0 && skipped == 0;
        }

        void clear() {
            read = inserted = updated = unchanged = rejected = skipped = deleted = 0;
        }

        void add(Counts c) {
            read += c.read;
            inserted += c.inserted;
            updated += c.updated;
            unchanged += c.unchanged;
            rejected += c.rejected;
            skipped += c.skipped;
            deleted += c.deleted;
        }
    }
}
