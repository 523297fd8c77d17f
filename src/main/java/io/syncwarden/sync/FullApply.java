package io.syncwarden.sync;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A full read that cannot resume (a CSV report, a sheet: a retry downloads the whole body again) applied as one
 * transaction, in this order:
 * <ol>
 *   <li>a snapshot of the target's rows (for a rollback), committed on its own;</li>
 *   <li>every row written under savepoints ({@link BatchWriter#atomic()}), bad rows rejected with their reason;</li>
 *   <li>the guards: the read's size against the last good run's (empty, shrunk), then the deletions it implies (rows
 *       of the target the read no longer has, marked {@code deleted_at}, removed or kept per the source's
 *       {@code deletions}) against the table's size;</li>
 *   <li>one commit of rows, rejected rows, deletions, the run's counts and its lease.</li>
 * </ol>
 * A failure or a refusal anywhere before the commit rolls everything back: the target is exactly as it was, and the
 * snapshot is dropped. A run that changed nothing keeps no snapshot.
 */
public final class FullApply {
    private static final Logger LOG = LoggerFactory.getLogger(FullApply.class);

    private final Connection c;
    private final SyncRuns runs;
    private final RunContext run;
    private final BatchWriter.Deletions deletions;
    private TargetTable table;
    private Snapshots.Taken snapshot;
    private BatchWriter writer;
    /** Why this read cannot mark rows deleted (null: it can). */
    private String notJudged;

    private FullApply(Connection c, SyncRuns runs, RunContext run, TargetTable table, BatchWriter.Deletions deletions) {
        this.c = c;
        this.runs = runs;
        this.run = run;
        this.table = table;
        this.deletions = deletions;
    }

    /**
     * Prepares the apply of a fresh full read into {@code table} (a {@code deleted_at} column added when deletions are
     * marked and the table has none; the snapshot taken). {@code c} has autocommit off.
     */
    public static FullApply begin(Connection c, SyncRuns runs, RunContext run, TargetTable table, BatchWriter.Deletions deletions)
            throws SQLException {
        FullApply apply = new FullApply(c, runs, run, table, deletions);
        if (deletions == BatchWriter.Deletions.MARK) {
            apply.table = table.withDeletedAt(c, runs.database());
        }
        apply.snapshot = runs.snapshots().take(c, run, apply.table);
        return apply;
    }

    /** The table as the apply writes it (with {@code deleted_at} where deletions are marked). */
    public TargetTable table() {
        return table;
    }

    /** The writer for the read's rows: atomic, every key remembered (deletions are judged against them). */
    public BatchWriter writer(List<String> columns, List<String> keys, int batchSize) throws SQLException {
        if (deletions == BatchWriter.Deletions.MARK) {
            String conflict = table.deletedAtConflict(columns);
            notJudged = conflict;
        }
        writer = new BatchWriter(c, runs.database().dialect(), table, columns, keys, batchSize, run, runs, null, 0).atomic();
        return writer;
    }

    /**
     * The upstream's columns as this read found them: recorded with the run, and those the previous good run did not
     * have are reported as new (logged and in {@code sync_run.new_columns}); unmapped ones are not read.
     */
    public void columns(List<String> upstream) throws SQLException {
        runs.reportColumns(run, upstream);
    }

    /**
     * After the last row: the guards, the deletions, one commit. {@code guardSize}: the read's size is judged here
     * (a kind that could not count its rows before writing them).
     */
    public void commit(boolean guardSize) throws SQLException {
        writer.finish();
        if (guardSize) {
            runs.guardCount(run, writer.stagedRead());
        }
        // an empty read (let through once by an operator) applies nothing: it marks no row deleted either
        BatchWriter.Missing missing = writer.stagedRead() == 0 ? new BatchWriter.Missing(0, 0, 0, "the read has no rows")
                : notJudged != null ? new BatchWriter.Missing(0, 0, 0, notJudged)
                : writer.findMissing(deletions, Instant.now());
        if (missing.skipped() != null && writer.stagedRead() > 0) {
            LOG.warn("Sync {} run {}: rows missing upstream are not judged this time: {}", run.sourceId(), run.runId(),
                    missing.skipped());
        } else if (deletions != BatchWriter.Deletions.KEEP) {
            runs.guardDeletions(run, missing.missing(), missing.active());
        }
        writer.commit();
        if (missing.missing() > 0 || missing.revived() > 0) {
            LOG.info("Sync {} run {}: {} row(s) of {} no longer upstream {}{}", run.sourceId(), run.runId(), missing.missing(),
                    table.display(), deletions == BatchWriter.Deletions.MARK ? "marked deleted"
                            : deletions == BatchWriter.Deletions.DELETE ? "removed" : "kept (deletions: keep)",
                    missing.revived() > 0 ? "; " + missing.revived() + " marked row(s) back upstream, unmarked" : "");
        }
        boolean changed = run.inserted() + run.updated() + run.deleted() + missing.revived() > 0;
        runs.snapshots().settle(snapshot, run, changed);
        snapshot = null;
    }

    /** Before {@link #commit}: a failure or refusal. Everything the read wrote is rolled back, the snapshot dropped. */
    public void abort() {
        if (writer != null) {
            writer.rollback();
        } else {
            try {
                c.rollback();
            } catch (SQLException ignored) {
                // the connection is gone; its transaction went with it
            }
        }
        runs.snapshots().discard(snapshot);
        snapshot = null;
    }
}
