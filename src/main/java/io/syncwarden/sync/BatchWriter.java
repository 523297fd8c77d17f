package io.syncwarden.sync;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncwarden.store.SqlStates;
import io.syncwarden.store.Dialect;
import io.syncwarden.store.Identifiers;
import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Writes rows into a target table in batches. Each batch is one transaction: the upsert, the batch's rejected rows,
 * the checkpoint, the run's counts and the lease heartbeat commit together or not at all, so a run's record and its
 * checkpoint always describe exactly what the table holds. Rows move through one tight loop (no exchange per row).
 *
 * <p>Only an error about one row (a value the column cannot take, SQLState class 22; a constraint the row breaks,
 * class 23) rejects a row: the batch is rolled back and replayed row by row, each refused row recorded in
 * {@code rejected_row} with the database's reason, and the rest written. Any other database error (a lock or
 * statement timeout, a lost connection, permission denied, a missing constraint) rolls the batch back and fails the
 * attempt: nothing is recorded as a bad row and the checkpoint does not move.
 */
public final class BatchWriter implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(BatchWriter.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * The checkpoint a committing batch saves (in its transaction): {@code lastRow} is the last row read before the
     * commit (written or rejected), null when the commit carries only a reader's progress. Null keeps the checkpoint.
     */
    public interface CheckpointSink {
        String cursor(Object[] lastRow);
    }

    /** Told, inside a committing batch's transaction, which rows the batch inserted or changed. */
    public interface WrittenSink {
        void written(Connection c, List<Object[]> rows) throws SQLException;
    }

    /** {@code replayable}: the row is whole and its values survive text (a reader's partial row, a duplicate do not). */
    private record Reject(Object[] row, long position, String reason, boolean replayable) {
    }

    private final Connection c;
    private final RunContext run;
    private final SyncRuns runs;
    private final TargetTable table;
    private final List<String> columns;
    private final int[] keyIdx;
    private final int[] maxLength;
    private final boolean[] notNull;
    private final int[] jdbcType;
    private final String[] typeName;
    private final int batchSize;
    private final CheckpointSink checkpoint;
    private final PreparedStatement upsert;
    /** PostgreSQL: COPY into a staging table and one upsert per batch; null on H2 (batched MERGE). */
    private final PgCopyApplier copy;
    private final String insertSql;
    private PreparedStatement insert;
    private final Map<Integer, PreparedStatement> existsByCount = new HashMap<>();
    private final List<Object[]> rows;
    private final long[] positions;
    private final List<Reject> rejects = new ArrayList<>();
    private final Set<Object> batchKeys = new HashSet<>();
    private final RunContext.Counts pending = new RunContext.Counts();
    private KeyTracker duplicates = new KeyTracker(KeyTracker.Mode.ALL);
    private String positionName = "row";
    private long resumeAfter = -1;
    private WrittenSink onWritten;
    private String progress;
    private long lastPosition;
    /** The last row read and dealt with (in the batch, or rejected): where a resumed read continues after. */
    private Object[] lastRead;
    private boolean targetEmpty;
    private long rowsDone;
    /** One transaction for the whole read (see {@link #atomic()}): batches are written under savepoints, not committed. */
    private boolean atomic;
    /** Atomic mode: the counts of the batches written so far, recorded in the run when {@link #commit()} commits. */
    private final RunContext.Counts staged = new RunContext.Counts();
    /** Keys of rejected rows (they were read: their target rows are not missing upstream). */
    private final KeyTracker rejectedKeys = new KeyTracker(KeyTracker.Mode.ALL);
    /** Rows whose key could not be read (a line with the wrong number of fields): the read cannot judge deletions. */
    private long unkeyed;
    /** Atomic mode on PostgreSQL: rows copied into the staging table, not yet applied, and their read positions. */
    private int stagedRows;
    private long[] stagedPositions = new long[0];

    public BatchWriter(Connection c, Dialect dialect, TargetTable table, List<String> columns, List<String> keys,
                       int batchSize, RunContext run, SyncRuns runs, CheckpointSink checkpoint, long rowsDoneBefore)
            throws SQLException {
        if (keys.isEmpty()) {
            throw new NonRecoverableSyncException("Source " + run.sourceId() + " has no key columns configured");
        }
        for (String k : keys) {
            if (!columns.contains(k)) {
                throw new NonRecoverableSyncException("Key column '" + k + "' of source " + run.sourceId()
                        + " is not among the columns read " + columns);
            }
        }
        this.c = c;
        this.run = run;
        this.runs = runs;
        this.table = table;
        this.columns = columns;
        this.batchSize = Math.max(1, batchSize);
        this.checkpoint = checkpoint;
        this.rowsDone = rowsDoneBefore;
        this.keyIdx = keys.stream().mapToInt(columns::indexOf).toArray();
        this.maxLength = new int[columns.size()];
        this.notNull = new boolean[columns.size()];
        this.jdbcType = new int[columns.size()];
        this.typeName = new String[columns.size()];
        List<String> stored = new ArrayList<>();
        List<String> casts = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            TargetTable.Meta m = table.columns.get(columns.get(i));
            maxLength[i] = m.maxLength();
            notNull[i] = !m.nullable();
            jdbcType[i] = m.jdbcType();
            typeName[i] = m.typeName();
            stored.add(m.stored());
            casts.add(m.castType());
        }
        List<String> storedKeys = keys.stream().map(k -> table.columns.get(k).stored()).toList();
        String syncedAt = table.hasSyncedAt() ? table.columns.get(TargetTable.SYNCED_AT).stored() : null;
        this.upsert = c.prepareStatement(dialect.upsertSql(table.name, stored, storedKeys, casts, syncedAt));
        this.insertSql = "INSERT INTO " + table.name + " (" + stored.stream().map(Identifiers::quote).collect(Collectors.joining(", "))
                + (syncedAt != null ? ", " + Identifiers.quote(syncedAt) : "") + ") VALUES ("
                + String.join(", ", Collections.nCopies(columns.size(), "?"))
                + (syncedAt != null ? ", CURRENT_TIMESTAMP" : "") + ")";
        this.rows = new ArrayList<>(this.batchSize);
        this.positions = new long[this.batchSize];
        if (dialect == Dialect.POSTGRESQL) {
            this.copy = copyApplier(c, table.name, stored, storedKeys, syncedAt);
        } else {
            this.copy = null;
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1 FROM " + table.name + " FETCH FIRST 1 ROWS ONLY")) {
                // An empty target makes every written row an insert: the existence probe per batch can be skipped.
                this.targetEmpty = !rs.next();
            }
            c.commit();
        }
    }

    /**
     * The whole read is applied as one transaction: batches are written under a savepoint each (a batch with a bad row
     * is replayed row by row, as always) but nothing commits until {@link #commit()}, after the caller's guards. A
     * failure or a refusal rolls back everything the read wrote: the target stays as it was. For reads that cannot
     * resume (a report, a sheet: a retry reads the whole body again).
     */
    public BatchWriter atomic() throws SQLException {
        this.atomic = true;
        if (copy != null) {
            copy.growing();
        }
        return this;
    }

    /** Atomic mode: the rows read so far (written, rejected), not yet committed. */
    public long stagedRead() {
        return staged.read + pending.read;
    }

    /** How this read can repeat a key (default: anywhere, every key is remembered). */
    public BatchWriter duplicates(KeyTracker.Mode mode) {
        this.duplicates = new KeyTracker(mode);
        return this;
    }

    /** What a position is called in reasons ({@code line}, {@code sheet row}, {@code row}). */
    public BatchWriter positionName(String name) {
        this.positionName = name;
        return this;
    }

    /**
     * A retried attempt that reads the same body again: rows up to this position were committed by an earlier attempt
     * of this run, so they are passed over (their keys still count as seen) instead of being written and counted twice.
     */
    public BatchWriter resumeAfter(long position) {
        this.resumeAfter = position;
        return this;
    }

    /** Told, in each batch's transaction, the rows the batch inserted or changed (not the unchanged ones). */
    public BatchWriter onWritten(WrittenSink sink) {
        this.onWritten = sink;
        return this;
    }

    /** The progress the next commit records in the run (e.g. the page cursor a reader will continue from). */
    public void progress(String progress) {
        this.progress = progress;
    }

    /** Adds one row (values in column order) at its 1-based position in the read. */
    public void add(Object[] row, long position) throws SQLException {
        if (position <= resumeAfter) {
            if (validate(row) == null) {
                duplicates.seen(key(row), position);
            }
            return;
        }
        lastPosition = position;
        pending.read++;
        String reason = validate(row);
        if (reason != null) {
            if (!rememberRejectedKey(row)) {
                unkeyed++;
            }
            reject(row, position, reason, true);
            lastRead = row;
            return;
        }
        Object key = key(row);
        long first = duplicates.seen(key, position);
        if (first >= 0) {
            reject(row, position, false, "duplicate key " + keyText(row) + ": the same key was read first at " + positionName + " " + first
                    + " (that row was written, this one was not)");
            lastRead = row;
            return;
        }
        if (!duplicates.exact() && !batchKeys.add(key)) {
            // the same key twice in one batch with duplicate detection off: write what we have first, so counts stay exact
            flush();
            batchKeys.add(key);
        }
        positions[rows.size()] = position;
        rows.add(row);
        lastRead = row;
        if (rows.size() >= batchSize) {
            flush();
        }
    }

    /** Counts a row the reader could not even map, and records it in rejected_row with the reason. */
    public void rejectRead(Object[] row, long position, String reason) throws SQLException {
        if (position <= resumeAfter) {
            return;
        }
        lastPosition = position;
        pending.read++;
        if (!rememberRejectedKey(row)) {
            unkeyed++;
        }
        reject(row, position, reason, false); // the reader's refusal: the row as recorded is partial
        lastRead = row;
    }

    /**
     * A rejected row's key, remembered so its target row does not count as missing upstream. False when the row's key
     * cannot be told (blank, not read, or not a value of the key column's type): the read then judges no deletions,
     * since that row may be any of the table's.
     */
    private boolean rememberRejectedKey(Object[] row) {
        Object[] key = new Object[keyIdx.length];
        for (int i = 0; i < keyIdx.length; i++) {
            int k = keyIdx[i];
            Object v = row[k];
            if (v == null || (v instanceof String t && t.isBlank())) {
                return false;
            }
            if (v instanceof String t && !Values.isText(jdbcType[k], typeName[k])) {
                try {
                    v = Values.coerce(t, jdbcType[k], typeName[k]);
                } catch (RuntimeException e) {
                    return false; // a key that is no value of its column
                }
            }
            key[i] = v;
        }
        rejectedKeys.seen(key.length == 1 ? key[0] : Arrays.asList(key), 0);
        return true;
    }

    /** Counts a row the reader passed over on purpose (a fully empty sheet row). */
    public void skip(long position) throws SQLException {
        if (position <= resumeAfter) {
            return;
        }
        lastPosition = position;
        pending.skipped++;
    }

    /** Writes the last partial batch and commits whatever is still pending (rejected rows after the last batch too). */
    public void finish() throws SQLException {
        flush();
        if (atomic) {
            applyStaged();
            return; // the caller's guards, then commit()
        }
        if (progress != null) {
            // nothing pending, but a reader's progress (a page read in full) is still to be recorded
            try {
                commitPending(null, 0);
            } catch (SQLException | RuntimeException e) {
                rollbackQuietly();
                throw e;
            }
        }
    }

    private String validate(Object[] row) {
        for (int k : keyIdx) {
            if (row[k] == null || (row[k] instanceof String s && s.isBlank())) {
                return "key column " + columns.get(k) + " is empty";
            }
        }
        for (int i = 0; i < row.length; i++) {
            if (row[i] instanceof String text && !Values.isText(jdbcType[i], typeName[i])) {
                try {
                    row[i] = Values.coerce(text, jdbcType[i], typeName[i]);
                } catch (RuntimeException e) {
                    return "type mismatch: column " + columns.get(i) + " expects "
                            + (jdbcType[i] == java.sql.Types.OTHER && typeName[i] != null ? typeName[i] : Values.typeName(jdbcType[i])) + ", got '" + SyncRuns.truncate(text, 100) + "'";
                }
            }
            Object v = row[i];
            if (v == null) {
                if (notNull[i]) {
                    return "column " + columns.get(i) + " is required (NOT NULL) but empty";
                }
            } else if (maxLength[i] > 0 && v instanceof String s && s.length() > maxLength[i]
                    && s.codePointCount(0, s.length()) > maxLength[i]) {
                return "value too long for column " + columns.get(i) + " (" + s.codePointCount(0, s.length())
                        + " characters, at most " + maxLength[i] + ")";
            }
        }
        return null;
    }

    private Object key(Object[] row) {
        if (keyIdx.length == 1) {
            return row[keyIdx[0]];
        }
        Object[] k = new Object[keyIdx.length];
        for (int i = 0; i < keyIdx.length; i++) {
            k[i] = row[keyIdx[i]];
        }
        return Arrays.asList(k);
    }

    private String keyText(Object[] row) {
        return Arrays.stream(keyIdx).mapToObj(k -> columns.get(k) + "=" + row[k]).collect(Collectors.joining(", ", "(", ")"));
    }

    private void flush() throws SQLException {
        if (rows.isEmpty() && pending.isEmpty()) {
            return;
        }
        int n = rows.size();
        Object[] last = lastRead;
        boolean[] written = new boolean[n];
        try {
            if (n > 0) {
                Savepoint before = atomic ? c.setSavepoint() : null;
                try {
                    writeBatch(written);
                } catch (SQLException batchFailure) {
                    if (before != null) {
                        c.rollback(before); // this batch only: the read's earlier batches stay in the transaction
                    } else {
                        rollbackQuietly();
                    }
                    clearBatches();
                    // 21000: two rows of the batch are one row to the target (keys equal to it, not to Java, such as
                    // 100 and 100.0): the set-based apply refuses; one row at a time, the later one wins
                    if (!SqlStates.isRowError(batchFailure) && !"21000".equals(SqlStates.sqlState(batchFailure))) {
                        throw batchFailure;
                    }
                    pending.inserted = pending.updated = pending.unchanged = 0;
                    rowByRow(written);
                }
            }
            List<Object[]> changed = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (written[i]) {
                    changed.add(rows.get(i));
                }
            }
            if (onWritten != null && !changed.isEmpty()) {
                onWritten.written(c, changed);
            }
            if (atomic) {
                stage(n);
            } else {
                commitPending(last, n);
            }
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly();
            throw e;
        }
        rows.clear();
        batchKeys.clear();
        if (run.interruptRequested()) {
            throw new RunInterruptedException("Sync " + run.sourceId() + " run " + run.runId()
                    + " stopped at a batch boundary: " + run.interruptReason() + " (checkpoint kept)");
        }
    }

    /**
     * Atomic mode on PostgreSQL: the staged read applied in one statement. When the database refuses a row of it (a
     * constraint the Java checks do not know), the statement is undone and the staged rows are applied one by one in
     * batches, each refused row rejected with the database's reason, as a batch would be.
     */
    private void applyStaged() throws SQLException {
        if (copy == null || stagedRows == 0) {
            return;
        }
        Savepoint before = c.setSavepoint();
        try {
            long[] applied = copy.applyAll();
            staged.inserted += applied[0];
            staged.updated += applied[1];
            staged.unchanged += stagedRows - applied[0] - applied[1];
            return;
        } catch (SQLException e) {
            c.rollback(before);
            if (!SqlStates.isRowError(e) && !"21000".equals(SqlStates.sqlState(e))) {
                throw e;
            }
            LOG.info("Sync {} run {}: the database refused a row of the staged read ({}); applying it row by row",
                    run.sourceId(), run.runId(), firstLine(e));
        }
        boolean[] written = new boolean[batchSize];
        try (Statement scan = c.createStatement()) {
            scan.setFetchSize(batchSize);
            try (ResultSet rs = scan.executeQuery(copy.stagedRows())) {
                int n = columns.size();
                int[] kinds = KeyTracker.kinds(rs);
                while (rs.next()) {
                    Object[] row = new Object[n];
                    for (int i = 0; i < n; i++) {
                        row[i] = KeyTracker.read(rs, i + 1, kinds);
                    }
                    positions[rows.size()] = stagedPositions[(int) rs.getLong(n + 1)];
                    rows.add(row);
                    if (rows.size() == batchSize) {
                        rowByRowStaged(written);
                    }
                }
                rowByRowStaged(written);
            }
        }
    }

    private void rowByRowStaged(boolean[] written) throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        rowByRow(written);
        writeRejects();
        staged.add(pending);
        pending.clear();
        rejects.clear();
        rows.clear();
    }

    /** Atomic mode: the batch's rejected rows join the transaction, its counts wait for {@link #commit()}. */
    private void stage(int n) throws SQLException {
        if (run.leaseLost() != null) {
            throw new LeaseLostException("Sync " + run.sourceId() + " run " + run.runId() + " " + run.leaseLost()
                    + "; stopping, nothing of this read is applied");
        }
        writeRejects();
        staged.add(pending);
        rowsDone += n;
        pending.clear();
        rejects.clear();
    }

    /**
     * Atomic mode, after the caller's guards passed: the read's rows, its rejected rows, the run's counts and the lease
     * commit as one transaction.
     */
    public void commit() throws SQLException {
        if (!atomic) {
            throw new IllegalStateException("commit() is for a writer in atomic mode");
        }
        try {
            runs.commitBatch(c, run, staged, lastPosition, progress, null, rowsDone);
            c.commit();
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly();
            throw e;
        }
        run.commit(staged, lastPosition, progress);
        staged.clear();
    }

    /** Atomic mode: drops everything the read wrote (a refusal). */
    public void rollback() {
        rollbackQuietly();
        staged.clear();
    }

    /** What a complete, accepted full read does with target rows it did not find. */
    public enum Deletions {
        /** {@code deleted_at} is set (and cleared again when the row comes back). */
        MARK,
        /** The row is deleted. */
        DELETE,
        /** Nothing: rows stay as they are. */
        KEEP;

        public static Deletions of(String value, String sourceId) {
            String v = value == null || value.isBlank() ? "mark" : value.trim();
            for (Deletions d : values()) {
                if (d.name().equalsIgnoreCase(v)) {
                    return d;
                }
            }
            throw new NonRecoverableSyncException("Source " + sourceId + ": deletions '" + value + "' is not one of mark, delete, keep");
        }
    }

    /**
     * The target rows a deletion pass found: rows not marked deleted before the read, missing from the read (marked or
     * removed), marked ones brought back.
     */
    public record Missing(long active, long missing, long revived, String skipped) {
    }

    /**
     * Atomic mode, after every row was written: finds the target rows whose key this read did not have and marks them
     * deleted, removes them or only counts them ({@link MissingRows}). Not done (and said why in {@code skipped}) when
     * the read could not tell every key: a line that could not be read, more keys than are remembered. Checks that
     * every row written was matched, so a key the two sides type differently can never mark a present row.
     */
    public Missing findMissing(Deletions mode, java.time.Instant now) throws SQLException {
        if (!atomic) {
            throw new IllegalStateException("findMissing() is for a writer in atomic mode");
        }
        if (mode == Deletions.KEEP) {
            return new Missing(0, 0, 0, null); // rows no longer upstream stay as they are: nothing to find
        }
        if (!duplicates.exact() || !rejectedKeys.exact()) {
            return new Missing(0, 0, 0, "more keys than one read remembers (" + KeyTracker.MAX_KEYS + ")");
        }
        if (unkeyed > 0) {
            return new Missing(0, 0, 0, unkeyed + " row(s) of the read could not be read with their key");
        }
        long written = staged.inserted + staged.updated + staged.unchanged;
        boolean mark = mode == Deletions.MARK;
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT COUNT(*)" + (mark ? ", COUNT("
                + table.quoted(TargetTable.DELETED_AT) + ")" : ", 0") + " FROM " + table.name)) {
            rs.next();
            if (rs.getLong(1) == written && rs.getLong(2) == 0) {
                // every row of the table is one this read wrote, none marked: nothing is missing, nothing to unmark
                return new Missing(written - staged.inserted, 0, 0, null);
            }
        }
        List<String> keys = Arrays.stream(keyIdx).mapToObj(columns::get).toList();
        MissingRows.Found found = MissingRows.sweep(c, table, keys, k -> duplicates.contains(k) || rejectedKeys.contains(k), mode, now);
        if (found.matched() < written) {
            throw new NonRecoverableSyncException("Source " + run.sourceId() + ": only " + found.matched() + " of the " + written
                    + " rows written could be found again by key in " + table.display + " (do the key columns' types differ "
                    + "from the values read?); deletions cannot be judged safely, nothing of this read was applied");
        }
        if (mode != Deletions.KEEP) {
            staged.deleted += found.missing();
        }
        // the table's rows before this read: its inserts are not
        return new Missing(Math.max(0, found.active() - staged.inserted), found.missing(), found.revived(), null);
    }

    /** Rejected rows, checkpoint, run counts and lease in the batch's transaction, then commit. */
    private void commitPending(Object[] last, int n) throws SQLException {
        writeRejects();
        String cursor = checkpoint == null ? null : checkpoint.cursor(last);
        runs.commitBatch(c, run, pending, lastPosition, progress, cursor, rowsDone + n);
        c.commit();
        run.commit(pending, lastPosition, progress);
        rowsDone += n;
        pending.clear();
        rejects.clear();
        progress = null;
    }

    private void writeBatch(boolean[] written) throws SQLException {
        int n = rows.size();
        if (copy != null && atomic) {
            // staged only: the whole read is applied in one statement when it ends (finish)
            copy.stage(rows);
            if (stagedPositions.length < stagedRows + n) {
                stagedPositions = Arrays.copyOf(stagedPositions, Math.max(stagedRows + n, stagedPositions.length * 2));
            }
            System.arraycopy(positions, 0, stagedPositions, stagedRows, n);
            stagedRows += n;
            return;
        }
        if (copy != null) {
            PgCopyApplier.Applied applied = copy.apply(rows, onWritten != null);
            if (applied.written() != null) {
                System.arraycopy(applied.written(), 0, written, 0, n);
            }
            pending.inserted += applied.inserted();
            pending.updated += applied.updated();
            pending.unchanged += n - applied.inserted() - applied.updated();
            return;
        }
        int existing = targetEmpty ? 0 : countExisting();
        // Initial load: the target was empty and the read repeats no key, so every row is new and a plain INSERT does
        PreparedStatement ps = targetEmpty ? insert() : upsert;
        for (Object[] row : rows) {
            bind(ps, row);
            ps.addBatch();
        }
        int[] counts = ps.executeBatch();
        int affected = 0;
        for (int i = 0; i < n; i++) {
            // SUCCESS_NO_INFO (-2) says the row was written without saying how: count it as written
            written[i] = i >= counts.length || counts[i] != 0;
            if (written[i]) {
                affected++;
            }
        }
        pending.inserted += n - existing;
        pending.updated += existing - (n - affected);
        pending.unchanged += n - affected;
    }

    private static volatile boolean copyRefusedLogged;

    /**
     * PostgreSQL's COPY path, or null (batched upserts) where the session cannot have a temporary staging table: no
     * TEMP privilege, a read-only or proxy-limited session, a PostgreSQL look-alike without COPY.
     */
    private PgCopyApplier copyApplier(Connection c, String name, List<String> stored, List<String> storedKeys, String syncedAt)
            throws SQLException {
        try {
            return new PgCopyApplier(c, name, stored, Arrays.asList(typeName), storedKeys, syncedAt);
        } catch (SQLException e) {
            rollbackQuietly();
            if (TargetDatabase.isConnectionLost(e)) {
                throw e;
            }
            if (!copyRefusedLogged) {
                copyRefusedLogged = true;
                LOG.warn("PostgreSQL target: no COPY into a temporary staging table ({}, SQLState {}); batches are written "
                        + "with batched upserts instead", firstLine(e), e.getSQLState());
            }
            return null;
        }
    }

    private void rowByRow(boolean[] written) throws SQLException {
        try (PreparedStatement exists = c.prepareStatement(existsSql(1))) {
            for (int r = 0; r < rows.size(); r++) {
                Object[] row = rows.get(r);
                Savepoint sp = c.setSavepoint();
                try {
                    int p = 1;
                    for (int k : keyIdx) {
                        exists.setObject(p++, row[k]);
                    }
                    boolean existed;
                    try (ResultSet rs = exists.executeQuery()) {
                        existed = rs.next() && rs.getInt(1) > 0;
                    }
                    bind(upsert, row);
                    int count = upsert.executeUpdate();
                    written[r] = count != 0;
                    if (!existed) {
                        pending.inserted++;
                    } else if (count != 0) {
                        pending.updated++;
                    } else {
                        pending.unchanged++;
                    }
                } catch (SQLException e) {
                    c.rollback(sp);
                    if (!SqlStates.isRowError(e)) {
                        throw e;
                    }
                    reject(row, positions[r], "database refused the row: " + firstLine(e) + " (SQLState " + e.getSQLState() + ")", true);
                }
            }
        }
        targetEmpty = false;
    }

    private static String firstLine(SQLException e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return m.split("\n")[0];
    }

    private void clearBatches() throws SQLException {
        upsert.clearBatch();
        if (insert != null) {
            insert.clearBatch();
        }
    }

    private void rollbackQuietly() {
        try {
            c.rollback();
        } catch (SQLException ignored) {
            // the connection is gone; the transaction went with it
        }
    }

    private PreparedStatement insert() throws SQLException {
        if (insert == null) {
            insert = c.prepareStatement(insertSql);
        }
        return insert;
    }

    private int countExisting() throws SQLException {
        int n = rows.size();
        PreparedStatement ps = existsByCount.get(n);
        if (ps == null) {
            ps = c.prepareStatement(existsSql(n));
            existsByCount.put(n, ps);
        }
        int p = 1;
        for (Object[] row : rows) {
            for (int k : keyIdx) {
                ps.setObject(p++, row[k]);
            }
        }
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private String existsSql(int n) {
        String keyList = Arrays.stream(keyIdx).mapToObj(k -> Identifiers.quote(table.columns.get(columns.get(k)).stored()))
                .collect(Collectors.joining(", "));
        String tuple = keyIdx.length == 1 ? "?" : "(" + Arrays.stream(keyIdx).mapToObj(k -> "?").collect(Collectors.joining(", ")) + ")";
        String lhs = keyIdx.length == 1 ? keyList : "(" + keyList + ")";
        return "SELECT COUNT(*) FROM " + table.name + " WHERE " + lhs + " IN ("
                + String.join(", ", Collections.nCopies(n, tuple)) + ")";
    }

    private static void bind(PreparedStatement ps, Object[] row) throws SQLException {
        for (int i = 0; i < row.length; i++) {
            ps.setObject(i + 1, row[i]);
        }
    }

    private void reject(Object[] row, long position, boolean replayable, String reason) {
        reject(row, position, reason, replayable);
    }

    private void reject(Object[] row, long position, String reason, boolean replayable) {
        pending.rejected++;
        // bytes and zoned times do not come back exactly from the recorded text: such a row is not replayed
        boolean exact = java.util.Arrays.stream(row).noneMatch(v -> v instanceof byte[] || v instanceof java.time.OffsetDateTime
                || v instanceof java.time.ZonedDateTime);
        rejects.add(new Reject(row.clone(), position, reason, replayable && exact));
    }

    private void writeRejects() throws SQLException {
        if (rejects.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO rejected_row (source_id, run_id, row_key, row_position, "
                + "reason, row_data, rejected_at, replayable) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (Reject r : rejects) {
                Map<String, String> data = new LinkedHashMap<>();
                for (int i = 0; i < r.row().length; i++) {
                    Object v = r.row()[i];
                    data.put(columns.get(i), v == null ? null : v instanceof byte[] b ? java.util.HexFormat.of().formatHex(b) : String.valueOf(v));
                }
                String key = Arrays.stream(keyIdx).mapToObj(k -> String.valueOf(r.row()[k])).collect(Collectors.joining("|"));
                String json;
                try {
                    json = JSON.writeValueAsString(data);
                } catch (Exception e) {
                    json = data.toString();
                }
                ps.setString(1, run.sourceId());
                ps.setLong(2, run.runId());
                ps.setString(3, SyncRuns.truncate(key, 1000));
                ps.setLong(4, r.position());
                ps.setString(5, SyncRuns.truncate(r.reason(), 2000));
                ps.setString(6, SyncRuns.truncate(json, 8000));
                ps.setObject(7, SyncRuns.utc(Instant.now()));
                ps.setBoolean(8, r.replayable() && json.length() <= 8000);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    @Override
    public void close() throws SQLException {
        if (copy != null) {
            copy.close();
        }
        upsert.close();
        if (insert != null) {
            insert.close();
        }
        for (PreparedStatement ps : existsByCount.values()) {
            ps.close();
        }
    }
}
