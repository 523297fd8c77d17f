package io.syncwarden.sync;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletions for a full read that commits batch by batch (the jdbc kind's {@code full} mode): after the read completed,
 * target rows whose key the source no longer has are marked deleted, removed or kept (the source's
 * {@code deletions}), in one transaction with the run's count. The common case costs one count: when the table holds
 * exactly the rows the run wrote (and none marked), nothing can be missing. Otherwise the source's keys are loaded
 * (16 bytes each) and the target's streamed against them.
 */
public final class DeletionSweep {
    private static final Logger LOG = LoggerFactory.getLogger(DeletionSweep.class);

    /** The keys the source holds now, remembered in full; null when there are more than one read remembers. */
    public interface SourceKeys {
        KeyTracker load() throws SQLException;
    }

    private DeletionSweep() {
    }

    public static void afterFullRead(SyncRuns runs, RunContext run, String targetTable, List<String> keys,
                                     List<String> readColumns, BatchWriter.Deletions mode, SourceKeys sourceKeys)
            throws SQLException {
        if (mode == BatchWriter.Deletions.KEEP || !"full".equals(run.mode()) || run.read() == 0) {
            return; // an empty read (let through once by an operator) marks nothing
        }
        var db = runs.database();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                TargetTable table = TargetTable.existing(c, db, targetTable);
                if (table == null) {
                    return;
                }
                boolean hasMark = table.columns.containsKey(TargetTable.DELETED_AT);
                long all;
                long marked;
                // a bare COUNT(*) is answered from the table's row count where the database keeps one (H2)
                all = count(c, "SELECT COUNT(*) FROM " + table.name);
                marked = hasMark ? count(c, "SELECT COUNT(*) FROM " + table.name + " WHERE "
                        + table.quoted(TargetTable.DELETED_AT) + " IS NOT NULL") : 0;
                long written = run.inserted() + run.updated() + run.unchanged();
                if (run.resumedFrom() == null && all - marked == written && marked == 0) {
                    c.commit();
                    return; // every row of the table was written by this read: none is missing
                }
                KeyTracker present = sourceKeys.load();
                if (present == null || !present.exact()) {
                    LOG.warn("Sync {} run {}: rows missing upstream are not judged this time: more keys than one read remembers ({})",
                            run.sourceId(), run.runId(), KeyTracker.MAX_KEYS);
                    c.commit();
                    return;
                }
                if (mode == BatchWriter.Deletions.MARK) {
                    table = table.withDeletedAt(c, db);
                    String conflict = table.deletedAtConflict(readColumns);
                    if (conflict != null) {
                        LOG.warn("Sync {} run {}: rows missing upstream are not judged: {}", run.sourceId(), run.runId(), conflict);
                        c.commit();
                        return;
                    }
                }
                MissingRows.Found found = MissingRows.sweep(c, table, keys, present::contains, mode, Instant.now());
                if (written > 0 && found.matched() < written / 2) {
                    // the rows this run just wrote are (nearly all) still in the replica: most of them not found again by
                    // key means the two databases' key values do not compare (types), not that the replica lost them
                    throw new NonRecoverableSyncException("Source " + run.sourceId() + ": only " + found.matched() + " of the "
                            + written + " rows written could be found by key among the replica's keys (do the key columns' "
                            + "types differ between the replica and " + table.display() + "?); no row was marked deleted");
                }
                if (found.missing() > 0) {
                    runs.guardDeletions(run, found.missing(), Math.max(0, found.active() - run.inserted()), "the rows read were applied, none was "
                            + (mode == BatchWriter.Deletions.MARK ? "marked deleted" : "removed"));
                }
                RunContext.Counts counts = new RunContext.Counts();
                counts.deleted = found.missing();
                runs.commitBatch(c, run, counts, run.committedPosition(), null, null, 0);
                c.commit();
                run.commit(counts, run.committedPosition(), null);
                if (found.missing() > 0 || found.revived() > 0) {
                    LOG.info("Sync {} run {}: {} row(s) of {} no longer in the source {}{}", run.sourceId(), run.runId(),
                            found.missing(), table.display(), mode == BatchWriter.Deletions.MARK ? "marked deleted" : "removed",
                            found.revived() > 0 ? "; " + found.revived() + " marked row(s) back, unmarked" : "");
                }
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
