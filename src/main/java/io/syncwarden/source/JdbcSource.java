package io.syncwarden.source;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncwarden.store.Identifiers;
import io.syncwarden.sync.BatchWriter;
import io.syncwarden.sync.Checkpoints;
import io.syncwarden.sync.Cursor;
import io.syncwarden.sync.KeyTracker;
import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.TargetTable;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import javax.sql.DataSource;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.component.jdbc.JdbcConstants;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code jdbc} source kind: copies a table or query of a replica database into the target.
 *
 * <p>{@code full} reads everything in key order. {@code incremental} reads what changed since the last run: first the
 * rows whose watermark is NULL (they cannot be ordered by it, so they are re-read every run; none when the column is
 * NOT NULL), then the rows whose watermark is at or after the highest one written so far, less the
 * {@code watermarkLookback} window, in (watermark, key) order. The window catches rows committed late with a
 * watermark behind ones already read: {@code now()} is a transaction's start time, so a long transaction commits
 * rows stamped before those of shorter ones that committed first, and a replica applies them in commit order.
 *
 * <p>Reads stream (a cursor, fetch size, autocommit off for PostgreSQL). The position of the last committed batch is
 * the checkpoint, so an interrupted run resumes after the last row it wrote. Values are read with their full type
 * (time zones, nanoseconds, UUIDs) and names are quoted, so keyword column names work.
 */
public class JdbcSource extends SyncSource implements ReadDataSource {
    private static final Logger LOG = LoggerFactory.getLogger(JdbcSource.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String PASS_FULL = "full";
    static final String PASS_NULLS = "nulls";
    static final String PASS_CHANGES = "changes";
    /** Exchange property: the run's read ({@link Read}). */
    static final String READ = "syncwardenJdbcRead";
    /** The run's snapshot (taken before its fresh full read), until the run settles it. */
    static final String SNAPSHOT = "syncwardenJdbcSnapshot";
    /** Exchange property the route's loop runs on: another pass is to be read. */
    static final String READING = "syncwardenReading";

    private String jdbcUrl;
    private String username;
    private String password;
    private String table;
    private String query;
    private String mode = "full";
    private String watermarkColumn;
    private String watermarkLookback = "PT10M";
    /** The replica's pool, set by the plan step; camel-jdbc takes its connections through {@link #getConnection()}. */
    private volatile DataSource pool;
    /** The connection of the pass being streamed (one run at a time per source: the source lock). */
    private volatile Connection streamConnection;

    /** Where a read stands: the pass, the last committed position in it, and the highest watermark written so far. */
    record Position(String pass, Object[] at, Object high) {
        String encode() {
            ObjectNode node = JSON.createObjectNode();
            node.put("pass", pass);
            if (at != null) {
                node.set("at", arrayOf(at));
            }
            if (high != null) {
                node.set("high", Cursor.value(high));
            }
            return node.toString();
        }

        private static JsonNode arrayOf(Object[] values) {
            var array = JSON.createArrayNode();
            for (Object v : values) {
                array.add(Cursor.value(v));
            }
            return array;
        }

        static Position decode(String text, boolean incremental) {
            try {
                JsonNode node = JSON.readTree(text);
                if (node.isArray()) {
                    // the first format: the ordering columns' values; for incremental the watermark comes first
                    Object[] at = Cursor.decode(text);
                    return incremental ? new Position(PASS_CHANGES, at, at.length > 0 ? at[0] : null) : new Position(PASS_FULL, at, null);
                }
                Object[] at = null;
                if (node.has("at")) {
                    at = Cursor.decode(node.get("at").toString());
                }
                return new Position(node.path("pass").asText(PASS_FULL), at, Cursor.value(node.get("high")));
            } catch (Exception e) {
                throw new NonRecoverableSyncException("Unreadable checkpoint '" + text + "': " + e.getMessage()
                        + "; delete the source's sync_checkpoint row to start over");
            }
        }
    }

    @Override
    public String kind() {
        return "jdbc";
    }

    /**
     * Plans the run's read (the route's {@code plan} step): the checkpoint, the source's shape, the target table, a
     * batch writer on a target connection, and the first pass's query. The route then runs the query through its
     * {@code jdbc} step and hands the streamed rows to {@link #write}, pass after pass.
     */
    public void plan(Exchange exchange) throws Exception {
        sync(exchange);
    }

    @Override
    protected void read(RunContext run, SyncRuns runs, Exchange exchange) throws Exception {
        Read previous = exchange.getProperty(READ, Read.class);
        if (previous != null) {
            previous.close(); // a retried attempt plans again from what is committed
        } else if (exchange.getProperty(SNAPSHOT) == null && !Boolean.TRUE.equals(exchange.getProperty(READ + ".cleanup"))) {
            // registered before anything is taken: whatever the run leaves open (its read, an unsettled snapshot) is
            // closed when the exchange is done, however it ends
            exchange.setProperty(READ + ".cleanup", true);
            exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
                @Override
                public void onDone(Exchange done) {
                    Read last = done.getProperty(READ, Read.class);
                    if (last != null) {
                        last.close();
                    }
                    settleSnapshot(done, run, runs);
                }
            });
        }
        exchange.setProperty(READING, false);
        String id = sourceId();
        String url = required("jdbcUrl", jdbcUrl, id);
        boolean incremental = "incremental".equalsIgnoreCase(mode);
        if (!incremental && !"full".equalsIgnoreCase(mode)) {
            throw new NonRecoverableSyncException("Source " + id + ": mode must be full or incremental, was '" + mode + "'");
        }
        List<String> keys = keys();
        String watermark = incremental ? TargetTable.identifier("Watermark column", required("watermarkColumn", watermarkColumn, id)) : null;
        String target = targetTable() != null && !targetTable().isBlank() ? targetTable() : table;
        run.mode(incremental ? "incremental" : "full");

