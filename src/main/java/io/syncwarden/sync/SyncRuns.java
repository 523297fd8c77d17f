package io.syncwarden.sync;

import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Run lifecycle: opens a run record under the source's lock, writes each committed batch's counts into it, and
 * closes it with the truth, keeping {@code source_health} current.
 *
 * <ul>
 *   <li>The lock is a {@code source_lock} row with a lease. Opening the run and taking the lock are one transaction;
 *       a lease keeper renews the lease of every live run of this node on a timer, so a node that dies frees its
 *       sources within one lease, and a run that finds its lock gone stops writing at once.</li>
 *   <li>A trigger that finds its source running is counted on the running run ({@code refused_triggers}) and in a
 *       metric, not written as a run of its own.</li>
 *   <li>Closing a run changes it only while it is still {@code running} and holds the lock. When the target database is
 *       down at close, the run's true outcome is kept in memory, counted in metrics and logs, and written as soon as the
 *       database answers again (also over an {@code abandoned} a takeover wrote meanwhile).</li>
 *   <li>A stopping service asks its runs to stop at their next batch boundary, waits for them up to a grace period,
 *       then closes what is left as {@code interrupted} and releases the locks, so a restarted service never waits
 *       for its own leases. Starting, it closes runs its node left {@code running} (a crash) as {@code abandoned}.</li>
 * </ul>
 */
public class SyncRuns {
    private static final Logger LOG = LoggerFactory.getLogger(SyncRuns.class);

    /** A record that could not be written (target database down), kept until it can. */
    /** A record that is written later when the target database cannot be reached now (kept in memory, in order). */
    public interface Pending {
        void write(Connection c) throws SQLException;

        String what();
    }

    /**
     * Told of every run close, inside the close's transaction (so a retry entry is settled, or an incident resolved,
     * exactly when the run's record says it succeeded). Also called for closes written late.
     */
    public interface CloseListener {
        void closed(Connection c, RunContext run, String status, String errorClass, Instant at) throws SQLException;
    }

    private final List<CloseListener> closeListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    public void addCloseListener(CloseListener listener) {
        closeListeners.add(listener);
    }

    /** The last outcome of a source seen by this node, for health when the database cannot be asked. */
    public record Outcome(String status, String errorClass, String error, Instant at, boolean recorded) {
    }

    private final TargetDatabase db;
    private final SyncSettings settings;
    private final SyncMetrics metrics;
    private final Map<Long, RunContext> active = new ConcurrentHashMap<>();
    private final Map<Long, Instant> progressLogged = new ConcurrentHashMap<>();
    private final Map<String, Outcome> outcomes = new ConcurrentHashMap<>();
    private final Queue<Pending> pending = new ConcurrentLinkedQueue<>();
    private final Object drained = new Object();
    private volatile boolean stopping;
    private final java.util.Set<String> held = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Keeps new runs of a source from starting (a reload replacing its route waits for the current run, then swaps
     * it: no new run may start in between); closing the handle lets them start again.
     */
    public AutoCloseable hold(String sourceId) {
        held.add(sourceId);
        return () -> held.remove(sourceId);
    }
    private ScheduledExecutorService timer;

    public SyncRuns(TargetDatabase db, SyncSettings settings, SyncMetrics metrics) {
        this.db = db;
        this.settings = settings;
        this.metrics = metrics;
    }

    private final Snapshots snapshots = new Snapshots(this);

    /** The snapshots full-read sources keep before they apply a read, and the rollback to one. */
    public Snapshots snapshots() {
        return snapshots;
    }

    public TargetDatabase database() {
        return db;
    }

    public SyncMetrics metrics() {
        return metrics;
    }

    public SyncSettings settings() {
        return settings;
    }

    /** Runs of this node that have not closed yet. */
    public List<RunContext> activeRuns() {
        return List.copyOf(active.values());
    }

    /** This node's last outcome per source (also those not yet written to the database). */
    public Outcome lastOutcome(String sourceId) {
        return outcomes.get(sourceId);
    }

    /** Records waiting for the target database. */
    public int pendingRecords() {
        return pending.size();
    }

