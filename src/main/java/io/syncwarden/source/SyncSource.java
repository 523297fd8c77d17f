package io.syncwarden.source;

import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.RunInterruptedException;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.TargetTable;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps every source kind's route calls: {@code begin} (lock and open the run), {@code sync} (read and write),
 * {@code complete} (close the run). Instances are created by route templates with the template's parameters.
 */
public abstract class SyncSource {
    private static final Logger LOG = LoggerFactory.getLogger(SyncSource.class);
    public static final String TRIGGER = RunContext.TRIGGER;

    private String sourceId;
    private String targetTable;
    private int batchSize = 1000;
    private String lookupColumns = "";
    private String keyColumns;
    private String deletions = "mark";

    /** At most this many records answer one lookup. */
    public static final int LOOKUP_LIMIT = 100;

    public abstract String kind();

    /** Reads the upstream and writes into the target; resumes from the checkpoint where the kind keeps one. */
    protected abstract void read(RunContext run, SyncRuns runs, Exchange exchange) throws Exception;

    /**
     * Asks the upstream itself (not the target copy) for the records whose name or e-mail is {@code nameOrEmail}
     * (trimmed, case-insensitive), as column-to-value maps, at most {@link #LOOKUP_LIMIT}. For diagnostics: is a
     * lead missing from the target because the upstream lacks it, or because the sync lost it?
     */
    public abstract List<Map<String, Object>> find(CamelContext context, String nameOrEmail) throws Exception;

    /** A column searched by {@link #find}: those named in {@code lookupColumns}, else any whose name has name or email. */
    public boolean isLookupColumn(String column) {
        String c = column.toLowerCase(Locale.ROOT);
        if (lookupColumns != null && !lookupColumns.isBlank()) {
            return Arrays.stream(lookupColumns.split(",")).map(x -> x.trim().toLowerCase(Locale.ROOT)).anyMatch(c::equals);
        }
        return c.contains("name") || c.contains("email") || c.contains("e_mail");
    }

    /** Lookup equality: white space folded and trimmed, case ignored. */
    protected static boolean matches(Object value, String wanted) {
        return value != null && fold(String.valueOf(value)).equals(fold(wanted));
    }

    protected static String fold(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").trim().toLowerCase(Locale.ROOT);
    }

    /** Opens the run (once: a redelivered begin finds the run it opened). */
    public void begin(Exchange exchange) throws Exception {
        RunContext current = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        if (current != null && current.closedStatus() == null) {
            exchange.setProperty(RunContext.REFUSED, false);
            return;
        }
        String trigger = exchange.getProperty(TRIGGER, "schedule", String.class);
        if (!"manual".equals(trigger)) {
            // a paused source waits for an operator, a rate-limited one for its upstream's reset: schedule, retry,
            // recovery, watchdog and start-up triggers do not start it (an operator's manual run does)
            String hold = runs(exchange).hold(sourceId(), java.time.Instant.now());
            if (hold != null) {
                exchange.setProperty(RunContext.REFUSED, true);
                exchange.setProperty(RunContext.REFUSED_REASON, hold);
                LOG.info("Sync {} ({}) not started: {}", sourceId(), trigger, hold);
                return;
            }
        }
        RunContext run = runs(exchange).begin(sourceId(), kind(), trigger);
        exchange.setProperty(RunContext.REFUSED, run == null);
        if (run != null) {
            exchange.setProperty(RunContext.PROPERTY, run);
            if (exchange.getProperty(RunContext.RESTART, false, Boolean.class)) {
                // an operator's "read everything again": the checkpoint goes while this run holds the lock, so no other
                // run can have loaded it (and write it back) meanwhile
                try (java.sql.Connection c = runs(exchange).database().dataSource().getConnection();
                     java.sql.PreparedStatement ps = c.prepareStatement("DELETE FROM sync_checkpoint WHERE source_id = ?")) {
                    c.setAutoCommit(true);
                    ps.setString(1, sourceId());
                    if (ps.executeUpdate() > 0) {
                        LOG.info("Sync {} run {}: checkpoint dropped, everything is read again (restart)", sourceId(), run.runId());
                    }
                }
            }
        }
    }

