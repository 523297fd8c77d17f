package io.syncwarden.sync;

import java.time.Instant;

/** One run of one source, carried on the exchange from lock to close. Counts are cumulative over redeliveries. */
public final class RunContext {
    public static final String PROPERTY = "syncwardenRun";
    public static final String REFUSED = "syncwardenRefused";
    /** Exchange property: the counts when the current read began, restored when that read is retried from its start. */
    public static final String COUNTS = "syncwardenCountsAtReadStart";

    private final long runId;
    private final String sourceId;
    private final String kind;
    private final String trigger;
    private final Instant startedAt;
    private String mode;
    private String resumedFrom;
    private String outcome = "success";
    private int attempts = 0;
    long read;
    long inserted;
    long updated;
    long unchanged;
    long rejected;
    long skipped;

    RunContext(long runId, String sourceId, String kind, String trigger, Instant startedAt) {
        this.runId = runId;
        this.sourceId = sourceId;
        this.kind = kind;
        this.trigger = trigger;
        this.startedAt = startedAt;
    }

    public long runId() { return runId; }
    public String sourceId() { return sourceId; }
    public String kind() { return kind; }
    public String trigger() { return trigger; }
    public Instant startedAt() { return startedAt; }
    public String mode() { return mode; }
    public void mode(String mode) { this.mode = mode; }
    public String resumedFrom() { return resumedFrom; }
    public void resumedFrom(String cursor) { this.resumedFrom = cursor; }
    public int attempts() { return attempts; }
    public void startAttempt() { attempts++; }
    /** {@code success} or {@code empty} (the upstream answered with no data rows). */
    public String outcome() { return outcome; }
    public void markEmpty() { outcome = "empty"; }
    public long read() { return read; }
    public long inserted() { return inserted; }
    public long updated() { return updated; }
    public long unchanged() { return unchanged; }
    public long rejected() { return rejected; }
    public long skipped() { return skipped; }
    public void addRead(long n) { read += n; }
    /** The counters, for {@link #restore} when a read that starts over is retried. */
    public long[] counts() { return new long[] {read, inserted, updated, unchanged, rejected, skipped}; }
    public void restore(long[] c) {
        read = c[0];
        inserted = c[1];
        updated = c[2];
        unchanged = c[3];
        rejected = c[4];
        skipped = c[5];
    }
    public void addSkipped(long n) { skipped += n; }
    public void addRejected(long n) { rejected += n; }
}