    /**
     * Closes what this node left running before it (re)started, then starts the lease keeper and the retry of pending
     * records. Runs before any source can start a run.
     */
    public synchronized void start() throws SQLException {
        abandonRunsOfThisNode();
        snapshots.dropOrphans();
        if (timer == null) {
            timer = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "syncwarden-lease-keeper");
                t.setDaemon(true);
                return t;
            });
            timer.scheduleWithFixedDelay(this::heartbeat, settings.heartbeatMillis(), settings.heartbeatMillis(), TimeUnit.MILLISECONDS);
            timer.scheduleWithFixedDelay(this::writePending, settings.pendingRetryMillis(), settings.pendingRetryMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void abandonRunsOfThisNode() throws SQLException {
        Instant now = Instant.now();
        List<long[]> left = new ArrayList<>();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("SELECT run_id, started_at FROM sync_run WHERE node_id = ? AND status = 'running'")) {
                ps.setString(1, settings.nodeId());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        left.add(new long[] {rs.getLong(1), rs.getObject(2, OffsetDateTime.class).toInstant().toEpochMilli()});
                    }
                }
            }
            for (long[] run : left) {
                abandon(c, run[0], now, now.toEpochMilli() - run[1],
                        "node " + settings.nodeId() + " restarted while the run was running (a crash or a kill)");
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM source_lock WHERE node_id = ?")) {
                ps.setString(1, settings.nodeId());
                ps.executeUpdate();
            }
            c.commit();
        }
        for (long[] run : left) {
            LOG.warn("Run {} was left running by this node's previous process: recorded as abandoned, its lock released", run[0]);
        }
    }

    /**
     * Opens a run and takes its source's lock, in one transaction; null (and nothing written but a count on the
     * running run) when another live run holds the lock, or when the service is stopping.
     */
    public RunContext begin(String sourceId, String kind, String trigger) throws SQLException {
        if (stopping) {
            LOG.info("Sync {} ({}) not started: the service is stopping", sourceId, trigger);
            return null;
        }
        if (held.contains(sourceId)) {
            LOG.info("Sync {} ({}) not started: its route is being replaced by a routes reload", sourceId, trigger);
            return null;
        }
        Instant now = Instant.now();
        String refusedBy = null;
        Long holderRun = null;
        RunContext run = null;
        Long abandonedRun = null;
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                Long previousRun = null;
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT run_id, node_id, lease_until FROM source_lock WHERE source_id = ? FOR UPDATE")) {
                    ps.setString(1, sourceId);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next()) {
                            OffsetDateTime lease = rs.getObject(3, OffsetDateTime.class);
                            if (lease.toInstant().isAfter(now)) {
                                holderRun = rs.getLong(1);
                                refusedBy = "run " + holderRun + " on node " + rs.getString(2) + " holds the lock until " + lease.toInstant();
                            } else {
                                previousRun = rs.getLong(1);
                            }
                        }
                    }
                }
                if (holderRun == null) {
                    long runId = insertRun(c, sourceId, kind, trigger, now);
                    if (previousRun != null) {
                        if (takeOver(c, sourceId, previousRun, runId, now)) {
                            abandon(c, previousRun, now, null, "lease expired (its node stopped or hung); lock taken over by run " + runId);
                            abandonedRun = previousRun;
                        } else {
                            refusedBy = "another run took the expired lock first";
                        }
                    } else if (!insertLock(c, sourceId, runId, now)) {
                        refusedBy = "another run took the lock at the same moment";
                    }
                    if (refusedBy == null) {
                        run = new RunContext(runId, sourceId, kind, trigger, now);
                    }
                }
                if (run == null) {
                    c.rollback();
                    countRefused(c, sourceId, holderRun, now);
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
        if (abandonedRun != null) {
            metrics.run(sourceId, "abandoned", 0);
            LOG.warn("Sync {}: run {} lost its lease (its node stopped or hung): recorded as abandoned; run {} takes over",
                    sourceId, abandonedRun, run.runId());
        }
        if (run == null) {
            metrics.refused(sourceId, trigger);
            LOG.info("Sync {} ({}) not started: {}", sourceId, trigger, refusedBy);
            return null;
        }
        active.put(run.runId(), run);
        if (stopping) {
            // stop() began while this run was being opened and may already have looked for runs to close
            forceInterrupt(run);
            return null;
        }
        LOG.info("Sync {} run {} started ({}) on node {}", sourceId, run.runId(), trigger, settings.nodeId());
        return run;
    }

    private long insertRun(Connection c, String sourceId, String kind, String trigger, Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO sync_run (source_id, source_kind, run_trigger, status, node_id, started_at) VALUES (?, ?, ?, 'running', ?, ?)",
                new String[] {"run_id"})) {
            ps.setString(1, sourceId);
            ps.setString(2, kind);
            ps.setString(3, trigger);
            ps.setString(4, settings.nodeId());
            ps.setObject(5, utc(now));
            ps.executeUpdate();
            try (ResultSet keys = ps.getGeneratedKeys()) {
                keys.next();
                return keys.getLong(1);
            }
        }
    }

    private boolean takeOver(Connection c, String sourceId, long previousRun, long runId, Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "UPDATE source_lock SET run_id = ?, node_id = ?, acquired_at = ?, heartbeat_at = ?, lease_until = ?, "
                        + "stop_requested_by = NULL WHERE source_id = ? AND run_id = ? AND lease_until < ?")) {
            ps.setLong(1, runId);
            ps.setString(2, settings.nodeId());
            ps.setObject(3, utc(now));
            ps.setObject(4, utc(now));
            ps.setObject(5, utc(now.plusMillis(settings.leaseMillis())));
            ps.setString(6, sourceId);
            ps.setLong(7, previousRun);
            ps.setObject(8, utc(now));
            return ps.executeUpdate() == 1;
        }
    }

    private boolean insertLock(Connection c, String sourceId, long runId, Instant now) throws SQLException {
        java.sql.Savepoint sp = c.setSavepoint();
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO source_lock (source_id, run_id, node_id, acquired_at, heartbeat_at, lease_until) VALUES (?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, sourceId);
            ps.setLong(2, runId);
            ps.setString(3, settings.nodeId());
            ps.setObject(4, utc(now));
            ps.setObject(5, utc(now));
            ps.setObject(6, utc(now.plusMillis(settings.leaseMillis())));
            ps.executeUpdate();
            return true;
        } catch (SQLException e) {
            if (e.getSQLState() != null && e.getSQLState().startsWith("23")) {
                c.rollback(sp);
                return false;
            }
            throw e;
        }
    }

    /** A run whose lease ran out keeps its counts (written batch by batch) and gets a failure-log entry saying why. */
    /**
     * A run whose lease expired (its node died or hung past the lease, judged by the lease's age, never by the run's
     * status alone): the run is closed as {@code abandoned} and the lock released, so the source can run again. Returns
     * the abandoned run's id, or null when the source's lock is live or free.
     */
    public Long releaseExpired(String sourceId) throws SQLException {
        Instant now = Instant.now();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                Long runId = null;
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT run_id FROM source_lock WHERE source_id = ? AND lease_until < ? FOR UPDATE")) {
                    ps.setString(1, sourceId);
                    ps.setObject(2, utc(now));
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next()) {
                            runId = rs.getLong(1);
                        }
                    }
                }
                if (runId == null) {
                    c.commit();
                    return null;
                }
                abandon(c, runId, now, null, "lease expired (its node stopped or hung); released by the watchdog");
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM source_lock WHERE source_id = ? AND run_id = ?")) {
                    ps.setString(1, sourceId);
                    ps.setLong(2, runId);
                    ps.executeUpdate();
                }
                c.commit();
                LOG.warn("Sync {} run {}: lease expired; closed as abandoned and its lock released", sourceId, runId);
                return runId;
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly(c);
                throw e;
            }
        }
    }

    private void abandon(Connection c, long runId, Instant now, Long durationMillis, String why) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE sync_run SET status = 'abandoned', finished_at = ?, "
                + "duration_ms = COALESCE(?, duration_ms), error_class = ?, error_message = ? WHERE run_id = ? AND status = 'running'")) {
            ps.setObject(1, utc(now));
            ps.setObject(2, durationMillis);
            ps.setString(3, "abandoned");
            ps.setString(4, why);
            ps.setLong(5, runId);
            if (ps.executeUpdate() == 0) {
                return;
            }
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO failure_log (source_id, run_id, attempt, error_class, exception, "
                + "error_message, occurred_at) SELECT source_id, run_id, attempts, 'abandoned', 'LeaseExpired', ?, ? FROM sync_run WHERE run_id = ?")) {
            ps.setString(1, why);
            ps.setObject(2, utc(now));
            ps.setLong(3, runId);
            ps.executeUpdate();
        }
    }

    private void countRefused(Connection c, String sourceId, Long holderRun, Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(holderRun != null
                ? "UPDATE sync_run SET refused_triggers = refused_triggers + 1, last_refused_at = ? WHERE run_id = ? AND status = 'running'"
                : "UPDATE sync_run SET refused_triggers = refused_triggers + 1, last_refused_at = ? WHERE run_id = "
                + "(SELECT run_id FROM source_lock WHERE source_id = ?) AND status = 'running'")) {
            ps.setObject(1, utc(now));
            if (holderRun != null) {
                ps.setLong(2, holderRun);
            } else {
                ps.setString(2, sourceId);
            }
            ps.executeUpdate();
        }
    }

    /**
     * Inside a batch's transaction: the run's counts as they will be once this batch commits, the lease, and the
     * checkpoint (when the batch moves it). On PostgreSQL one statement does all three; on H2 (in-process) three. Throws
     * when the run no longer holds its lock (lease lost, taken over, closed by a shutdown): the batch then rolls back.
     */
    void commitBatch(Connection c, RunContext run, RunContext.Counts batch, long position, String progress, String cursor,
                     long rowsDone) throws SQLException {
        if (run.leaseLost() != null) {
            throw new LeaseLostException("Sync " + run.sourceId() + " run " + run.runId() + " " + run.leaseLost()
                    + "; stopping without writing this batch");
        }
        Instant now = Instant.now();
        if (db.dialect() == io.syncwarden.store.Dialect.POSTGRESQL) {
            commitBatchInOneStatement(c, run, batch, progress, cursor, rowsDone, now);
        } else {
            // checkpoint first, then the run row: a batch stuck here holds no lock on sync_run, so a shutdown can still
            // close the record
            if (cursor != null) {
                Checkpoints.save(c, run, cursor, Checkpoints.IN_PROGRESS, rowsDone);
            }
            try (PreparedStatement ps = c.prepareStatement(RUN_COUNTS + " WHERE run_id = ? AND status = 'running'")) {
                int next = bindCounts(ps, 1, run, batch, progress);
                ps.setLong(next, run.runId());
                if (ps.executeUpdate() == 0) {
                    throw closedElsewhere(run);
                }
            }
            renew(c, run, now, true);
        }
        logProgress(run, batch, now);
    }

    private static final String RUN_COUNTS = "UPDATE sync_run SET mode = ?, rows_read = ?, rows_inserted = ?, rows_updated = ?, "
            + "rows_unchanged = ?, rows_rejected = ?, rows_skipped = ?, resumed_from = ?, progress = ?, rows_deleted = ?, "
            + "new_columns = ?, upstream_columns = ?";

    /** Binds the counts of {@link #RUN_COUNTS} from parameter {@code from}; returns the next parameter's index. */
    private static int bindCounts(PreparedStatement ps, int from, RunContext run, RunContext.Counts batch, String progress)
            throws SQLException {
        ps.setString(from, run.mode());
        ps.setLong(from + 1, run.read + batch.read);
        ps.setLong(from + 2, run.inserted + batch.inserted);
        ps.setLong(from + 3, run.updated + batch.updated);
        ps.setLong(from + 4, run.unchanged + batch.unchanged);
        ps.setLong(from + 5, run.rejected + batch.rejected);
        ps.setLong(from + 6, run.skipped + batch.skipped);
        ps.setString(from + 7, truncate(run.resumedFrom(), 4000));
        ps.setString(from + 8, truncate(progress != null ? progress : run.progress(), 4000));
        ps.setLong(from + 9, run.deleted + batch.deleted);
        ps.setString(from + 10, truncate(run.newColumns(), 4000));
        ps.setString(from + 11, truncate(run.upstreamColumns(), 4000));
        return from + 12;
    }

    /**
     * Run counts, lease and checkpoint in one round trip: each step happens only if the one before found its row. The
     * run row is locked before the lock row, the order closing a run takes them in, so a shutdown closing this run
     * while its batch commits waits instead of deadlocking.
     */
    private void commitBatchInOneStatement(Connection c, RunContext run, RunContext.Counts batch, String progress, String cursor,
                                           long rowsDone, Instant now) throws SQLException {
        String sql = "WITH r AS (" + RUN_COUNTS + " WHERE run_id = ? AND status = 'running' AND EXISTS (SELECT 1 FROM source_lock "
                + "WHERE source_id = ? AND run_id = ?) RETURNING run_id), l AS (UPDATE source_lock SET heartbeat_at = ?, "
                + "lease_until = ? WHERE source_id = ? AND run_id = (SELECT run_id FROM r) RETURNING run_id) "
                + (cursor == null ? "SELECT run_id FROM l"
                : "INSERT INTO sync_checkpoint (source_id, cursor_value, phase, run_id, rows_done, updated_at) "
                + "SELECT ?, ?, 'in_progress', run_id, ?, ? FROM l ON CONFLICT (source_id) DO UPDATE SET cursor_value = "
                + "EXCLUDED.cursor_value, phase = EXCLUDED.phase, run_id = EXCLUDED.run_id, rows_done = EXCLUDED.rows_done, "
                + "updated_at = EXCLUDED.updated_at RETURNING run_id");
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            int p = bindCounts(ps, 1, run, batch, progress);
            ps.setLong(p, run.runId());
            ps.setString(p + 1, run.sourceId());
            ps.setLong(p + 2, run.runId());
            ps.setObject(p + 3, utc(now));
            ps.setObject(p + 4, utc(now.plusMillis(settings.leaseMillis())));
            ps.setString(p + 5, run.sourceId());
            if (cursor != null) {
                ps.setString(p + 6, run.sourceId());
                ps.setString(p + 7, cursor);
                ps.setLong(p + 8, rowsDone);
                ps.setObject(p + 9, utc(now));
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    run.leaseLost("lost its lock (lease expired and taken over, or released by a shutdown) or was closed");
                    throw closedElsewhere(run);
                }
            }
        }
    }

    private static LeaseLostException closedElsewhere(RunContext run) {
        return new LeaseLostException("Sync " + run.sourceId() + " run " + run.runId()
                + " no longer holds its lock or was closed by another node or a shutdown; stopping without writing this batch");
    }

    private void logProgress(RunContext run, RunContext.Counts batch, Instant now) {
        Instant logged = progressLogged.getOrDefault(run.runId(), run.startedAt());
        if (Duration.between(logged, now).toMillis() >= settings.progressLogMillis()) {
            progressLogged.put(run.runId(), now);
            LOG.info("Sync {} run {}: {} rows read so far (inserted={} updated={} unchanged={} rejected={})", run.sourceId(),
                    run.runId(), run.read + batch.read, run.inserted + batch.inserted, run.updated + batch.updated,
                    run.unchanged + batch.unchanged, run.rejected + batch.rejected);
        }
    }

    /** Inside a transaction: renews the lease, or throws when the run no longer holds its lock. */
    public void checkLease(Connection c, RunContext run) throws SQLException {
        if (run.leaseLost() != null) {
            throw new LeaseLostException("Sync " + run.sourceId() + " run " + run.runId() + " " + run.leaseLost());
        }
        renew(c, run, Instant.now(), true);
    }

    private void renew(Connection c, RunContext run, Instant now, boolean strict) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "UPDATE source_lock SET heartbeat_at = ?, lease_until = ? WHERE source_id = ? AND run_id = ?")) {
            ps.setObject(1, utc(now));
            ps.setObject(2, utc(now.plusMillis(settings.leaseMillis())));
            ps.setString(3, run.sourceId());
            ps.setLong(4, run.runId());
            if (ps.executeUpdate() == 0) {
                String why = "lost its lock (lease expired and taken over, or released by a shutdown)";
                run.leaseLost(why);
                if (strict) {
                    throw new LeaseLostException("Sync " + run.sourceId() + " run " + run.runId() + " " + why
                            + "; stopping without writing this batch");
                }
            }
        }
    }

    /**
     * Renews the lease of every live run of this node (the lease keeper does, every quarter lease); a run whose lock is
     * gone, or whose stop an operator asked for through any node, learns it here.
     */
    public void heartbeat() {
        if (active.isEmpty()) {
            return;
        }
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            Instant now = Instant.now();
            for (RunContext run : active.values()) {
                if (run.leaseLost() == null) {
                    renew(c, run, now, false);
                    if (run.leaseLost() != null) {
                        LOG.warn("Sync {} run {} {}: it stops at its next batch", run.sourceId(), run.runId(), run.leaseLost());
                    } else if (!run.interruptRequested()) {
                        try {
                            stopRequested(c, run);
                        } catch (SQLException e) {
                            // the other runs' leases are renewed anyway; the request is seen at the next beat
                            LOG.debug("Sync {} run {}: cannot read a stop request now: {}", run.sourceId(), run.runId(), e.getMessage());
                        }
                    }
                }
            }
        } catch (Exception e) {
            LOG.warn("Cannot renew the leases of {} running sync(s): {}", active.size(), e.getMessage());
        }
    }

    /** Closes a run that read everything: its outcome, counts, health; releases the lock. */
    public void complete(RunContext run) throws SQLException {
        Instant now = Instant.now();
        long duration = now.toEpochMilli() - run.startedAt().toEpochMilli();
        String status = run.outcome();
        Close close = new Close(run, status, null, null, now, duration, run.attempts(true), false);
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                if (!close.write(c, true)) {
                    c.rollback();
                    throw new LeaseLostException("Sync " + run.sourceId() + " run " + run.runId()
                            + " read everything but no longer holds its lock (lease expired and taken over): not closed as "
                            + status);
                }
                c.commit();
            } catch (SQLException e) {
                rollbackQuietly(c);
                throw e;
            }
        } catch (SQLException e) {
            // the data is committed batch by batch: only the record is missing, and it is written when the database is back
            keep(close, e);
        }
        closed(run, status);
        outcomes.put(run.sourceId(), new Outcome(status, null, null, now, close.recorded));
        metrics.rows(run);
        metrics.run(run.sourceId(), status, duration);
        LOG.info("Sync {} run {} {}: trigger={} mode={} read={} inserted={} updated={} unchanged={} rejected={} skipped={}{}{}{} in {} ms",
                run.sourceId(), run.runId(), status, run.trigger(), run.mode(), run.read(), run.inserted(),
                run.updated(), run.unchanged(), run.rejected(), run.skipped(),
                run.deleted() > 0 ? " deleted=" + run.deleted() : "",
                run.resumedFrom() != null ? " resumedFrom=" + run.resumedFrom() : "",
                run.failures() > 0 ? " after " + run.failures() + " failed attempt(s)" : "", duration);
    }

    /**
     * One failed attempt of a run, judged by the shared error handling before redelivery is decided: counted (metric,
     * attempts) and written to {@code failure_log}; logged when it will be retried.
     */
    public void attemptFailed(RunContext run, Throwable error, String errorClass, String message) {
        if (run == null || !run.failed(error)) {
            return;
        }
        metrics.attemptFailed(run.sourceId(), errorClass);
        FailureLog entry = new FailureLog(run.sourceId(), run.runId(), run.failures(), errorClass, error, message, Instant.now());
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            entry.write(c);
        } catch (SQLException e) {
            keep(entry, e);
        }
        if (Failure.RECOVERABLE.equals(errorClass)) {
            LOG.warn("Sync {} run {} attempt {} failed ({}): {}", run.sourceId(), run.runId(), run.failures(), errorClass, message);
        }
    }

    /** A run whose lock was taken over stops: nothing more is written for it (the run that took over has the record). */
    public void leaseLost(String source, RunContext run, String message) {
        if (run.closedStatus() == null) { // a forced close at stop already recorded and counted it
            closed(run, "abandoned");
            metrics.run(source, "lease_lost", Instant.now().toEpochMilli() - run.startedAt().toEpochMilli());
        }
        LOG.error("Sync {} run {} stopped: {}", source, run.runId(), message);
    }

    /** Closes a run that ended without completing, as the error handling judged it (or counts one that never opened). */
    public void fail(String source, RunContext run, Failure failure) {
        Throwable error = failure.error();
        String message = failure.message();
        String errorClass = failure.errorClass();
        Instant now = Instant.now();
        if (run == null) {
            // the run could not even be opened (the target database is down, most likely): count it all the same
            metrics.run(source, "failed", 0);
            outcomes.put(source, new Outcome("failed", errorClass, message, now, false));
            keep(new FailureLog(source, null, 1, errorClass, error, message, now), null);
            writePending();
            LOG.error("Sync {} could not start a run ({}): {}", source, errorClass, message);
            return;
        }
        String status = failure.status();
        boolean newFailure = run.failed(error);
        long duration = now.toEpochMilli() - run.startedAt().toEpochMilli();
        Close close = new Close(run, status, errorClass, message, now, duration, run.attempts(false), failure.sourceFailure());
        FailureLog entry = newFailure ? new FailureLog(source, run.runId(), run.failures(), errorClass, error, message, now) : null;
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                if (entry != null) {
                    entry.write(c);
                }
                close.write(c, false);
                c.commit();
            } catch (SQLException e) {
                rollbackQuietly(c);
                throw e;
            }
        } catch (SQLException e) {
            if (entry != null) {
                keep(entry, e);
            }
            keep(close, e);
        }
        closed(run, status);
        outcomes.put(source, new Outcome(status, errorClass, message, now, close.recorded));
        metrics.rows(run);
        metrics.run(source, status, duration);
        if ("interrupted".equals(status)) {
            LOG.warn("Sync {} run {} interrupted ({}): read={} inserted={} updated={} rejected={}; "
                    + "the next run resumes from its checkpoint", source, run.runId(), run.interruptReason(), run.read(), run.inserted(),
                    run.updated(), run.rejected());
        } else if ("failed".equals(status)) {
            LOG.error("Sync {} run {} failed after {} attempt(s) ({}): read={} inserted={} updated={} rejected={}; {}",
                    source, run.runId(), run.attempts(false), errorClass, run.read(), run.inserted(), run.updated(),
                    run.rejected(), message);
        } else if (failure.sourceFailure() || Failure.REFUSED.equals(errorClass)) {
            LOG.error("Sync {} run {} {}: {}", source, run.runId(), status, message);
        } else {
            LOG.warn("Sync {} run {} {}: {}", source, run.runId(), status, message);
        }
    }

    private void closed(RunContext run, String status) {
        run.closed(status);
        active.remove(run.runId());
        progressLogged.remove(run.runId());
        synchronized (drained) {
            drained.notifyAll();
        }
    }

    /** A run's closing record: status, counts, timings, error; health; lock released. */
    private final class Close implements Pending {
        final RunContext run;
        final String status;
        final String errorClass;
        final String message;
        final Instant at;
        final long duration;
        final int attempts;
        final boolean failure;
        volatile boolean recorded = true;

        Close(RunContext run, String status, String errorClass, String message, Instant at, long duration, int attempts,
              boolean failure) {
            this.run = run;
            this.status = status;
            this.errorClass = errorClass;
            this.message = message;
            this.at = at;
            this.duration = duration;
            this.attempts = attempts;
            this.failure = failure;
        }

        @Override
        public void write(Connection c) throws SQLException {
            write(c, false);
            recorded = true;
        }

        /**
         * Writes the close if the run is still running (or was marked abandoned while this node could not write: its
         * data was committed, so the truth wins). False when the run is not ours to close any more.
         */
        boolean write(Connection c, boolean requireLock) throws SQLException {
            if (requireLock && !holdsLock(c)) {
                return false;
            }
            // the counts are not written here: every committed batch wrote them, and a batch committing while this close
            // waited for its row lock must not be undone by counts read before it
            try (PreparedStatement ps = c.prepareStatement("UPDATE sync_run SET status = ?, mode = COALESCE(?, mode), "
                    + "resumed_from = COALESCE(?, resumed_from), attempts = ?, progress = COALESCE(?, progress), finished_at = ?, "
                    + "duration_ms = ?, error_class = ?, error_message = ? "
                    + "WHERE run_id = ? AND (status = 'running' OR (status = 'abandoned' AND ? = 1))")) {
                ps.setString(1, status);
                ps.setString(2, run.mode());
                ps.setString(3, truncate(run.resumedFrom(), 4000));
                ps.setInt(4, attempts);
                ps.setString(5, truncate(run.progress(), 4000));
                ps.setObject(6, utc(at));
                ps.setLong(7, duration);
                ps.setString(8, errorClass);
                ps.setString(9, truncate(message, 4000));
                ps.setLong(10, run.runId());
                ps.setInt(11, recorded ? 0 : 1);
                if (ps.executeUpdate() == 0) {
                    return false;
                }
            }
            if (!"replay".equals(run.trigger()) && !"rollback".equals(run.trigger()) && !"backfill".equals(run.trigger())) {
                // a replay of rejected rows, a rollback or a backfill says nothing of the source's own sync: its health,
                // freshness, queue entry and incidents stay (a backfill must not make a broken sync look fresh)
                updateHealth(c, run, status, failure, errorClass, message, at);
                for (CloseListener listener : closeListeners) {
                    listener.closed(c, run, status, errorClass, at);
                }
            }
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM source_lock WHERE source_id = ? AND run_id = ?")) {
                ps.setString(1, run.sourceId());
                ps.setLong(2, run.runId());
                ps.executeUpdate();
            }
            return true;
        }

        private boolean holdsLock(Connection c) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM source_lock WHERE source_id = ? AND run_id = ?")) {
                ps.setString(1, run.sourceId());
                ps.setLong(2, run.runId());
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next();
                }
            }
        }

        @Override
        public String what() {
            return "the close of run " + run.runId() + " of " + run.sourceId() + " as " + status;
        }
    }

    /** One failed attempt in {@code failure_log}. */
    private record FailureLog(String sourceId, Long runId, int attempt, String errorClass, Throwable error, String message,
                              Instant at) implements Pending {
        @Override
        public void write(Connection c) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO failure_log (source_id, run_id, attempt, error_class, "
                    + "exception, error_message, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, sourceId);
                ps.setObject(2, runId);
                ps.setInt(3, Math.max(1, attempt));
                ps.setString(4, errorClass);
                ps.setString(5, truncate(error == null ? "unknown" : error.getClass().getName(), 300));
                ps.setString(6, truncate(message, 4000));
                ps.setObject(7, utc(at));
                ps.executeUpdate();
            }
        }

        @Override
        public String what() {
            return "failure " + attempt + " of " + (runId == null ? "a run of " + sourceId + " that could not start"
                    : "run " + runId + " of " + sourceId);
        }
    }

    /** Keeps a record the target database cannot take now; {@link #writePending()} writes it when it answers again. */
    public void defer(Pending record, SQLException cause) {
        keep(record, cause);
    }

    private void keep(Pending record, SQLException cause) {
        if (record instanceof Close close) {
            close.recorded = false;
        }
        pending.add(record);
        metrics.unrecorded();
        LOG.warn("Cannot write {} now ({}); it is kept and written when the target database answers again", record.what(),
                cause == null ? "the target database is unreachable" : cause.getMessage());
    }

    /** Writes kept records in order; stops at the first that still cannot be written. */
    public synchronized void writePending() {
        // a connection the outage killed may still sit in the pool: it is evicted by the first failure, so try again
        for (int attempt = 0; attempt < 3 && !pending.isEmpty(); attempt++) {
            try (Connection c = db.dataSource().getConnection()) {
                c.setAutoCommit(false);
                for (Iterator<Pending> it = pending.iterator(); it.hasNext(); ) {
                    Pending record = it.next();
                    try {
                        record.write(c);
                        c.commit();
                    } catch (SQLException e) {
                        rollbackQuietly(c);
                        throw e;
                    }
                    it.remove();
                    LOG.info("Wrote {}, kept while the target database was unreachable", record.what());
                }
            } catch (SQLException e) {
                if (!TargetDatabase.isConnectionLost(e)) {
                    LOG.debug("Kept records still cannot be written: {}", e.getMessage());
                    return;
                }
            }
        }
    }

    /** A late record (written when the database came back) must not override the health a later run left. */
    private static final String NEWER = " AND (last_run_id IS NULL OR last_run_id <= ?)";

    private void updateHealth(Connection c, RunContext run, String status, boolean failure, String errorClass, String error,
                              Instant now) throws SQLException {
        int failures = 0;
        try (PreparedStatement ps = c.prepareStatement("SELECT consecutive_failures FROM source_health WHERE source_id = ?")) {
            ps.setString(1, run.sourceId());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    failures = rs.getInt(1);
                } else {
                    try (PreparedStatement ins = c.prepareStatement(
                            "INSERT INTO source_health (source_id, source_kind, status, updated_at) VALUES (?, ?, 'unknown', ?)")) {
                        ins.setString(1, run.sourceId());
                        ins.setString(2, run.kind());
                        ins.setObject(3, utc(now));
                        ins.executeUpdate();
                    }
                }
            }
        }
        boolean success = "success".equals(status) || "empty".equals(status);
        boolean nonRecoverable = Failure.NON_RECOVERABLE.equals(errorClass);
        String sql;
        if (success) {
            failures = 0;
            // a replay of rejected rows is not a read of the source: the last good count stays the last full read's
            sql = "UPDATE source_health SET status = 'healthy', consecutive_failures = 0, consecutive_non_recoverable = 0, not_before = NULL, "
                    + "last_run_id = ?, last_run_status = ?, last_success_at = ?, last_row_count = COALESCE(?, last_row_count)"
                    + ", last_error = NULL, updated_at = ? WHERE source_id = ?" + NEWER;
        } else if (failure) {
            failures++;
            // a non-recoverable failure makes the source unhealthy at once (retrying cannot help) and extends the streak
            // that pauses it; any other failure ends that streak
            sql = "UPDATE source_health SET status = ?, consecutive_failures = ?, consecutive_non_recoverable = "
                    + (nonRecoverable ? "consecutive_non_recoverable + 1" : "0") + ", last_run_id = ?, last_run_status = ?, "
                    + "last_failure_at = ?, last_error = ?, updated_at = ? WHERE source_id = ?" + NEWER;
        } else {
            // interrupted by a stop: neither a success nor the source's failure
            sql = "UPDATE source_health SET last_run_id = ?, last_run_status = ?, updated_at = ? WHERE source_id = ?" + NEWER;
        }
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (success) {
                ps.setLong(1, run.runId());
                ps.setString(2, status);
                ps.setObject(3, utc(now));
                // the guards' baseline: the size of a complete full read from the start (a resumed run read only the rest,
                // an incremental run the changes, a replay the rejected rows)
                if ("full".equals(run.mode()) && run.resumedFrom() == null) {
                    ps.setLong(4, run.read());
                } else {
                    ps.setNull(4, java.sql.Types.BIGINT);
                }
                ps.setObject(5, utc(now));
                ps.setString(6, run.sourceId());
                ps.setLong(7, run.runId());
            } else if (failure) {
                ps.setString(1, nonRecoverable || failures >= settings.unhealthyAfterFailures() ? "unhealthy" : "degraded");
                ps.setInt(2, failures);
                ps.setLong(3, run.runId());
                ps.setString(4, status);
                ps.setObject(5, utc(now));
                ps.setString(6, truncate(error, 4000));
                ps.setObject(7, utc(now));
                ps.setString(8, run.sourceId());
                ps.setLong(9, run.runId());
            } else {
                ps.setLong(1, run.runId());
                ps.setString(2, status);
                ps.setObject(3, utc(now));
                ps.setString(4, run.sourceId());
                ps.setLong(5, run.runId());
            }
            ps.executeUpdate();
        }
    }

    /**
     * The empty-source guard, before a full read is closed: a complete full read that found no rows while the source's
     * last good run had rows is refused (status {@code refused_empty}), unless an operator allowed the next run once.
     * Nothing of the run was applied (it had no rows); the refusal keeps an empty upload from counting as the truth.
     */
    public void guardEmpty(RunContext run) throws SQLException {
        if (!"full".equals(run.mode()) || run.read() > 0 || run.resumedFrom() != null || run.committedPosition() > 0) {
            return;
        }
        guardCount(run, 0);
    }

    /** A full read whose size is known before anything is applied drops by more than this share: refused. */
    private volatile double maxDrop = 0.5;

    public void maxDrop(double share) {
        this.maxDrop = share;
    }

    /**
     * The shrink guard, before a fresh full read applies anything: {@code rows} (what the upstream holds now) against
     * the source's last good count. No rows: {@code refused_empty}; fewer than (1 - max-drop) of it:
     * {@code refused_shrink}; unless an operator allowed the next run once.
     */
    public void guardCount(RunContext run, long rows) throws SQLException {
        guardCount(run, rows, lastGoodCount(run.sourceId()));
    }

    /** The rows the source's last good run read (0 when none): what the guards compare a new read with. */
    public long lastGoodCount(String sourceId) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT last_row_count FROM source_health WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    /**
     * The upstream's columns as this run found them: recorded with the run, and those the previous good run did not
     * have are reported as new (logged and in {@code sync_run.new_columns}).
     */
    public void reportColumns(RunContext run, List<String> upstream) throws SQLException {
        java.util.Set<String> now = new java.util.LinkedHashSet<>(upstream);
        String before = previousColumns(run.sourceId());
        String added = null;
        if (before != null) {
            java.util.Set<String> had = new java.util.HashSet<>(java.util.Arrays.asList(before.split(",", -1)));
            List<String> fresh = now.stream().filter(c -> !had.contains(c)).toList();
            if (!fresh.isEmpty()) {
                added = String.join(",", fresh);
                LOG.info("Sync {} run {}: the upstream has new column(s) {} since its last good run", run.sourceId(),
                        run.runId(), fresh);
            }
        }
        run.columns(String.join(",", now), added);
    }

    /** The upstream columns of the source's last good run that recorded them (comma-separated), or null. */
    public String previousColumns(String sourceId) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT upstream_columns FROM sync_run WHERE source_id = ? "
                     + "AND status = 'success' AND upstream_columns IS NOT NULL ORDER BY run_id DESC FETCH FIRST 1 ROWS ONLY")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    /** When the source last synced successfully, or null. */
    public Instant lastSuccess(String sourceId) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT last_success_at FROM source_health WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                OffsetDateTime at = rs.next() ? rs.getObject(1, OffsetDateTime.class) : null;
                return at == null ? null : at.toInstant();
            }
        }
    }

    /** The guards with the last good count already read. */
    public void guardCount(RunContext run, long rows, long last) throws SQLException {
        if (run.allowedPastGuards()) {
            return; // this run took the operator's permission already (an earlier check, or an earlier attempt)
        }
        boolean empty = rows == 0 && last > 0;
        boolean shrunk = !empty && last > 0 && maxDrop > 0 && maxDrop < 1 && rows < Math.ceil(last * (1 - maxDrop));
        if (!empty && !shrunk) {
            guardAnomaly(run, rows);
            return;
        }
        String what = empty ? "the upstream returned no rows while the last good run read " + last
                : "the upstream holds " + rows + " rows, more than " + Math.round(maxDrop * 100) + "% fewer than the "
                + last + " the last good run read";
        refuseUnlessAllowed(run, empty ? "refused_empty" : "refused_shrink", what);
    }

    private volatile RowCountAnomaly anomaly = new RowCountAnomaly(3.5, 20, 5, 0.05);

    public void anomaly(RowCountAnomaly anomaly) {
        this.anomaly = anomaly;
    }

    public RowCountAnomaly anomaly() {
        return anomaly;
    }

    /**
     * The row-count anomaly gate, before a full read applies anything: a count far from the source's recent good full
     * reads (robust z-score, {@link RowCountAnomaly}) is refused as {@code refused_anomaly}, unless an operator allowed
     * the next run once. The shrink guard is its simplest case and is judged first.
     */
    private void guardAnomaly(RunContext run, long rows) throws SQLException {
        RowCountAnomaly.Judgement judged;
        try (Connection c = db.dataSource().getConnection()) {
            judged = anomaly.judge(rows, anomaly.history(c, run.sourceId(), "full", run.runId()));
        }
        if (judged != null && judged.anomalous()) {
            refuseUnlessAllowed(run, "refused_anomaly", "the upstream " + judged.describe() + ", past "
                    + anomaly.threshold());
        }
    }

    /**
     * The deletion guard, before a full read's deletions are committed: a read that would mark deleted (or remove) more
     * than the max-drop share of the table's rows is refused as {@code refused_shrink} (a key column remapped, a filter
     * changed upstream), unless an operator allowed the next run once.
     */
    public void guardDeletions(RunContext run, long missing, long active) throws SQLException {
        guardDeletions(run, missing, active, null);
    }

    /** As above; {@code applied}: what of the run stays applied after the refusal (a read that committed its batches). */
    public void guardDeletions(RunContext run, long missing, long active, String applied) throws SQLException {
        if (run.allowedPastGuards() || missing == 0 || maxDrop <= 0 || maxDrop >= 1 || missing <= Math.floor(active * maxDrop)) {
            return;
        }
        refuseUnlessAllowed(run, "refused_shrink", "the read no longer has " + missing + " of the table's " + active
                + " rows, more than " + Math.round(maxDrop * 100) + "% would be marked deleted", applied);
    }

    private void refuseUnlessAllowed(RunContext run, String status, String what) throws SQLException {
        refuseUnlessAllowed(run, status, what, null);
    }

    private void refuseUnlessAllowed(RunContext run, String status, String what, String applied) throws SQLException {
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            try (PreparedStatement ps = c.prepareStatement(
                    "UPDATE source_health SET allow_next = FALSE WHERE source_id = ? AND allow_next = TRUE")) {
                ps.setString(1, run.sourceId());
                if (ps.executeUpdate() == 1) {
                    run.allowPastGuards();
                    try (PreparedStatement mark = c.prepareStatement("UPDATE sync_run SET guard_override = TRUE WHERE run_id = ?")) {
                        mark.setLong(1, run.runId()); // the anomaly gate's new baseline, once the run succeeds
                        mark.executeUpdate();
                    }
                    LOG.warn("Sync {} run {}: {}; accepted once, as an operator allowed", run.sourceId(), run.runId(), what);
                    return;
                }
            }
        }
        throw new RunRefusedException(status, what + (applied != null ? ": refused; " + applied
                : ": refused before anything was applied, the target keeps its rows") + " (if the source really is like this "
                + "now, allow the next run once)");
    }

    /** Lets the next run a guard would refuse through, once (an operator's decision). */
    public boolean allowNext(String sourceId) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE source_health SET allow_next = TRUE WHERE source_id = ?")) {
            c.setAutoCommit(true);
            ps.setString(1, sourceId);
            return ps.executeUpdate() == 1;
        }
    }

    /**
     * Why no automatic run of the source may start now: {@code paused: <reason>}, or {@code rate_limited until <instant>}
     * while the upstream's reset has not come; null when it may run.
     */
    public String hold(String sourceId, Instant now) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT paused, paused_reason, not_before FROM source_health WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                if (rs.getBoolean(1)) {
                    return "paused: " + rs.getString(2);
                }
                OffsetDateTime notBefore = rs.getObject(3, OffsetDateTime.class);
                return notBefore != null && notBefore.toInstant().isAfter(now) ? "rate_limited until " + notBefore.toInstant() : null;
            }
        }
    }

    /** No automatic run of the source starts before this instant (the upstream's rate-limit reset); best effort. */
    public void holdUntil(String sourceId, Instant until) {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE source_health SET not_before = ? WHERE source_id = ? "
                     + "AND (not_before IS NULL OR not_before < ?)")) {
            c.setAutoCommit(true);
            ps.setObject(1, utc(until));
            ps.setString(2, sourceId);
            ps.setObject(3, utc(until));
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.warn("Sync {}: cannot record that it waits for its upstream until {}: {}", sourceId, until, e.getMessage());
        }
    }

    /**
     * Pauses (reason not null) or resumes (reason null) a source; true when its state changed. Resuming also ends its
     * streak of non-recoverable failures, so the next one does not pause it again at once.
     */
    public boolean setPaused(Connection c, String sourceId, String reason, Instant at) throws SQLException {
        String sql = reason != null
                ? "UPDATE source_health SET paused = TRUE, paused_reason = ?, paused_at = ?, updated_at = ? WHERE source_id = ? AND paused = FALSE"
                : "UPDATE source_health SET paused = FALSE, paused_reason = NULL, paused_at = NULL, consecutive_non_recoverable = 0, not_before = NULL, "
                + "updated_at = ? WHERE source_id = ? AND paused = TRUE";
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            int i = 1;
            if (reason != null) {
                ps.setString(i++, truncate(reason, 4000));
                ps.setObject(i++, utc(at));
            }
            ps.setObject(i++, utc(at));
            ps.setString(i, sourceId);
            return ps.executeUpdate() == 1;
        }
    }

    /** Makes sure a source has a health row ({@code unknown} until its first run). */
    public void register(String sourceId, String kind) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT 1 FROM source_health WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    return;
                }
            }
            try (PreparedStatement ins = c.prepareStatement(
                    "INSERT INTO source_health (source_id, source_kind, status, updated_at) VALUES (?, ?, 'unknown', ?)")) {
                ins.setString(1, sourceId);
                ins.setString(2, kind);
                ins.setObject(3, utc(Instant.now()));
                ins.executeUpdate();
            } catch (SQLException e) {
                if (e.getSQLState() == null || !e.getSQLState().startsWith("23")) {
                    throw e;
                }
            }
        }
    }

    /**
     * The service is stopping: no new runs; running ones stop at their next batch boundary (checkpoint kept). Waits
     * up to the grace period, then closes what is still running as {@code interrupted} and releases its locks (a
     * run stuck in a read writes nothing after that: its lock is gone).
     */
    public void stop() {
        stopping = true;
        // what is still to be written (closes, kept records) gets every chance: no breaker refuses it now
        db.unguard();
        if (!active.isEmpty()) {
            LOG.info("Stopping: asking {} running sync(s) to stop at their next batch boundary", active.size());
            active.values().forEach(RunContext::requestInterrupt);
            long deadline = System.currentTimeMillis() + settings.shutdownGraceMillis();
            synchronized (drained) {
                while (!active.isEmpty() && System.currentTimeMillis() < deadline) {
                    try {
                        drained.wait(Math.max(1, deadline - System.currentTimeMillis()));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
            for (RunContext run : List.copyOf(active.values())) {
                forceInterrupt(run);
            }
        }
        writePending();
        if (timer != null) {
            timer.shutdownNow();
        }
        if (!pending.isEmpty()) {
            LOG.error("Stopping with {} record(s) the target database did not take: {}", pending.size(),
                    pending.stream().map(Pending::what).toList());
        }
    }

    private void forceInterrupt(RunContext run) {
        run.leaseLost("was closed as interrupted: the service stopped before the run reached a batch boundary");
        Instant now = Instant.now();
        long duration = now.toEpochMilli() - run.startedAt().toEpochMilli();
        Close close = new Close(run, "interrupted", Failure.INTERRUPTED,
                "the service stopped while the run was reading; the next run resumes from its checkpoint", now, duration,
                run.attempts(false), false);
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            close.write(c, false);
            c.commit();
        } catch (SQLException e) {
            keep(close, e);
        }
        closed(run, "interrupted");
        metrics.run(run.sourceId(), "interrupted", duration);
        LOG.warn("Sync {} run {} did not reach a batch boundary within {} ms: recorded as interrupted, lock released",
                run.sourceId(), run.runId(), settings.shutdownGraceMillis());
    }

    /**
     * Asks the source's run on this node to stop at its next batch boundary (an operator's request: what it committed
     * stays, its checkpoint is kept, it is closed {@code interrupted}); its run id, or null when none runs here.
     */
    public Long stopRun(String sourceId, String by) {
        for (RunContext run : active.values()) {
            if (run.sourceId().equals(sourceId)) {
                run.requestInterrupt("stopped by " + by);
                LOG.info("Sync {} run {}: asked to stop at its next batch boundary by {}", sourceId, run.runId(), by);
                return run.runId();
            }
        }
        return null;
    }

    /** An operator asked, through any node, that this run stop: it stops at its next batch boundary. */
    private static void stopRequested(Connection c, RunContext run) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT stop_requested_by FROM source_lock WHERE source_id = ? AND run_id = ? "
                + "AND stop_requested_by IS NOT NULL")) {
            ps.setString(1, run.sourceId());
            ps.setLong(2, run.runId());
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    run.requestInterrupt("stopped by " + rs.getString(1));
                    LOG.info("Sync {} run {}: asked to stop at its next batch boundary by {} (through another node)",
                            run.sourceId(), run.runId(), rs.getString(1));
                }
            }
        }
    }

    /**
     * Asks the run holding the source's lock on another node to stop (it sees it at its next heartbeat); the run id,
     * or null when no live run holds it.
     */
    public Long requestStop(String sourceId, String by) throws SQLException {
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                Long runId = null;
                // the run that holds the lock now, and the request on exactly that run, in one transaction
                try (PreparedStatement ps = c.prepareStatement("SELECT run_id FROM source_lock WHERE source_id = ? AND lease_until > ? "
                        + "FOR UPDATE")) {
                    ps.setString(1, sourceId);
                    ps.setObject(2, utc(Instant.now()));
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next()) {
                            runId = rs.getLong(1);
                        }
                    }
                }
                if (runId != null) {
                    try (PreparedStatement ps = c.prepareStatement("UPDATE source_lock SET stop_requested_by = ? WHERE source_id = ? "
                            + "AND run_id = ?")) {
                        ps.setString(1, truncate(by, 100));
                        ps.setString(2, sourceId);
                        ps.setLong(3, runId);
                        if (ps.executeUpdate() == 0) {
                            runId = null;
                        }
                    }
                }
                c.commit();
                return runId;
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
    }

    /** The run of the source active on this node, or null. */
    public RunContext activeRun(String sourceId) {
        return active.values().stream().filter(r -> r.sourceId().equals(sourceId)).findFirst().orElse(null);
    }

    public boolean stopping() {
        return stopping;
    }

    private static void rollbackQuietly(Connection c) {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is gone
        }
    }

    public static OffsetDateTime utc(Instant instant) {
        return instant.atOffset(ZoneOffset.UTC);
    }

    /** At most {@code max} characters (a column's width), marked with an ellipsis when cut. */
    public static String truncate(String s, int max) {
        return s == null || s.length() <= max ? s : s.substring(0, Math.max(0, max - 1)) + "\u2026";
    }
}