    /**
     * Reads and writes. A retried attempt continues after what earlier attempts of the run committed: the jdbc kind
     * from its checkpoint, the kinds that read a whole body again (a report, a sheet) past the committed position.
     */
    public void sync(Exchange exchange) throws Exception {
        RunContext run = current(exchange);
        if (run.interruptRequested()) {
            throw new RunInterruptedException("Sync " + run.sourceId() + " run " + run.runId() + " not continued: " + run.interruptReason());
        }
        read(run, runs(exchange), exchange);
    }

    /** The table this source writes (the configured target, or the kind's default). */
    public String target() {
        return targetTable();
    }

    /** Told a backfill's run as soon as it holds the lock (rows 0), then the rows read so far. */
    @FunctionalInterface
    public interface BackfillProgress {
        void at(long runId, long rows);
    }

    /** What a backfill read and wrote, under its own run. */
    public record BackfillResult(long runId, long read, long written, long rejected) {
    }

    /**
     * Why this source cannot backfill a date range, or null when it can: only a source read by a date or timestamp
     * watermark has ranges (a sheet or a report is read whole on every sync).
     */
    public String backfillRefusal() {
        return "source " + sourceId() + " (" + kind() + ") is read whole on every sync: it has no date range to backfill";
    }

    /** The rows the upstream has in {@code [from, to]} (whole days, UTC), for a backfill's estimate. */
    public long countRange(CamelContext context, java.time.LocalDate from, java.time.LocalDate to) throws Exception {
        throw new IllegalStateException(backfillRefusal());
    }

    /**
     * Reads the rows of {@code [from, to]} again through the same writer and guards as a sync, as a run of its own
     * (trigger {@code backfill}, the source's lock; the checkpoint is left as it is); {@code progress} is told the
     * rows read so far.
     */
    public final BackfillResult backfill(CamelContext context, java.time.LocalDate from, java.time.LocalDate to,
                                         BackfillProgress progress) throws Exception {
        String refusal = backfillRefusal();
        if (refusal != null) {
            throw new IllegalStateException(refusal);
        }
        SyncRuns runs = context.getRegistry().findSingleByType(SyncRuns.class);
        RunContext run = runs.begin(sourceId(), kind(), "backfill");
        if (run == null) {
            throw new IllegalStateException("a run of " + sourceId() + " holds its lock: start the backfill when it has ended");
        }
        progress.at(run.runId(), 0);
        try {
            run.mode("backfill"); // neither a full read (the guards' baseline) nor an incremental one (the anomaly history)
            readRange(context, runs, run, from, to, progress);
            runs.complete(run);
            return new BackfillResult(run.runId(), run.read(), run.inserted() + run.updated(), run.rejected());
        } catch (Throwable e) {
            if (run.closedStatus() == null) {
                boolean stopped = e instanceof io.syncwarden.sync.RunInterruptedException;
                runs.fail(sourceId(), run, new io.syncwarden.sync.Failure(e, stopped ? io.syncwarden.sync.Failure.INTERRUPTED
                        : io.syncwarden.sync.Failure.RECOVERABLE, stopped ? e.getMessage() : "backfill " + from + ".." + to
                        + " stopped: " + e.getClass().getSimpleName(), stopped ? "interrupted" : "failed", false));
            }
            throw e;
        }
    }

    /** The kind's reading and writing of a backfill's range, inside the run {@link #backfill} opened and closes. */
    protected void readRange(CamelContext context, SyncRuns runs, RunContext run, java.time.LocalDate from,
                             java.time.LocalDate to, BackfillProgress progress) throws Exception {
        throw new IllegalStateException(backfillRefusal());
    }

    /**
     * Replays the rejected rows of one of this source's runs into its target table, after their cause was fixed (see
     * {@link io.syncwarden.sync.RejectedReplay}); the operations API exposes it.
     */
    public io.syncwarden.sync.RejectedReplay.Result replayRejected(CamelContext context, long runId, int rowsPerSecond)
            throws Exception {
        SyncRuns runs = context.getRegistry().findSingleByType(SyncRuns.class);
        return new io.syncwarden.sync.RejectedReplay(runs).replay(sourceId(), kind(), target(), keys(), runId, rowsPerSecond,
                replaySink());
    }

    /** Told, in the replay's batch transactions, the rows a replay wrote (null: nothing to do). */
    protected io.syncwarden.sync.BatchWriter.WrittenSink replaySink() {
        return null;
    }

