package io.syncwarden.sync;

import io.syncwarden.store.Identifiers;
import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A full-read source's previous rows, kept before a run applies a new read, so an operator can put the table back as
 * it was (a rollback). A snapshot is a copy table in the control schema ({@code syncwarden_snap_<run id>}, exact
 * column types, made with {@code CREATE TABLE .. AS SELECT}) registered in {@code source_snapshot}; the last
 * {@code syncwarden.snapshots.keep} (default 3) per source are kept. A run that changed nothing keeps no snapshot (the
 * previous one already holds those rows); a run that failed or was refused keeps none either.
 */
public final class Snapshots {
    private static final Logger LOG = LoggerFactory.getLogger(Snapshots.class);

    /** A copy taken before a run's apply: {@code copy} is null for an empty table. */
    public record Taken(long runId, String target, String copy, long rows, Instant takenAt) {
    }

    /** A registered snapshot. */
    public record Snapshot(long id, String sourceId, long runId, String target, String copy, long rows, Instant takenAt,
                           Instant restoredAt) {
    }

    private final SyncRuns runs;
    private volatile int keep = 3;

    Snapshots(SyncRuns runs) {
        this.runs = runs;
    }

    /** Snapshots kept per source (syncwarden.snapshots.keep); 0 takes none. */
    public void keep(int count) {
        if (count < 0) {
            throw new IllegalArgumentException("syncwarden.snapshots.keep must be >= 0, was " + count);
        }
        this.keep = count;
    }

    public int kept() {
        return keep;
    }