        var db = runs.database();
        pool = exchange.getContext().getRegistry().findSingleByType(SourcePools.class).get(id, url, username, password);
        Connection tc = db.dataSource().getConnection();
        try {
            tc.setAutoCommit(false);
            Checkpoints.Checkpoint cp = Checkpoints.load(tc, id);
            tc.commit();
            Shape shape;
            try (Connection sc = pool.getConnection()) {
                shape = shape(sc, keys, watermark);
            }
            Position start = startPosition(cp, run, incremental, shape);
            if (!incremental && previous == null && run.resumedFrom() == null && (cp == null || cp.cursor() == null
                    || Checkpoints.COMPLETE.equals(cp.phase()))) {
                // a fresh full read: the replica's row count against the last good run's, before a row is applied
                long last = runs.lastGoodCount(id);
                if (last > 0) {
                    try (Connection sc = pool.getConnection(); java.sql.Statement st = sc.createStatement();
                         ResultSet rs = st.executeQuery("SELECT COUNT(*) FROM " + shape.from)) {
                        rs.next();
                        run.expectedRows(rs.getLong(1));
                        runs.guardCount(run, rs.getLong(1), last);
                    }
                }
            }
            // full mode: a column the replica added is added to the target (nullable) and reported with the run; an
            // incremental read would leave it NULL in every row it does not read again, so there it fails, saying so
            TargetTable tt = TargetTable.ensure(tc, db, target, shape.offered, keys, Map.of(), !incremental);
            runs.reportColumns(run, shape.columns);
            if (!incremental && exchange.getProperty(SNAPSHOT) == null && previous == null && run.resumedFrom() == null
                    && (cp == null || cp.cursor() == null || Checkpoints.COMPLETE.equals(cp.phase()))) {
                // a fresh full read: the table's rows before it, for a rollback
                exchange.setProperty(SNAPSHOT, runs.snapshots().take(tc, run, tt));
            }
            long done = cp != null && Checkpoints.IN_PROGRESS.equals(cp.phase()) ? cp.rowsDone() : 0;
            Read read = new Read(run, runs, tc, shape, start, incremental);
            read.writer = new BatchWriter(tc, db.dialect(), tt, shape.columns, keys, batchSize(), run, runs, read::cursor, done)
                    .duplicates(read.duplicates);
            tc = null; // the read owns it now
            exchange.setProperty(READ, read);
            read.first(exchange);
        } finally {
            if (tc != null) {
                tc.close();
            }
        }
    }

    @Override
    public String backfillRefusal() {
        return "incremental".equalsIgnoreCase(mode) && watermarkColumn != null && !watermarkColumn.isBlank() ? null
                : "source " + sourceId() + " is read in full mode: every sync reads everything, there is no range to backfill";
    }

    /** The range's condition on the watermark and its two bounds (start of {@code from}, start of the day after {@code to}). */
    private String rangeCondition(Shape shape) {
        String wm = shape.quoted(shape.watermarkIdx);
        return wm + " >= ? AND " + wm + " < ?";
    }

    /**
     * Binds the range's bounds in the watermark's own type: whole UTC days for a timestamp with time zone, wall-clock
     * days for a timestamp, days for a date. A watermark of another type (a number, text) has no date range.
     */
    private void bindRange(PreparedStatement ps, Shape shape, java.time.LocalDate from, java.time.LocalDate to) throws SQLException {
        TargetTable.Column wm = shape.offered.get(shape.watermarkIdx);
        java.time.LocalDate end = to.plusDays(1);
        switch (wm.jdbcType()) {
            case Types.TIMESTAMP_WITH_TIMEZONE -> {
                ps.setObject(1, from.atStartOfDay().atOffset(java.time.ZoneOffset.UTC));
                ps.setObject(2, end.atStartOfDay().atOffset(java.time.ZoneOffset.UTC));
            }
            case Types.TIMESTAMP -> {
                ps.setObject(1, from.atStartOfDay());
                ps.setObject(2, end.atStartOfDay());
            }
            case Types.DATE -> {
                ps.setObject(1, from);
                ps.setObject(2, end);
            }
            default -> throw new IllegalStateException("source " + sourceId() + ": its watermark " + shape.columns.get(shape.watermarkIdx)
                    + " is not a date or a timestamp (" + wm.typeName() + "): it has no date range to backfill");
        }
    }

    @Override
    public long countRange(org.apache.camel.CamelContext context, java.time.LocalDate from, java.time.LocalDate to) throws Exception {
        String refusal = backfillRefusal();
        if (refusal != null) {
            throw new IllegalStateException(refusal);
        }
        javax.sql.DataSource source = context.getRegistry().findSingleByType(SourcePools.class).get(sourceId(),
                required("jdbcUrl", jdbcUrl, sourceId()), username, password);
        try (Connection sc = source.getConnection()) {
            Shape shape = shape(sc, keys(), TargetTable.identifier("Watermark column", watermarkColumn));
            try (PreparedStatement ps = sc.prepareStatement("SELECT COUNT(*) FROM " + shape.from + " WHERE " + rangeCondition(shape))) {
                bindRange(ps, shape, from, to);
                ps.setQueryTimeout(60);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                } finally {
                    sc.rollback();
                }
            }
        }
    }

    @Override
    protected void readRange(org.apache.camel.CamelContext context, SyncRuns runs, RunContext run, java.time.LocalDate from,
                          java.time.LocalDate to, BackfillProgress progress) throws Exception {
        List<String> keys = keys();
        String target = targetTable() != null && !targetTable().isBlank() ? targetTable() : table;
        javax.sql.DataSource source = context.getRegistry().findSingleByType(SourcePools.class).get(sourceId(),
                required("jdbcUrl", jdbcUrl, sourceId()), username, password);
        var db = runs.database();
        try (Connection sc = source.getConnection(); Connection tc = db.dataSource().getConnection()) {
            Shape shape = shape(sc, keys, TargetTable.identifier("Watermark column", watermarkColumn));
            tc.setAutoCommit(false);
            TargetTable tt = TargetTable.ensure(tc, db, target, shape.offered, keys, Map.of(), false);
            tc.commit();
            List<String> all = new ArrayList<>();
            for (int i = 0; i < shape.columns.size(); i++) {
                all.add(shape.quoted(i));
            }
            try (BatchWriter writer = new BatchWriter(tc, db.dialect(), tt, shape.columns, keys, batchSize(), run, runs, null, 0);
                 PreparedStatement ps = TypedResults.wrap(sc).prepareStatement("SELECT " + String.join(", ", all) + " FROM "
                         + shape.from + " WHERE " + rangeCondition(shape) + " ORDER BY "
                         + String.join(", ", shape.quotedAll(shape.changesIdx)))) {
                sc.setAutoCommit(false); // PostgreSQL streams only inside a transaction
                ps.setFetchSize(Math.max(100, batchSize()));
                bindRange(ps, shape, from, to);
                long position = 0;
                try (ResultSet rs = ps.executeQuery()) {
                    int n = shape.columns.size();
                    while (rs.next()) {
                        Object[] row = new Object[n];
                        for (int i = 0; i < n; i++) {
                            row[i] = rs.getObject(i + 1);
                        }
                        writer.add(row, ++position);
                        if (position % 1000 == 0) {
                            progress.at(run.runId(), position);
                        }
                    }
                }
                writer.finish();
                sc.rollback();
                progress.at(run.runId(), position);
            }
        }
    }

    /**
     * Writes the rows the {@code jdbc} step streamed (one pass), then sets up the next pass or ends the read. A
     * redelivered {@code write} finds its stream already taken from (rows of the failed batch went with it): it
     * plans again from the last committed batch and the route's loop reads from there.
     */
    public void write(Exchange exchange) throws Exception {
        Read read = exchange.getProperty(READ, Read.class);
        if (read == null) {
            throw new NonRecoverableSyncException("Source " + sourceId() + ": the write step runs after plan and the jdbc step");
        }
        if (read.streamTaken) {
            read.closeStream();
            sync(exchange);
            return;
        }
        read.streamTaken = true;
        read.stream = streamConnection;
        Iterator<?> rows = exchange.getMessage().getBody(Iterator.class);
        if (rows == null) {
            throw new NonRecoverableSyncException("Source " + sourceId() + ": the jdbc step gave no result rows "
                    + "(it needs outputType=StreamList)");
        }
        try {
            boolean first = true;
            while (rows.hasNext()) {
                Map<?, ?> values = (Map<?, ?>) rows.next();
                if (first) {
                    read.checkColumns(values.keySet());
                    first = false;
                }
                Object[] row = new Object[values.size()];
                int i = 0;
                for (Object v : values.values()) {
                    row[i++] = v;
                }
                read.writer.add(row, ++read.position);
            }
            read.closeStream();
            read.next(exchange);
        } catch (Exception e) {
            read.closeStream();
            read.rollbackTarget(); // no lock held in the target while the error handler waits to retry
            throw e;
        }
    }

    /**
     * Closes the run; a {@code full} read that completed first sweeps the target for rows the replica no longer has
     * (marked deleted, removed or kept per {@code deletions}, see {@link io.syncwarden.sync.DeletionSweep}).
     */
    @Override
    public void complete(Exchange exchange) throws Exception {
        RunContext run = current(exchange);
        SyncRuns runs = runs(exchange);
        runs.guardEmpty(run);
        Read read = exchange.getProperty(READ, Read.class);
        if (read != null && !read.incremental) {
            String target = targetTable() != null && !targetTable().isBlank() ? targetTable() : table;
            io.syncwarden.sync.DeletionSweep.afterFullRead(runs, run, target, keys(), read.shape.columns, deletions(),
                    () -> replicaKeys(read.shape));
        }
        settleSnapshot(exchange, run, runs); // after the deletions: they are changes a rollback undoes too
        runs.complete(run);
    }

    /**
     * Registers the run's snapshot when the run changed the table (committed batches count, also of a run that then
     * failed: a later run resumes it without a snapshot of its own), drops it otherwise.
     */
    private static void settleSnapshot(Exchange exchange, RunContext run, SyncRuns runs) {
        io.syncwarden.sync.Snapshots.Taken taken = exchange.getProperty(SNAPSHOT, io.syncwarden.sync.Snapshots.Taken.class);
        if (taken != null) {
            exchange.removeProperty(SNAPSHOT);
            runs.snapshots().settle(taken, run, run.inserted() + run.updated() + run.deleted() > 0);
        }
    }

    /** Every key the replica's rows have now (the read's own FROM), streamed into a key set; null past its size. */
    private KeyTracker replicaKeys(Shape shape) throws SQLException {
        KeyTracker keys = new KeyTracker(KeyTracker.Mode.ALL);
        String select = "SELECT " + String.join(", ", shape.quotedAll(shape.keyIdx)) + " FROM " + shape.from;
        try (Connection sc = pool.getConnection()) {
            sc.setAutoCommit(false); // PostgreSQL streams through a cursor only so
            try (java.sql.Statement st = sc.createStatement()) {
                st.setFetchSize(1000);
                try (ResultSet rs = st.executeQuery(select)) {
                    int n = shape.keyIdx.length;
                    int[] kinds = KeyTracker.kinds(rs);
                    long position = 0;
                    while (rs.next()) {
                        Object key;
                        if (n == 1) {
                            key = KeyTracker.read(rs, 1, kinds);
                        } else {
                            Object[] parts = new Object[n];
                            for (int i = 0; i < n; i++) {
                                parts[i] = KeyTracker.read(rs, i + 1, kinds);
                            }
                            key = java.util.Arrays.asList(parts);
                        }
                        keys.seen(key, ++position);
                        if (!keys.exact()) {
                            return null;
                        }
                    }
                }
            } finally {
                sc.rollback();
            }
        }
        return keys;
    }

    /** camel-jdbc's connection for the current pass: autocommit off (PostgreSQL streams with a cursor only so). */
    @Override
    public Connection getConnection() throws SQLException {
        DataSource p = pool;
        if (p == null) {
            throw new SQLException("Source " + sourceId() + ": the jdbc step runs after the plan step");
        }
        Connection c = p.getConnection();
        try {
            c.setAutoCommit(false);
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        Connection typed = TypedResults.wrap(c);
        streamConnection = typed;
        return typed;
    }

    /** One run's read: the passes still to do, where each stands, and the writer they feed. */
    private final class Read {
        final RunContext run;
        final SyncRuns runs;
        final Connection tc;
        final Shape shape;
        final Position start;
        final boolean incremental;
        final KeyTracker.Mode duplicates;
        BatchWriter writer;
        Object high;
        String pass;
        long position;
        boolean streamTaken;
        /** The replica connection of the pass being written (camel-jdbc's, handed out by {@link #getConnection()}). */
        Connection stream;


        Read(RunContext run, SyncRuns runs, Connection tc, Shape shape, Position start, boolean incremental) {
            this.run = run;
            this.runs = runs;
            this.tc = tc;
            this.shape = shape;
            this.start = start;
            this.incremental = incremental;
            this.high = start.high();
            this.position = run.read() + run.skipped();
            this.duplicates = shape.uniqueKey ? KeyTracker.Mode.NONE : incremental ? KeyTracker.Mode.ALL : KeyTracker.Mode.ADJACENT;
        }

        /** The checkpoint of a committed batch: its pass, its last row's place in the pass's order, the highest watermark. */
        String cursor(Object[] last) {
            int[] idx = shape.order(pass);
            Object[] at = new Object[idx.length];
            for (int i = 0; i < idx.length; i++) {
                at[i] = last == null ? null : last[idx[i]];
                if (at[i] == null) {
                    return null; // no position to resume after (a rejected row without its key): the last one stays
                }
            }
            if (PASS_CHANGES.equals(pass)) {
                high = later(high, last[shape.watermarkIdx]);
            }
            return new Position(pass, at, high).encode();
        }

        void first(Exchange exchange) throws SQLException {
            if (!incremental) {
                query(exchange, PASS_FULL, start.at(), null);
            } else if (PASS_NULLS.equals(start.pass()) && shape.watermarkNullable) {
                query(exchange, PASS_NULLS, start.at(), null);
            } else {
                Object[] at = PASS_CHANGES.equals(start.pass()) ? start.at() : null;
                query(exchange, PASS_CHANGES, at, at == null ? lookback(start.high()) : null);
            }
        }

        /** After a pass: the changes pass follows the NULL pass; after the last one the read completes. */
        void next(Exchange exchange) throws SQLException {
            if (PASS_NULLS.equals(pass)) {
                writer.finish(); // the NULL pass's last batch commits with its own position
                // a row given its first watermark while the NULL pass ran is read again, newer: not a duplicate
                writer.duplicates(duplicates);
                query(exchange, PASS_CHANGES, null, lookback(start.high()));
                return;
            }
            writer.finish();
            runs.checkLease(tc, run); // a run that lost its source must not overwrite the new owner's checkpoint
            Checkpoints.save(tc, run, incremental ? new Position(PASS_NULLS, null, high).encode() : null, Checkpoints.COMPLETE, 0);
            tc.commit();
            if (!incremental && run.read() == 0 && run.resumedFrom() == null) {
                run.markEmpty();
            }
            exchange.setProperty(READING, false);
            close();
        }

        /** Sets the exchange up for the jdbc step: the pass's SELECT as the body, its values as named parameters. */
        private void query(Exchange exchange, String pass, Object[] at, Object from) {
            this.pass = pass;
            Map<String, Object> params = new LinkedHashMap<>();
            String sql = select(shape, at, from, PASS_NULLS.equals(pass), shape.order(pass), params);
            exchange.getMessage().setBody(sql);
            exchange.getMessage().setHeader(JdbcConstants.JDBC_PARAMETERS, params);
            exchange.setProperty(READING, true);
            streamTaken = false;
        }

        /** The streamed columns must be the planned ones, in order: a table changed between plan and read is refused. */
        void checkColumns(java.util.Collection<?> streamed) {
            List<String> got = streamed.stream().map(o -> String.valueOf(o).toLowerCase(Locale.ROOT)).toList();
            if (!got.equals(shape.columns)) {
                throw new NonRecoverableSyncException("Source " + sourceId() + ": the replica returned columns " + got
                        + ", planned " + shape.columns + "; has the table changed during the run?");
            }
        }

        /** Closes this pass's replica connection (rolling its read transaction back and freeing its cursor). */
        void closeStream() {
            Connection c = stream;
            stream = null;
            if (c == null) {
                return;
            }
            if (streamConnection == c) {
                streamConnection = null;
            }
            try {
                c.close();
            } catch (SQLException e) {
                LOG.debug("Source {}: closing the read connection: {}", sourceId(), e.getMessage());
            }
        }

        void rollbackTarget() {
            try {
                if (!tc.isClosed()) {
                    tc.rollback();
                }
            } catch (SQLException e) {
                LOG.debug("Source {}: rolling the target back: {}", sourceId(), e.getMessage());
            }
        }

        void close() {
            closeStream();
            try {
                if (writer != null) {
                    BatchWriter w = writer;
                    writer = null;
                    w.close();
                }
            } catch (Exception e) {
                LOG.debug("Source {}: closing the writer: {}", sourceId(), e.getMessage());
            }
            try {
                if (!tc.isClosed()) {
                    tc.rollback();
                    tc.close();
                }
            } catch (SQLException e) {
                LOG.debug("Source {}: closing the target connection: {}", sourceId(), e.getMessage());
            }
        }
    }

    /**
     * Where this run starts: an interrupted run's position (its own after a retry, or an earlier run's: then the run
     * records it resumed), else the start of the read.
     */
    private Position startPosition(Checkpoints.Checkpoint cp, RunContext run, boolean incremental, Shape shape) {
        if (cp == null || cp.cursor() == null) {
            return new Position(incremental ? PASS_NULLS : PASS_FULL, null, null);
        }
        Position p = Position.decode(cp.cursor(), incremental);
        if (Checkpoints.COMPLETE.equals(cp.phase())) {
            return incremental ? new Position(PASS_NULLS, null, p.high()) : new Position(PASS_FULL, null, null);
        }
        if (incremental != !PASS_FULL.equals(p.pass())) {
            return new Position(incremental ? PASS_NULLS : PASS_FULL, null, null); // the mode changed: start over
        }
        if (p.at() != null && p.at().length != shape.order(p.pass()).length) {
            throw new NonRecoverableSyncException("Source " + sourceId() + ": the checkpoint " + cp.cursor()
                    + " does not match the ordering columns; delete its sync_checkpoint row to start over");
        }
        if (cp.runId() != null && cp.runId() != run.runId()) {
            run.resumedFrom(cp.cursor());
        }
        return p;
    }

    /**
     * One pass's SELECT: rows after {@code at} in {@code order} (from {@code from} on the watermark when there is no
     * position yet), or the NULL-watermark rows; its values go into {@code params} as named parameters ({@code :?pN}).
     */
    static String select(Shape shape, Object[] at, Object from, boolean nullWatermark, int[] order, Map<String, Object> params) {
        List<String> where = new ArrayList<>();
        if (shape.watermarkIdx >= 0) {
            String wm = shape.quoted(shape.watermarkIdx);
            if (nullWatermark) {
                where.add(wm + " IS NULL");
            } else if (at == null) {
                where.add(from != null ? wm + " >= " + param(params, from) : wm + " IS NOT NULL");
            }
        }
        if (at != null) {
            where.add(keyset(shape.quotedAll(order), i -> param(params, at[i])));
        }
        return "SELECT * FROM " + shape.from + (where.isEmpty() ? "" : " WHERE " + String.join(" AND ", where))
                + " ORDER BY " + String.join(", ", shape.quotedAll(order));
    }

    private static String param(Map<String, Object> params, Object value) {
        String name = "p" + params.size();
        params.put(name, value);
        return ":?" + name;
    }

    /** What the source offers: columns with their types, how to name and order them, and whether its key is unique. */
    private static final class Shape {
        final String from;
        final String quote;
        final List<String> columns = new ArrayList<>();
        final List<String> labels = new ArrayList<>();
        final List<TargetTable.Column> offered = new ArrayList<>();
        int[] keyIdx;
        int[] changesIdx;
        int watermarkIdx = -1;
        boolean watermarkNullable = true;
        boolean uniqueKey;

        Shape(String from, String quote) {
            this.from = from;
            this.quote = quote;
        }

        int[] order(String pass) {
            return PASS_CHANGES.equals(pass) ? changesIdx : keyIdx;
        }

        String quoted(int i) {
            return Identifiers.quote(labels.get(i), quote);
        }

        List<String> quotedAll(int[] idx) {
            List<String> out = new ArrayList<>();
            for (int i : idx) {
                out.add(quoted(i));
            }
            return out;
        }

    }

    private Shape shape(Connection sc, List<String> keys, String watermark) throws SQLException {
        DatabaseMetaData md = sc.getMetaData();
        String quote = md.getIdentifierQuoteString();
        boolean isQuery = query != null && !query.isBlank();
        String schema = sc.getSchema();
        String storedTable = isQuery ? null : stored(md, schema, TargetTable.identifier("Source table", required("table", table, sourceId())));
        Shape s = new Shape(isQuery ? "(" + query.trim() + ") src" : Identifiers.quote(storedTable, quote), quote);
        if (isQuery && query.contains(":?")) {
            throw new NonRecoverableSyncException("Source " + sourceId() + ": the query contains ':?', which camel-jdbc "
                    + "reads as a named parameter; write it another way");
        }
        try (PreparedStatement ps = sc.prepareStatement("SELECT * FROM " + s.from + " WHERE 1 = 0")) {
            if (isQuery && ps.getParameterMetaData().getParameterCount() > 0) {
                throw new NonRecoverableSyncException("Source " + sourceId() + ": the query has ? placeholders; give the "
                        + "values in the query itself");
            }
            try (ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData rmd = rs.getMetaData();
                int n = rmd.getColumnCount();
                for (int i = 1; i <= n; i++) {
                    String label = rmd.getColumnLabel(i);
                    String col = label.toLowerCase(Locale.ROOT);
                    if (s.columns.contains(col)) {
                        throw new NonRecoverableSyncException("Source " + sourceId() + ": the result has two columns named " + col);
                    }
                    s.columns.add(col);
                    s.labels.add(label);
                    s.offered.add(new TargetTable.Column(col, rmd.getColumnType(i), rmd.getColumnTypeName(i), rmd.getPrecision(i), rmd.getScale(i)));
                    if (col.equals(watermark)) {
                        s.watermarkNullable = rmd.isNullable(i) != ResultSetMetaData.columnNoNulls;
                    }
                }
            }
        }
        sc.rollback();
        s.keyIdx = indexes(s, keys);
        if (watermark != null) {
            s.watermarkIdx = indexes(s, List.of(watermark))[0];
            List<String> order = new ArrayList<>();
            order.add(watermark);
            order.addAll(keys);
            s.changesIdx = indexes(s, order);
        }
        s.uniqueKey = storedTable != null && uniqueOnSource(md, schema, storedTable, keys);
        sc.rollback();
        return s;
    }

    private int[] indexes(Shape s, List<String> names) {
        int[] idx = new int[names.size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = s.columns.indexOf(names.get(i));
            if (idx[i] < 0) {
                // schema drift (a key or watermark column renamed or removed on the replica): refused, with an incident
                throw new io.syncwarden.sync.RunRefusedException("refused_schema", "column " + names.get(i)
                        + " is not in the replica's result (renamed or removed?); its columns: " + s.columns);
            }
        }
        return idx;
    }

    /** A table's name as the source stores it (folded like its unquoted names, or as found in its catalogue). */
    private static String stored(DatabaseMetaData md, String schema, String name) throws SQLException {
        try (ResultSet rs = md.getTables(null, schema, null, null)) {
            String found = null;
            while (rs.next()) {
                String t = rs.getString("TABLE_NAME");
                if (t.equals(name)) {
                    return t;
                }
                if (t.equalsIgnoreCase(name) && found == null) {
                    found = t;
                }
            }
            if (found != null) {
                return found;
            }
        }
        return md.storesUpperCaseIdentifiers() ? name.toUpperCase(Locale.ROOT)
                : md.storesLowerCaseIdentifiers() ? name.toLowerCase(Locale.ROOT) : name;
    }

    /** True when the source table's primary key or a unique index covers the key columns: no key can repeat. */
    private static boolean uniqueOnSource(DatabaseMetaData md, String schema, String storedTable, List<String> keys) {
        Set<String> wanted = new HashSet<>(keys);
        try {
            Map<String, Set<String>> unique = new LinkedHashMap<>();
            try (ResultSet rs = md.getPrimaryKeys(null, schema, storedTable)) {
                while (rs.next()) {
                    unique.computeIfAbsent("pk", k -> new HashSet<>()).add(rs.getString("COLUMN_NAME").toLowerCase(Locale.ROOT));
                }
            }
            try (ResultSet rs = md.getIndexInfo(null, schema, storedTable, true, true)) {
                while (rs.next()) {
                    String column = rs.getString("COLUMN_NAME");
                    // a partial unique index (WHERE ...) does not make the key unique over the whole table
                    if (column != null && rs.getString("INDEX_NAME") != null && rs.getString("FILTER_CONDITION") == null) {
                        unique.computeIfAbsent("ix:" + rs.getString("INDEX_NAME"), k -> new HashSet<>()).add(column.toLowerCase(Locale.ROOT));
                    }
                }
            }
            return unique.values().stream().anyMatch(cols -> !cols.isEmpty() && wanted.containsAll(cols));
        } catch (SQLException e) {
            return false; // cannot tell: check every key
        }
    }

    /** The first watermark a run reads from: the highest one written so far, less the lookback window. */
    Object lookback(Object high) {
        if (high == null) {
            return null;
        }
        String text = watermarkLookback == null ? "" : watermarkLookback.trim();
        if (text.isEmpty() || text.equals("0")) {
            return high;
        }
        if (high instanceof Number number) {
            try {
                BigDecimal back = new BigDecimal(text);
                return high instanceof Long || high instanceof Integer ? (Object) (number.longValue() - back.longValue())
                        : new BigDecimal(number.toString()).subtract(back);
            } catch (NumberFormatException e) {
                LOG.debug("Source {}: a time lookback ({}) does not apply to a numeric watermark", sourceId(), text);
                return high;
            }
        }
        Duration window = duration(text);
        if (high instanceof LocalDateTime t) {
            return t.minus(window);
        }
        if (high instanceof OffsetDateTime t) {
            return t.minus(window);
        }
        if (high instanceof LocalDate d) {
            return d.minusDays(window.toDays());
        }
        return high;
    }

    /** {@code PT10M}, {@code 10m}, {@code 90s}, {@code 2h}, {@code 1d}, or milliseconds. */
    public static Duration duration(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        try {
            if (t.startsWith("p")) {
                return Duration.parse(t.toUpperCase(Locale.ROOT));
            }
            if (t.matches("\\d+")) {
                return Duration.ofMillis(Long.parseLong(t));
            }
            long n = Long.parseLong(t.substring(0, t.length() - 1).trim());
            return switch (t.charAt(t.length() - 1)) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                case 'd' -> Duration.ofDays(n);
                default -> throw new NumberFormatException(t);
            };
        } catch (NumberFormatException | DateTimeParseException | StringIndexOutOfBoundsException e) {
            throw new NonRecoverableSyncException("'" + text + "' is not a duration (e.g. PT10M, 10m, 90s, 2h)");
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object later(Object a, Object b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        try {
            return ((Comparable) b).compareTo(a) > 0 ? b : a;
        } catch (ClassCastException e) {
            return b;
        }
    }

    @Override
    public String target() {
        return targetTable() != null && !targetTable().isBlank() ? targetTable() : table;
    }

    /** A connection from the replica's pool that answers (JDBC isValid: the driver's own ping). */
    @Override
    public void probe(CamelContext context) throws SQLException {
        try (Connection sc = context.getRegistry().findSingleByType(SourcePools.class)
                .get(sourceId(), required("jdbcUrl", jdbcUrl, sourceId()), username, password).getConnection()) {
            if (!sc.isValid(10)) {
                throw new SQLException("the replica did not answer the probe within 10 s", "08006");
            }
        }
    }

    /** Looks the record up in the replica: text lookup columns compared case-insensitively, at most LOOKUP_LIMIT rows. */
    @Override
    public List<Map<String, Object>> find(CamelContext context, String nameOrEmail) throws SQLException {
        try (Connection sc = context.getRegistry().findSingleByType(SourcePools.class)
                .get(sourceId(), required("jdbcUrl", jdbcUrl, sourceId()), username, password).getConnection()) {
            String quote = sc.getMetaData().getIdentifierQuoteString();
            String from = query != null && !query.isBlank() ? "(" + query.trim() + ") src"
                    : Identifiers.quote(stored(sc.getMetaData(), sc.getSchema(),
                    TargetTable.identifier("Source table", required("table", table, sourceId()))), quote);
            List<String> searched = new ArrayList<>();
            try (PreparedStatement ps = sc.prepareStatement("SELECT * FROM " + from + " WHERE 1 = 0");
                 ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData md = rs.getMetaData();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    String label = md.getColumnLabel(i);
                    int type = md.getColumnType(i);
                    boolean text = type == Types.VARCHAR || type == Types.CHAR || type == Types.NVARCHAR
                            || type == Types.NCHAR || type == Types.LONGVARCHAR;
                    if (text && isLookupColumn(label.toLowerCase(Locale.ROOT))) {
                        searched.add(Identifiers.quote(label, quote));
                    }
                }
            }
            if (searched.isEmpty()) {
                throw new NonRecoverableSyncException("Source " + sourceId() + " has no text column to look up by name "
                        + "or email; name them in its lookupColumns parameter");
            }
            String sql = "SELECT * FROM " + from + " WHERE " + String.join(" OR ",
                    searched.stream().map(c -> "LOWER(" + c + ") = ?").toList());
            List<Map<String, Object>> out = new ArrayList<>();
            try (PreparedStatement ps = sc.prepareStatement(sql)) {
                ps.setMaxRows(LOOKUP_LIMIT);
                for (int i = 1; i <= searched.size(); i++) {
                    ps.setString(i, fold(nameOrEmail));
                }
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData md = rs.getMetaData();
                    while (rs.next()) {
                        Map<String, Object> row = new LinkedHashMap<>();
                        for (int i = 1; i <= md.getColumnCount(); i++) {
                            row.put(md.getColumnLabel(i).toLowerCase(Locale.ROOT), rs.getObject(i));
                        }
                        out.add(row);
                    }
                }
            }
            if (!sc.getAutoCommit()) {
                sc.rollback();
            }
            return out;
        }
    }

    /** (c1 > ?) OR (c1 = ? AND c2 > ?) OR ...: strictly after the cursor in (c1, c2, ...) order, on any database. */
    static String keyset(List<String> order) {
        return keyset(order, i -> "?");
    }

    /** The same, with {@code value.apply(i)} standing for the cursor's i-th value (a placeholder, each use its own). */
    static String keyset(List<String> order, java.util.function.IntFunction<String> value) {
        List<String> terms = new ArrayList<>();
        for (int i = 0; i < order.size(); i++) {
            StringBuilder t = new StringBuilder("(");
            for (int j = 0; j < i; j++) {
                t.append(order.get(j)).append(" = ").append(value.apply(j)).append(" AND ");
            }
            terms.add(t.append(order.get(i)).append(" > ").append(value.apply(i)).append(')').toString());
        }
        return "(" + String.join(" OR ", terms) + ")";
    }

    public void setJdbcUrl(String jdbcUrl) { this.jdbcUrl = jdbcUrl; }
    public void setUsername(String username) { this.username = username; }
    public void setPassword(String password) { this.password = password; }
    public void setTable(String table) { this.table = table; }
    public void setQuery(String query) { this.query = query; }
    public void setMode(String mode) { this.mode = mode; }
    public void setWatermarkColumn(String watermarkColumn) { this.watermarkColumn = watermarkColumn; }
    public void setWatermarkLookback(String watermarkLookback) { this.watermarkLookback = watermarkLookback; }
}