    /**
     * Puts this source's target table back as it was before run {@code beforeRun} applied its read (see
     * {@link io.syncwarden.sync.Snapshots#rollback}); the operations API exposes it.
     */
    public io.syncwarden.sync.Snapshots.Restored rollback(CamelContext context, long beforeRun) throws Exception {
        SyncRuns runs = context.getRegistry().findSingleByType(SyncRuns.class);
        return runs.snapshots().rollback(sourceId(), kind(), target(), beforeRun);
    }

    /** The source's API keys when it rotates several (null: one credential). */
    public KeyRing keyRing() {
        return null;
    }

    /** The source bean of a source's route (the template's local bean {@code source}), or null. */
    public static SyncSource of(CamelContext context, String sourceId) {
        org.apache.camel.model.RouteDefinition route = ((org.apache.camel.model.ModelCamelContext) context).getRouteDefinition(sourceId);
        org.apache.camel.RouteTemplateContext template = route == null ? null : route.getRouteTemplateContext();
        Object bean = template == null || template.getLocalBeanRepository() == null ? null
                : template.getLocalBeanRepository().lookupByName("source");
        return bean instanceof SyncSource s ? s : null;
    }

    /**
     * One cheap request to see whether the upstream answers again (a recovery probe while the source is failing):
     * returns when it answered, throws when it did not. An answer that refuses us (401, 404) still counts as answering:
     * the run that follows says what is wrong.
     */
    public abstract void probe(CamelContext context) throws Exception;

    /** A probe's HTTP answer: a server error, a rate limit or a timeout status means the upstream is not back yet. */
    protected static void answered(Exchange probe, String what) throws Exception {
        if (probe.getException() != null) {
            throw probe.getException();
        }
        Integer code = probe.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
        if (code == null || code >= 500 || code == 429 || code == 408) {
            throw new java.io.IOException(what + " answered the probe with HTTP " + code);
        }
    }

    public void complete(Exchange exchange) throws Exception {
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        runs(exchange).guardEmpty(run);
        runs(exchange).complete(run);
    }

    /** The exchange's open run; a route whose run was never opened is misconfigured (not retried). */
    protected RunContext current(Exchange exchange) {
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        if (run == null) {
            throw new NonRecoverableSyncException("Source " + sourceId + ": no run was opened for this exchange (the "
                    + "route must listen on quartz:syncwarden/" + sourceId + " and use routeConfigurationId sync-errors)");
        }
        return run;
    }

    protected static SyncRuns runs(Exchange exchange) {
        SyncRuns runs = exchange.getContext().getRegistry().findSingleByType(SyncRuns.class);
        if (runs == null) {
            throw new IllegalStateException("No SyncRuns bean in the registry: is SyncwardenConfiguration loaded?");
        }
        return runs;
    }

    protected static String required(String name, String value, String sourceId) {
        if (value == null || value.isBlank()) {
            throw new NonRecoverableSyncException("Source " + sourceId + ": parameter '" + name + "' is required");
        }
        return value.trim();
    }

    public String sourceId() {
        return sourceId;
    }

    public void setSourceId(String sourceId) {
        this.sourceId = sourceId;
    }

    public String targetTable() {
        return targetTable;
    }

    public void setTargetTable(String targetTable) {
        this.targetTable = targetTable;
    }

    public int batchSize() {
        return batchSize;
    }

    /** The configured key columns (the target's primary key), validated as plain identifiers. */
    public List<String> keys() {
        return Arrays.stream(required("keyColumns", keyColumns, sourceId).split(","))
                .map(k -> TargetTable.identifier("Key column", k.trim())).toList();
    }

    public void setKeyColumns(String keyColumns) {
        this.keyColumns = keyColumns;
    }

    public void setLookupColumns(String lookupColumns) {
        this.lookupColumns = lookupColumns;
    }

    /** What a complete full read does with target rows it no longer has: mark (deleted_at), delete, keep. */
    protected io.syncwarden.sync.BatchWriter.Deletions deletions() {
        return io.syncwarden.sync.BatchWriter.Deletions.of(deletions, sourceId);
    }

    public void setDeletions(String deletions) {
        this.deletions = deletions;
    }

    public void setBatchSize(int batchSize) {
        this.batchSize = batchSize;
    }
}