    /**
     * Copies the target's rows before the run applies anything (its own committed transaction: H2 commits any DDL).
     * Null when snapshots are off.
     */
    public Taken take(Connection c, RunContext run, TargetTable table) throws SQLException {
        if (keep <= 0) {
            return null;
        }
        TargetDatabase db = runs.database();
        long rows;
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + table.name)) {
            rs.next();
            rows = rs.getLong(1);
        }
        String copy = null;
        if (rows > 0) {
            copy = Identifiers.quote(db.schema()) + "." + Identifiers.quote(db.dialect().fold("syncwarden_snap_" + run.runId()));
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + copy); // an earlier attempt of this run may have left one
                s.execute("CREATE TABLE " + copy + " AS SELECT * FROM " + table.name);
            }
        }
        c.commit();
        return new Taken(run.runId(), table.display, copy, rows, Instant.now());
    }

    /**
     * After the run committed: registers the snapshot when the run changed the table, drops it otherwise, and drops
     * the source's snapshots beyond the number kept.
     */
    public void settle(Taken taken, RunContext run, boolean changed) {
        if (taken == null) {
            return;
        }
        if (!changed) {
            discard(taken);
            return;
        }
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(true);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO source_snapshot (source_id, run_id, target_table, "
                    + "copy_table, row_count, taken_at) VALUES (?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, run.sourceId());
                ps.setLong(2, taken.runId());
                ps.setString(3, taken.target());
                ps.setString(4, taken.copy());
                ps.setLong(5, taken.rows());
                ps.setObject(6, SyncRuns.utc(taken.takenAt()));
                ps.executeUpdate();
            }
            List<Snapshot> all = list(c, run.sourceId());
            for (Snapshot old : all.subList(Math.min(all.size(), keep), all.size())) {
                drop(c, old.copy());
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM source_snapshot WHERE snapshot_id = ?")) {
                    ps.setLong(1, old.id());
                    ps.executeUpdate();
                }
            }
        } catch (SQLException e) {
            // the data is committed; only the way back is missing: said, not hidden
            LOG.warn("Sync {} run {}: the snapshot of {} taken before the run could not be registered ({}); this run "
                    + "cannot be rolled back", run.sourceId(), run.runId(), taken.target(), e.getMessage());
            discard(taken);
        }
    }

    /** Drops a copy whose run did not commit (failed, refused) or changed nothing. */
    public void discard(Taken taken) {
        if (taken == null || taken.copy() == null) {
            return;
        }
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(true);
            drop(c, taken.copy());
        } catch (SQLException e) {
            LOG.warn("Snapshot copy {} could not be dropped ({}); it is dropped when the service next starts",
                    taken.copy(), e.getMessage());
        }
    }

    /**
     * Drops copy tables no snapshot entry names and no running run is still taking (a crash between the copy and its
     * registration leaves one behind). Called when the service starts.
     */
    public void dropOrphans() {
        TargetDatabase db = runs.database();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            List<String> copies = new ArrayList<>();
            try (ResultSet rs = c.getMetaData().getTables(null, db.schema(), null, new String[] {"TABLE"})) {
                while (rs.next()) {
                    String name = rs.getString("TABLE_NAME");
                    if (name.toLowerCase(java.util.Locale.ROOT).matches("syncwarden_snap_\\d+")) {
                        copies.add(name);
                    }
                }
            }
            for (String name : copies) {
                String copy = Identifiers.quote(db.schema()) + "." + Identifiers.quote(name);
                long runId = Long.parseLong(name.substring("syncwarden_snap_".length()));
                // a run another node is closing may not have registered its copy yet: only copies of runs that ended
                // more than a lease ago are orphans
                try (PreparedStatement ps = c.prepareStatement("SELECT (SELECT COUNT(*) FROM source_snapshot WHERE copy_table = ?) "
                        + "+ (SELECT COUNT(*) FROM sync_run WHERE run_id = ? AND (status = 'running' OR finished_at IS NULL "
                        + "OR finished_at > ?))")) {
                    ps.setString(1, copy);
                    ps.setLong(2, runId);
                    ps.setObject(3, SyncRuns.utc(Instant.now().minusMillis(runs.settings().leaseMillis())));
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        if (rs.getLong(1) > 0) {
                            continue;
                        }
                    }
                }
                drop(c, copy);
                LOG.info("Dropped snapshot copy {}: no snapshot names it (its run ended before registering it)", copy);
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("Could not look for unregistered snapshot copies: {}", e.getMessage());
        }
    }

    /** The source's snapshots, newest first. */
    public List<Snapshot> list(String sourceId) throws SQLException {
        try (Connection c = runs.database().dataSource().getConnection()) {
            return list(c, sourceId);
        }
    }

    private static List<Snapshot> list(Connection c, String sourceId) throws SQLException {
        List<Snapshot> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT snapshot_id, source_id, run_id, target_table, copy_table, "
                + "row_count, taken_at, restored_at FROM source_snapshot WHERE source_id = ? ORDER BY taken_at DESC, snapshot_id DESC")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    java.time.OffsetDateTime restored = rs.getObject(8, java.time.OffsetDateTime.class);
                    out.add(new Snapshot(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getString(4), rs.getString(5),
                            rs.getLong(6), rs.getObject(7, java.time.OffsetDateTime.class).toInstant(),
                            restored == null ? null : restored.toInstant()));
                }
            }
        }
        return out;
    }

    /** What a rollback did. */
    public record Restored(long runId, long snapshotId, long rowsRestored, long rowsReplaced) {
    }

    /**
     * Puts the source's target table back as it was before run {@code beforeRun} applied its read: in one transaction
     * the table's rows are replaced by the snapshot's (the columns both have). Recorded as a run of the source (trigger
     * {@code rollback}, mode {@code full}): it takes the source's lock, so it cannot interleave with a sync, and the
     * restored row count becomes the guards' baseline. The next scheduled run reads the upstream again: pause the source
     * first when the upstream is still wrong.
     */
    public Restored rollback(String sourceId, String kind, String targetTable, long beforeRun) throws SQLException {
        TargetDatabase db = runs.database();
        Snapshot snap = list(sourceId).stream().filter(s -> s.runId() == beforeRun).findFirst().orElseThrow(() ->
                new IllegalArgumentException("Source " + sourceId + " has no snapshot taken before run " + beforeRun
                        + " (kept: the last " + keep + " runs that changed its table)"));
        RunContext run = runs.begin(sourceId, kind, "rollback");
        if (run == null) {
            throw new IllegalStateException("Source " + sourceId + " is running (or the service is stopping): roll back "
                    + "after the run ends");
        }
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            TargetTable table = TargetTable.existing(c, db, targetTable);
            if (table == null) {
                throw new IllegalStateException("Source " + sourceId + ": its target table " + targetTable + " does not exist");
            }
            if (!table.display.equalsIgnoreCase(snap.target())) {
                throw new IllegalStateException("Snapshot " + snap.id() + " is of " + snap.target() + ", the source now writes "
                        + table.display);
            }
            refuseReferenced(c, table);
            run.mode("full");
            // the table as it is now is kept too: a rollback to the wrong snapshot can itself be rolled back
            Taken before = take(c, run, table);
            RunContext.Counts counts = new RunContext.Counts();
            try {
                try (Statement s = c.createStatement()) {
                    counts.deleted = s.executeUpdate("DELETE FROM " + table.name);
                    if (snap.copy() != null) {
                        List<String> cols = copyColumns(c, db, snap.copy(), table);
                        String list = cols.stream().map(table::quoted).collect(Collectors.joining(", "));
                        counts.inserted = s.executeUpdate("INSERT INTO " + table.name + " (" + list + ") SELECT " + list
                                + " FROM " + snap.copy());
                    }
                }
                counts.read = counts.inserted;
                try (PreparedStatement ps = c.prepareStatement("UPDATE sync_checkpoint SET phase = ? WHERE source_id = ? AND phase = ?")) {
                    // a read the restored table knows nothing of is not resumed: the next run reads everything again
                    ps.setString(1, Checkpoints.COMPLETE);
                    ps.setString(2, sourceId);
                    ps.setString(3, Checkpoints.IN_PROGRESS);
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement(
                        "UPDATE source_health SET last_row_count = ?, updated_at = ? WHERE source_id = ?")) {
                    // the guards compare the next read with what the table holds again
                    ps.setLong(1, counts.inserted);
                    ps.setObject(2, SyncRuns.utc(Instant.now()));
                    ps.setString(3, sourceId);
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement(
                        "UPDATE source_snapshot SET restored_at = ?, restored_by_run = ? WHERE snapshot_id = ?")) {
                    ps.setObject(1, SyncRuns.utc(Instant.now()));
                    ps.setLong(2, run.runId());
                    ps.setLong(3, snap.id());
                    ps.executeUpdate();
                }
                runs.commitBatch(c, run, counts, 0, "restored the snapshot taken before run " + beforeRun, null, counts.inserted);
                c.commit();
                run.commit(counts, 0, null);
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                discard(before);
                throw e;
            }
            settle(before, run, true);
        } catch (SQLException | RuntimeException e) {
            runs.fail(sourceId, run, new Failure(e, Failure.NON_RECOVERABLE, "rollback to the snapshot taken before run "
                    + beforeRun + " failed, the table is as it was: " + e.getMessage(), "failed", false));
            throw e;
        }
        runs.complete(run);
        LOG.warn("Sync {}: table {} rolled back to its snapshot taken before run {} ({} rows restored, {} replaced) by run {}",
                sourceId, snap.target(), beforeRun, run.inserted(), run.deleted(), run.runId());
        return new Restored(run.runId(), snap.id(), run.inserted(), run.deleted());
    }

    /**
     * A table other tables reference is not rolled back: its rows are deleted and inserted again, which a foreign key
     * would cascade to (or refuse).
     */
    private static void refuseReferenced(Connection c, TargetTable table) throws SQLException {
        String display = table.display();
        String schema = display.substring(0, display.indexOf('.'));
        String name = display.substring(display.indexOf('.') + 1);
        try (ResultSet rs = c.getMetaData().getExportedKeys(null, schema, name)) {
            if (rs.next()) {
                throw new IllegalStateException("Table " + display + " is referenced by " + rs.getString("FKTABLE_NAME") + "."
                        + rs.getString("FKCOLUMN_NAME") + " (foreign key " + rs.getString("FK_NAME") + "): a rollback deletes "
                        + "and re-inserts its rows, which the foreign key would cascade to or refuse; roll back by hand");
            }
        }
    }

    /** The snapshot's columns that the table still has (a column added since is left NULL, one removed is dropped). */
    private static List<String> copyColumns(Connection c, TargetDatabase db, String copy, TargetTable table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM " + copy + " WHERE 1 = 0")) {
            var md = rs.getMetaData();
            for (int i = 1; i <= md.getColumnCount(); i++) {
                String name = md.getColumnName(i).toLowerCase(java.util.Locale.ROOT);
                if (table.columns.containsKey(name)) {
                    out.add(name);
                }
            }
        }
        return out;
    }

    private static void drop(Connection c, String copy) throws SQLException {
        if (copy != null) {
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + copy);
            }
        }
    }
}
