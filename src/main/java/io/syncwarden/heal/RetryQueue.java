package io.syncwarden.heal;

import static io.syncwarden.sync.SyncRuns.truncate;
import static io.syncwarden.sync.SyncRuns.utc;

import io.syncwarden.store.Dialect;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncTrigger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The persistent retry queue ({@code retry_queue}). The shared route configuration's dead-letter channel calls
 * {@link #deadLetter} when a run's in-route retries ran out on a recoverable failure: the source gets one live entry
 * (a new failure updates it). The {@code retry-queue} route calls {@link #claim} on its schedule and {@link #rerun}
 * for each claimed entry: the source runs again with trigger {@code retry}, and the entry is settled by the outcome
 * (back-off 5, 10, 20, 40 minutes by default; {@code failed} with an incident after the last attempt). Any successful
 * run of the source closes its entry, inside that run's closing transaction.
 *
 * <p>Claims are safe with several instances: {@code FOR UPDATE SKIP LOCKED} on PostgreSQL, an update guarded by the
 * status on H2. An entry claimed by a node that died is claimed again once its claim is older than
 * {@code claimTimeout} and no live run holds its source's lock.
 */
public class RetryQueue {
    private static final Logger LOG = LoggerFactory.getLogger(RetryQueue.class);
    /** Exchange property: the instant an upstream asked us to wait until, when that is beyond the in-route limit. */
    public static final String RETRY_AT = "syncwardenRetryAt";
    private static final String LIVE = "('pending', 'running')";

    /** Every number of the queue; each one is a property (README). */
    public record Settings(int batch, Duration initialDelay, double multiplier, Duration maxDelay, int maxAttempts,
                           Duration keep, Duration busyDelay, Duration claimTimeout) {
    }

    /** A claimed entry; {@code claim} is the claim's token (node and a per-tick suffix), checked before it runs and settles. */
    public record Entry(long id, String sourceId, int attempts, String claim) {
    }

    private final SyncRuns runs;
    private final Incidents incidents;
    private final Settings settings;
    private final CamelContext context;
    private volatile Clock clock = Clock.systemUTC();

    public RetryQueue(SyncRuns runs, Incidents incidents, Settings settings, CamelContext context) {
        this.runs = runs;
        this.incidents = incidents;
        this.settings = settings;
        this.context = context;
        // any run of the source that succeeds (scheduled, manual, the retry itself) closes its live entry
        runs.addCloseListener((c, run, status, errorClass, at) -> {
            if ("success".equals(status) || "empty".equals(status)) {
                try (PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET status = 'done', active_source = NULL, "
                        + "attempts = attempts + CASE WHEN status = 'running' THEN 1 ELSE 0 END, claimed_by = NULL, "
                        + "finished_at = ?, updated_at = ?, outcome = ? WHERE active_source = ? "
                        // a success written late (its node was cut off) does not settle a failure that came after it
                        + "AND (last_run_id IS NULL OR last_run_id < ?)")) {
                    ps.setObject(1, utc(at));
                    ps.setObject(2, utc(at));
                    ps.setString(3, "run " + run.runId() + " (" + run.trigger() + ") succeeded");
                    ps.setString(4, run.sourceId());
                    ps.setLong(5, run.runId());
                    if (ps.executeUpdate() > 0) {
                        LOG.info("Retry entry of {} done: run {} ({}) succeeded", run.sourceId(), run.runId(), run.trigger());
                    }
                }
            }
        });
    }

    /** For tests: the clock that decides what is due. */
    public void clock(Clock clock) {
        this.clock = clock;
    }

    public Settings settings() {
        return settings;
    }

    /** The delay before queue attempt {@code attempts + 1}: initial x multiplier^attempts, at most maxDelay. */
    Duration delay(int attempts) {
        double ms = settings.initialDelay().toMillis() * Math.pow(settings.multiplier(), Math.max(0, attempts));
        return Duration.ofMillis((long) Math.min(ms, settings.maxDelay().toMillis()));
    }

    /**
     * The dead-letter channel's end: a run whose in-route retries ran out (or whose upstream asked for a wait longer
     * than the in-route limit) gets its source a live retry entry. If the entry cannot be written (the target database
     * is down), that is logged as an error and counted, and the entry is kept and written when the database answers.
     */
    public void deadLetter(Exchange exchange) {
        Throwable error = ErrorClass.caught(exchange);
        String errorClass = ErrorClass.of(error);
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        String source = run != null ? run.sourceId() : exchange.getFromRouteId();
        if (!ErrorClass.RECOVERABLE.equals(errorClass)) {
            return; // never queued: a non-recoverable failure opens an incident instead; a stop or a lost lease resumes by itself
        }
        Instant now = clock.instant();
        Instant upstream = exchange.getProperty(RETRY_AT, Instant.class);
        DeadLetter entry = new DeadLetter(source, run == null ? null : run.runId(), errorClass, FailureText.describe(error),
                upstream, now);
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                entry.write(c);
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            runs.metrics().count("syncwarden.dead.letter.failures", "Retry entries the dead-letter channel could not write at once", source);
            LOG.error("Sync {}: cannot write its retry entry ({}); it is kept in memory and written when the target database "
                    + "answers", source, e.getMessage());
            runs.defer(entry, e);
            return;
        }
        runs.metrics().count("syncwarden.retries.queued", "Failed runs handed to the retry queue", source);
    }

    /** One failed run for the queue: updates the source's live entry, or opens one. */
    private final class DeadLetter implements SyncRuns.Pending {
        final String source;
        final Long runId;
        final String errorClass;
        final String message;
        final Instant upstream;
        final Instant at;

        DeadLetter(String source, Long runId, String errorClass, String message, Instant upstream, Instant at) {
            this.source = source;
            this.runId = runId;
            this.errorClass = errorClass;
            this.message = message;
            this.upstream = upstream;
            this.at = at;
        }

        @Override
        public void write(Connection c) throws SQLException {
            for (int attempt = 0; ; attempt++) {
                if (update(c)) {
                    return;
                }
                java.sql.Savepoint sp = c.setSavepoint();
                try {
                    insert(c);
                    return;
                } catch (SQLException e) {
                    // another node queued the source at the same moment: fold this failure into its entry
                    if (attempt > 0 || e.getSQLState() == null || !e.getSQLState().startsWith("23")) {
                        throw e;
                    }
                    c.rollback(sp);
                }
            }
        }

        private boolean update(Connection c) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET last_run_id = COALESCE(?, last_run_id), "
                    + "error_class = ?, error_message = ?, failures = failures + 1, updated_at = ? WHERE active_source = ?")) {
                ps.setObject(1, runId);
                ps.setString(2, errorClass);
                ps.setString(3, truncate(message, 4000));
                ps.setObject(4, utc(at));
                ps.setString(5, source);
                if (ps.executeUpdate() == 0) {
                    return false;
                }
            }
            if (upstream != null) {
                // the upstream said when it will answer again: not before that
                try (PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET next_retry_at = ? "
                        + "WHERE active_source = ? AND next_retry_at < ?")) {
                    ps.setObject(1, utc(upstream));
                    ps.setString(2, source);
                    ps.setObject(3, utc(upstream));
                    ps.executeUpdate();
                }
            }
            LOG.info("Sync {}: failure folded into its live retry entry", source);
            return true;
        }

        private void insert(Connection c) throws SQLException {
            Instant next = at.plus(delay(0));
            if (upstream != null && upstream.isAfter(next)) {
                next = upstream;
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO retry_queue (source_id, active_source, status, first_run_id, "
                    + "last_run_id, error_class, error_message, next_retry_at, created_at, updated_at) "
                    + "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setString(1, source);
                ps.setString(2, source);
                ps.setObject(3, runId);
                ps.setObject(4, runId);
                ps.setString(5, errorClass);
                ps.setString(6, truncate(message, 4000));
                ps.setObject(7, utc(next));
                ps.setObject(8, utc(at));
                ps.setObject(9, utc(at));
                ps.executeUpdate();
            }
            LOG.warn("Sync {}: queued for another attempt at {} ({})", source, next, message);
        }

        @Override
        public String what() {
            return "the retry entry of " + source + (runId == null ? "" : " (run " + runId + ")");
        }
    }

    /**
     * One tick of the {@code retry-queue} route: deletes entries finished longer ago than {@code keep}, frees claims of
     * nodes that died, and claims at most {@code batch} due entries for this node.
     */
    public List<Entry> claim() {
        try {
            return claimDue();
        } catch (SQLException e) {
            LOG.warn("Retry queue: cannot claim due entries now ({}); the next tick tries again", e.getMessage());
            return List.of();
        }
    }

    private List<Entry> claimDue() throws SQLException {
        Instant now = clock.instant();
        String token = truncate(runs.settings().nodeId(), 88) + "/" + java.util.UUID.randomUUID().toString().substring(0, 8);
        List<Entry> claimed = new ArrayList<>();
        List<String> local = context == null ? null : localSources(); // null: every source (a queue without routes, in tests)
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                int deleted;
                try (PreparedStatement ps = c.prepareStatement("DELETE FROM retry_queue WHERE status NOT IN " + LIVE
                        + " AND finished_at < ?")) {
                    ps.setObject(1, utc(now.minus(settings.keep())));
                    deleted = ps.executeUpdate();
                }
                int freed;
                try (PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET status = 'pending', claimed_by = NULL, "
                        + "claimed_at = NULL, updated_at = ? WHERE status = 'running' AND claimed_at < ? AND NOT EXISTS "
                        + "(SELECT 1 FROM source_lock l WHERE l.source_id = retry_queue.source_id AND l.lease_until > ?)")) {
                    ps.setObject(1, utc(now));
                    ps.setObject(2, utc(now.minus(settings.claimTimeout())));
                    ps.setObject(3, utc(now));
                    freed = ps.executeUpdate();
                }
                // an entry no node has claimed for the keep period belongs to a source no longer configured anywhere
                try (PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET status = 'cancelled', active_source = NULL, "
                        + "finished_at = ?, updated_at = ?, outcome = 'no node runs this source any more' "
                        + "WHERE status = 'pending' AND next_retry_at < ?")) {
                    ps.setObject(1, utc(now));
                    ps.setObject(2, utc(now));
                    ps.setObject(3, utc(now.minus(settings.keep())));
                    deleted += ps.executeUpdate();
                }
                if (local != null && local.isEmpty()) {
                    c.commit();
                    return claimed;
                }
                boolean pg = runs.database().dialect() == Dialect.POSTGRESQL;
                List<Entry> due = new ArrayList<>();
                // only sources this node runs (another node's, or one being added, waits for a node that has it)
                String in = local == null ? "" : " AND source_id IN ("
                        + String.join(", ", java.util.Collections.nCopies(local.size(), "?")) + ")";
                try (PreparedStatement ps = c.prepareStatement("SELECT retry_id, source_id, attempts FROM retry_queue "
                        + "WHERE status = 'pending' AND next_retry_at <= ?" + in + " "
                        + "ORDER BY next_retry_at, retry_id LIMIT ?" + (pg ? " FOR UPDATE SKIP LOCKED" : ""))) {
                    int i = 1;
                    ps.setObject(i++, utc(now));
                    for (String source : local == null ? List.<String>of() : local) {
                        ps.setString(i++, source);
                    }
                    ps.setInt(i, settings.batch());
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            due.add(new Entry(rs.getLong(1), rs.getString(2), rs.getInt(3), token));
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET status = 'running', claimed_by = ?, "
                        + "claimed_at = ?, updated_at = ? WHERE retry_id = ? AND status = 'pending'")) {
                    for (Entry e : due) {
                        ps.setString(1, token);
                        ps.setObject(2, utc(now));
                        ps.setObject(3, utc(now));
                        ps.setLong(4, e.id());
                        // the status guard is the claim on H2 (and a second guard on PostgreSQL)
                        if (ps.executeUpdate() == 1) {
                            claimed.add(e);
                        }
                    }
                }
                c.commit();
                if (deleted > 0 || freed > 0) {
                    LOG.info("Retry queue: {} finished entr(ies) older than {} deleted, {} claim(s) of stopped nodes freed",
                            deleted, settings.keep(), freed);
                }
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        }
        if (!claimed.isEmpty()) {
            LOG.info("Retry queue: claimed {} due entr(ies): {}", claimed.size(), claimed.stream().map(Entry::sourceId).toList());
        }
        return claimed;
    }

    /** Runs a claimed entry's source with trigger {@code retry} and settles the entry by the outcome. */
    public void rerun(Entry entry) {
        SyncTrigger.Result result;
        if (context.getRoute(entry.sourceId()) == null || !context.getRouteController().getRouteStatus(entry.sourceId()).isStarted()) {
            // removed or stopped here since the claim: hand it back for a node that runs it
            settle(entry, "pending", entry.attempts(), clock.instant().plus(settings.busyDelay()),
                    "source " + entry.sourceId() + " is not running on this node");
            return;
        }
        if (!stillClaimed(entry)) {
            LOG.info("Retry queue: the claim on {} ran out while it waited its turn; another tick has it now", entry.sourceId());
            return;
        }
        LOG.info("Retry queue: running {} again (queue attempt {} of {})", entry.sourceId(), entry.attempts() + 1,
                settings.maxAttempts());
        try {
            result = new SyncTrigger(context).fire(entry.sourceId(), "retry");
        } catch (Exception e) {
            result = new SyncTrigger.Result(null, "failed", e);
        }
        Instant now = clock.instant();
        switch (result.status()) {
            case "success", "empty" -> settle(entry, "done", entry.attempts() + 1, null, "run " + result.runId() + " succeeded");
            case "rate_limited" -> {
                // waiting for the upstream's reset is not a failure, but a run that asked and was limited again counts, so
                // an upstream that never stops limiting ends in an incident instead of a queue entry that lives forever
                boolean ran = result.runId() != null;
                int attempts = entry.attempts() + (ran ? 1 : 0);
                if (ran && attempts >= settings.maxAttempts()) {
                    giveUp(entry, attempts, "still rate-limited after " + attempts + " queue attempt(s)", result.runId());
                } else {
                    settle(entry, "pending", attempts, now.plus(settings.busyDelay()), "rate-limited: waiting for the upstream's reset");
                }
            }
            case "refused_empty", "refused_shrink", "refused_schema", "refused_anomaly" -> // a guard kept the data out: its incident carries on
                    settle(entry, "cancelled", entry.attempts() + 1, null, "run " + result.runId() + " " + result.status()
                            + ": an operator's decision is needed (see the incident)");
            case "refused", "skipped" -> // busy, or breaker open: not an attempt
                    settle(entry, "pending", entry.attempts(), now.plus(settings.busyDelay()),
                            "refused".equals(result.status()) ? "source busy with another run" : "circuit breaker open");
            case "paused" -> settle(entry, "cancelled", entry.attempts(), null, "the source is paused");
            default -> {
                String errorClass = result.error() == null ? ErrorClass.RECOVERABLE : ErrorClass.of(result.error());
                String message = FailureText.describe(result.error());
                if (ErrorClass.NON_RECOVERABLE.equals(errorClass)) {
                    // its own incident is open: retrying cannot help
                    settle(entry, "failed", entry.attempts() + 1, null, "non-recoverable: " + message);
                } else if (!ErrorClass.RECOVERABLE.equals(errorClass)) {
                    // the service stopped, or the run lost its lock: not the upstream's failure, try again
                    settle(entry, "pending", entry.attempts(), now.plus(settings.busyDelay()), errorClass + ": " + message);
                } else if (entry.attempts() + 1 >= settings.maxAttempts()) {
                    giveUp(entry, entry.attempts() + 1, "still failing after " + (entry.attempts() + 1) + " queue attempt(s): "
                            + message, result.runId());
                } else {
                    settle(entry, "pending", entry.attempts() + 1, now.plus(delay(entry.attempts() + 1)), message);
                }
            }
        }
    }

    /** Refreshes the claim as its run starts; false when it is no longer this claim's (freed and claimed again). */
    private boolean stillClaimed(Entry entry) {
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET claimed_at = ?, updated_at = ? "
                     + "WHERE retry_id = ? AND status = 'running' AND claimed_by = ?")) {
            c.setAutoCommit(true);
            Instant now = clock.instant();
            ps.setObject(1, utc(now));
            ps.setObject(2, utc(now));
            ps.setLong(3, entry.id());
            ps.setString(4, entry.claim());
            return ps.executeUpdate() == 1;
        } catch (SQLException e) {
            LOG.warn("Retry queue: cannot confirm the claim on {} ({}); it is tried again later", entry.sourceId(), e.getMessage());
            return false;
        }
    }

    /** The sources whose routes run on this node (the registry's sources whose routes are started). */
    private List<String> localSources() {
        io.syncwarden.sync.SourceRegistry registry = context.getRegistry().findSingleByType(io.syncwarden.sync.SourceRegistry.class);
        List<String> out = new ArrayList<>();
        for (io.syncwarden.sync.SourceRegistry.Source source : registry == null ? List.<io.syncwarden.sync.SourceRegistry.Source>of()
                : registry.sources()) {
            var status = context.getRouteController().getRouteStatus(source.id());
            if (status != null && status.isStarted()) {
                out.add(source.id());
            }
        }
        return out;
    }

    private void settle(Entry entry, String status, int attempts, Instant next, String outcome) {
        settle(entry, status, attempts, next, outcome, false, null);
    }

    /** The last attempt failed: the entry is failed and a {@code retry_exhausted} incident opened with that run. */
    private void giveUp(Entry entry, int attempts, String outcome, Long run) {
        settle(entry, "failed", attempts, null, outcome, true, run);
    }

    private void settle(Entry entry, String status, int attempts, Instant next, String outcome, boolean incident, Long givenUpBy) {
        Instant now = clock.instant();
        boolean live = "pending".equals(status);
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                if (live) {
                    // an upstream that asked for a longer wait during the run set next_retry_at already: keep the later
                    try (PreparedStatement ps = c.prepareStatement("SELECT next_retry_at FROM retry_queue WHERE retry_id = ?")) {
                        ps.setLong(1, entry.id());
                        try (ResultSet rs = ps.executeQuery()) {
                            if (rs.next()) {
                                Instant asked = rs.getObject(1, OffsetDateTime.class).toInstant();
                                if (asked.isAfter(next)) {
                                    next = asked;
                                }
                            }
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("UPDATE retry_queue SET status = ?, attempts = ?, "
                        + "active_source = " + (live ? "active_source" : "NULL") + ", next_retry_at = COALESCE(?, next_retry_at), "
                        + "claimed_by = NULL, claimed_at = NULL, updated_at = ?, finished_at = ?, outcome = ? "
                        + "WHERE retry_id = ? AND status = 'running' AND claimed_by = ?")) {
                    ps.setString(1, status);
                    ps.setInt(2, attempts);
                    ps.setObject(3, next == null ? null : utc(next));
                    ps.setObject(4, utc(now));
                    ps.setObject(5, live ? null : utc(now));
                    ps.setString(6, truncate(outcome, 4000));
                    ps.setLong(7, entry.id());
                    ps.setString(8, entry.claim());
                    if (ps.executeUpdate() == 0) {
                        // closed meanwhile by a successful run of the source, or freed and claimed elsewhere
                        c.rollback();
                        return;
                    }
                }
                if (incident) {
                    // with the run that gave up, so a success written late by another node does not resolve it
                    incidents.open(c, entry.sourceId(), "retry_exhausted", "high", "Sync " + entry.sourceId() + " " + outcome,
                            givenUpBy, "retry-queue");
                }
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            // the entry stays claimed; once the claim times out it is due again
            LOG.error("Retry queue: cannot settle the entry of {} as {} ({}): {}", entry.sourceId(), status, outcome, e.getMessage());
            return;
        }
        switch (status) {
            case "pending" -> LOG.warn("Retry queue: {} {}; next attempt at {}", entry.sourceId(), outcome, next);
            case "failed" -> LOG.error("Retry queue: {} gave up: {}", entry.sourceId(), outcome);
            default -> LOG.info("Retry queue: entry of {} {}: {}", entry.sourceId(), status, outcome);
        }
    }
}
