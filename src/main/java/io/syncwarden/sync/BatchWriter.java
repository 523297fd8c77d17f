package io.syncwarden.sync;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncwarden.store.Dialect;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Writes rows into a target table in batches: one upsert batch per transaction together with the checkpoint
 * and the lease heartbeat. Rows move through one tight loop (no exchange per row). A row the database refuses
 * is isolated by replaying that batch row by row, recorded in {@code rejected_row} with the reason, and the
 * rest of the batch is written.
 */
public final class BatchWriter implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Saves the checkpoint of the last row of a committed batch; null when the reader keeps no cursor. */
    public interface CheckpointSink {
        void save(Connection c, Object[] lastRow, long rowsDone) throws SQLException;
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
    private final int batchSize;
    private final CheckpointSink checkpoint;
    private final PreparedStatement upsert;
    private final String upsertSql;
    private final String insertSql;
    private PreparedStatement insert;
    private final Map<Integer, PreparedStatement> existsByCount = new HashMap<>();
    private final List<Object[]> rows;
    private final long[] positions;
    private final Set<Object> batchKeys = new HashSet<>();
    private boolean targetEmpty;
    private long rowsDone;

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
        List<String> types = new ArrayList<>();
        for (int i = 0; i < columns.size(); i++) {
            TargetTable.Meta m = table.columns.get(columns.get(i));
            maxLength[i] = m.maxLength();
            notNull[i] = !m.nullable();
            jdbcType[i] = m.jdbcType();
            types.add(m.sqlType());
        }
        this.upsertSql = dialect.upsertSql(table.name, columns, keys, types, table.hasSyncedAt() ? TargetTable.SYNCED_AT : null);
        this.upsert = c.prepareStatement(upsertSql);
        this.insertSql = "INSERT INTO " + table.name + " (" + String.join(", ", columns)
                + (table.hasSyncedAt() ? ", " + TargetTable.SYNCED_AT : "") + ") VALUES ("
                + String.join(", ", java.util.Collections.nCopies(columns.size(), "?"))
                + (table.hasSyncedAt() ? ", CURRENT_TIMESTAMP" : "") + ")";
        this.rows = new ArrayList<>(this.batchSize);
        this.positions = new long[this.batchSize];
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1 FROM " + table.name + " FETCH FIRST 1 ROWS ONLY")) {
            // An empty target makes every written row an insert: the existence probe per batch can be skipped.
            this.targetEmpty = !rs.next();
        }
    }

    /** Adds one row (values in column order) at its 1-based position in the read. */
    public void add(Object[] row, long position) throws SQLException {
        run.read++;
        String reason = validate(row);
        if (reason != null) {
            reject(row, position, reason);
            return;
        }
        Object key = key(row);
        if (!batchKeys.add(key)) {
            // same key twice in one batch: write what we have first, so counts and upsert order stay exact
            flush();
            batchKeys.add(key);
        }
        positions[rows.size()] = position;
        rows.add(row);
        if (rows.size() >= batchSize) {
            flush();
        }
    }

    /** Counts a row the reader could not even map, and records it in rejected_row with the reason. */
    public void rejectRead(Object[] row, long position, String reason) throws SQLException {
        run.read++;
        reject(row, position, reason);
    }

    /** Writes the last partial batch. */
    public void finish() throws SQLException {
        flush();
    }

    private String validate(Object[] row) {
        for (int k : keyIdx) {
            if (row[k] == null || (row[k] instanceof String s && s.isBlank())) {
                return "key column " + columns.get(k) + " is empty";
            }
        }
        for (int i = 0; i < row.length; i++) {
            if (row[i] instanceof String text && !Values.isText(jdbcType[i])) {
                try {
                    row[i] = Values.coerce(text, jdbcType[i]);
                } catch (RuntimeException e) {
                    return "type mismatch: column " + columns.get(i) + " expects " + Values.typeName(jdbcType[i])
                            + ", got '" + SyncRuns.truncate(text, 100) + "'";
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

    private void flush() throws SQLException {
        if (rows.isEmpty()) {
            return;
        }
        int n = rows.size();
        Object[] last = rows.get(n - 1);
        Savepoint before = c.setSavepoint();
        try {
            int existing = targetEmpty ? 0 : countExisting();
            // Initial load: the target was empty and a read never repeats a key, so every row is new and a plain
            // INSERT does (a repeated key fails the batch, which is then replayed row by row with the upsert).
            PreparedStatement ps = targetEmpty ? insert() : upsert;
            for (Object[] row : rows) {
                bind(ps, row);
                ps.addBatch();
            }
            int[] counts = ps.executeBatch();
            int affected = 0;
            for (int count : counts) {
                if (count != 0) {
                    affected++;
                }
            }
            run.inserted += n - existing;
            run.updated += existing - (n - affected);
            run.unchanged += n - affected;
        } catch (SQLException batchFailure) {
            c.rollback(before);
            upsert.clearBatch();
            if (insert != null) {
                insert.clearBatch();
            }
            boolean wasEmpty = targetEmpty;
            targetEmpty = false;
            rowByRow();
            targetEmpty = wasEmpty && run.updated == 0 && run.unchanged == 0;
        }
        rowsDone += n;
        if (checkpoint != null) {
            checkpoint.save(c, last, rowsDone);
        }
        runs.renewLease(c, run);
        c.commit();
        rows.clear();
        batchKeys.clear();
    }

    private void rowByRow() throws SQLException {
        try (PreparedStatement exists = c.prepareStatement(existsSql(1))) {
            for (int r = 0; r < rows.size(); r++) {
                Object[] row = rows.get(r);
                Savepoint sp = c.setSavepoint();
                try {
                    boolean existed = false;
                    if (!targetEmpty) {
                        int p = 1;
                        for (int k : keyIdx) {
                            exists.setObject(p++, row[k]);
                        }
                        try (ResultSet rs = exists.executeQuery()) {
                            existed = rs.next() && rs.getInt(1) > 0;
                        }
                    }
                    bind(upsert, row);
                    int count = upsert.executeUpdate();
                    if (!existed) {
                        run.inserted++;
                    } else if (count > 0) {
                        run.updated++;
                    } else {
                        run.unchanged++;
                    }
                } catch (SQLException e) {
                    c.rollback(sp);
                    reject(row, positions[r], "database refused the row: " + e.getMessage().split("\n")[0]
                            + " (SQLState " + e.getSQLState() + ")");
                }
            }
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
        String keyList = Arrays.stream(keyIdx).mapToObj(columns::get).collect(Collectors.joining(", "));
        String tuple = keyIdx.length == 1 ? "?" : "(" + Arrays.stream(keyIdx).mapToObj(k -> "?").collect(Collectors.joining(", ")) + ")";
        String lhs = keyIdx.length == 1 ? keyList : "(" + keyList + ")";
        return "SELECT COUNT(*) FROM " + table.name + " WHERE " + lhs + " IN ("
                + String.join(", ", java.util.Collections.nCopies(n, tuple)) + ")";
    }

    private static void bind(PreparedStatement ps, Object[] row) throws SQLException {
        for (int i = 0; i < row.length; i++) {
            ps.setObject(i + 1, row[i]);
        }
    }

    private void reject(Object[] row, long position, String reason) throws SQLException {
        run.rejected++;
        Map<String, String> data = new LinkedHashMap<>();
        for (int i = 0; i < row.length; i++) {
            data.put(columns.get(i), row[i] == null ? null : String.valueOf(row[i]));
        }
        String key = Arrays.stream(keyIdx).mapToObj(k -> String.valueOf(row[k])).collect(Collectors.joining("|"));
        String json;
        try {
            json = JSON.writeValueAsString(data);
        } catch (Exception e) {
            json = data.toString();
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO rejected_row (source_id, run_id, row_key, row_position, "
                + "reason, row_data, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
            ps.setString(1, run.sourceId());
            ps.setLong(2, run.runId());
            ps.setString(3, SyncRuns.truncate(key, 1000));
            ps.setLong(4, position);
            ps.setString(5, SyncRuns.truncate(reason, 2000));
            ps.setString(6, SyncRuns.truncate(json, 8000));
            ps.setObject(7, SyncRuns.utc(Instant.now()));
            ps.executeUpdate();
        }
    }

    @Override
    public void close() throws SQLException {
        upsert.close();
        if (insert != null) {
            insert.close();
        }
        for (PreparedStatement ps : existsByCount.values()) {
            ps.close();
        }
    }
}
