package io.syncwarden.source;

import io.syncwarden.sync.BatchWriter;
import io.syncwarden.sync.Checkpoints;
import io.syncwarden.sync.Cursor;
import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.TargetTable;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.sql.Types;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;

/**
 * The {@code jdbc} source kind: copies a table or query of a replica database into the target.
 * Rows are read in key order ({@code full}) or in (watermark, key) order ({@code incremental}) with a streaming
 * cursor, and the position of the last committed batch is the checkpoint, so an interrupted run resumes after
 * the last row it wrote and never reads the whole result into memory.
 */
public class JdbcSource extends SyncSource {
    private String jdbcUrl;
    private String username;
    private String password;
    private String table;
    private String query;
    private String mode = "full";
    private String watermarkColumn;
    private int fetchSize = 1000;

    @Override
    public String kind() {
        return "jdbc";
    }

    @Override
    protected boolean rereadsOnRetry() {
        return false; // a retry resumes after the checkpoint: what the failed attempt committed stays counted
    }

    @Override
    protected void read(RunContext run, SyncRuns runs, Exchange exchange) throws Exception {
        String id = sourceId();
        String url = required("jdbcUrl", jdbcUrl, id);
        boolean incremental = "incremental".equalsIgnoreCase(mode);
        if (!incremental && !"full".equalsIgnoreCase(mode)) {
            throw new NonRecoverableSyncException("Source " + id + ": mode must be full or incremental, was '" + mode + "'");
        }
        List<String> keys = keys();
        List<String> order = new ArrayList<>();
        if (incremental) {
            order.add(TargetTable.identifier("Watermark column", required("watermarkColumn", watermarkColumn, id)));
        }
        order.addAll(keys);
        String base = baseSql();
        String target = targetTable() != null && !targetTable().isBlank() ? targetTable() : table;
        run.mode(incremental ? "incremental" : "full");

        var db = runs.database();
        try (Connection tc = db.dataSource().getConnection()) {
            tc.setAutoCommit(false);
            Checkpoints.Checkpoint cp = Checkpoints.load(tc, id);
            boolean resume = cp != null && cp.cursor() != null
                    && (incremental || Checkpoints.IN_PROGRESS.equals(cp.phase()));
            Object[] cursor = resume ? Cursor.decode(cp.cursor()) : null;
            if (cursor != null && cursor.length != order.size()) {
                throw new NonRecoverableSyncException("Source " + id + ": the checkpoint " + cp.cursor()
                        + " does not match the ordering columns " + order + "; delete its sync_checkpoint row to start over");
            }
            if (resume && Checkpoints.IN_PROGRESS.equals(cp.phase())) {
                run.resumedFrom(cp.cursor());
            }
            // A table is read directly (H2 would materialise a derived table before the first row); a query is wrapped.
            String from = query != null && !query.isBlank() ? "(" + base + ") src" : TargetTable.identifier("Source table", table);
            String sql = "SELECT * FROM " + from + (cursor != null ? " WHERE " + keyset(order) : "")
                    + " ORDER BY " + String.join(", ", order);
            try (Connection sc = exchange.getContext().getRegistry().findSingleByType(SourcePools.class).get(id, url, username, password).getConnection()) {
                sc.setAutoCommit(false); // PostgreSQL streams with a cursor only outside autocommit
                try (PreparedStatement ps = sc.prepareStatement(sql, ResultSet.TYPE_FORWARD_ONLY, ResultSet.CONCUR_READ_ONLY)) {
                    ps.setFetchSize(fetchSize);
                    if (cursor != null) {
                        bindKeyset(ps, cursor);
                    }
                    try (ResultSet rs = ps.executeQuery()) {
                        ResultSetMetaData md = rs.getMetaData();
                        int n = md.getColumnCount();
                        List<String> columns = new ArrayList<>(n);
                        List<TargetTable.Column> offered = new ArrayList<>(n);
                        for (int i = 1; i <= n; i++) {
                            String col = md.getColumnLabel(i).toLowerCase(Locale.ROOT);
                            columns.add(col);
                            offered.add(new TargetTable.Column(col, md.getColumnType(i), md.getPrecision(i), md.getScale(i)));
                        }
                        int[] orderIdx = order.stream().mapToInt(columns::indexOf).toArray();
                        for (int i = 0; i < orderIdx.length; i++) {
                            if (orderIdx[i] < 0) {
                                throw new NonRecoverableSyncException("Source " + id + ": column " + order.get(i)
                                        + " is not in the result " + columns);
                            }
                        }
                        TargetTable tt = TargetTable.ensure(tc, db.dialect(), target, offered, keys);
                        long before = resume && Checkpoints.IN_PROGRESS.equals(cp.phase()) ? cp.rowsDone() : 0;
                        BatchWriter.CheckpointSink sink = (c, last, done) -> {
                            Object[] pos = new Object[orderIdx.length];
                            for (int i = 0; i < orderIdx.length; i++) {
                                pos[i] = last[orderIdx[i]];
                            }
                            Checkpoints.save(c, run, Cursor.encode(pos), Checkpoints.IN_PROGRESS, done);
                        };
                        long position = before;
                        try (BatchWriter writer = new BatchWriter(tc, db.dialect(), tt, columns, keys, batchSize(), run, runs, sink, before)) {
                            while (rs.next()) {
                                Object[] row = new Object[n];
                                for (int i = 0; i < n; i++) {
                                    row[i] = rs.getObject(i + 1);
                                }
                                writer.add(row, ++position);
                            }
                            writer.finish();
                        }
                    }
                }
                sc.rollback();
            }
            markComplete(tc, run, id);
            if (!incremental && run.read() == 0 && run.resumedFrom() == null) {
                run.markEmpty();
            }
        }
    }

    private String baseSql() {
        return query != null && !query.isBlank() ? query.trim()
                : "SELECT * FROM " + TargetTable.identifier("Source table", required("table", table, sourceId()));
    }

    /** Looks the record up in the replica: text lookup columns compared case-insensitively, at most LOOKUP_LIMIT rows. */
    @Override
    public List<Map<String, Object>> find(CamelContext context, String nameOrEmail) throws SQLException {
        String from = "(" + baseSql() + ") src";
        try (Connection sc = context.getRegistry().findSingleByType(SourcePools.class)
                .get(sourceId(), required("jdbcUrl", jdbcUrl, sourceId()), username, password).getConnection()) {
            List<String> searched = new ArrayList<>();
            try (PreparedStatement ps = sc.prepareStatement("SELECT * FROM " + from + " WHERE 1 = 0");
                 ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData md = rs.getMetaData();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    String col = md.getColumnLabel(i).toLowerCase(Locale.ROOT);
                    int type = md.getColumnType(i);
                    boolean text = type == Types.VARCHAR || type == Types.CHAR || type == Types.NVARCHAR
                            || type == Types.NCHAR || type == Types.LONGVARCHAR;
                    if (text && isLookupColumn(col)) {
                        searched.add(TargetTable.identifier("Lookup column", col));
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

    private static void markComplete(Connection tc, RunContext run, String id) throws SQLException {
        Checkpoints.Checkpoint cp = Checkpoints.load(tc, id);
        if (cp != null) {
            Checkpoints.save(tc, run, cp.cursor(), Checkpoints.COMPLETE, cp.rowsDone());
            tc.commit();
        }
    }

    /** (c1 > ?) OR (c1 = ? AND c2 > ?) OR ...: strictly after the cursor in (c1, c2, ...) order, on any database. */
    static String keyset(List<String> order) {
        List<String> terms = new ArrayList<>();
        for (int i = 0; i < order.size(); i++) {
            StringBuilder t = new StringBuilder("(");
            for (int j = 0; j < i; j++) {
                t.append(order.get(j)).append(" = ? AND ");
            }
            terms.add(t.append(order.get(i)).append(" > ?)").toString());
        }
        return "(" + String.join(" OR ", terms) + ")";
    }

    private static void bindKeyset(PreparedStatement ps, Object[] cursor) throws SQLException {
        int p = 1;
        for (int i = 0; i < cursor.length; i++) {
            for (int j = 0; j <= i; j++) {
                ps.setObject(p++, cursor[j]);
            }
        }
    }

    public void setJdbcUrl(String jdbcUrl) { this.jdbcUrl = jdbcUrl; }
    public void setUsername(String username) { this.username = username; }
    public void setPassword(String password) { this.password = password; }
    public void setTable(String table) { this.table = table; }
    public void setQuery(String query) { this.query = query; }
    public void setMode(String mode) { this.mode = mode; }
    public void setWatermarkColumn(String watermarkColumn) { this.watermarkColumn = watermarkColumn; }
    public void setFetchSize(int fetchSize) { this.fetchSize = fetchSize; }
}
