package io.syncwarden.sync;

import io.syncwarden.store.Identifiers;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyManager;

/**
 * PostgreSQL's fast path for a batch: the rows are streamed with {@code COPY} into a session-local staging table and
 * applied with one statement, {@code INSERT .. SELECT .. ON CONFLICT .. DO UPDATE .. WHERE (..) IS DISTINCT FROM (..)
 * RETURNING (xmax = 0)}, which writes only rows that changed and says of each written row whether it was inserted
 * ({@code xmax = 0}) or updated; unchanged rows are the rest of the batch. No probe, no statement per row.
 *
 * <p>The staging table is temporary, empties itself at every commit ({@code ON COMMIT DELETE ROWS}) and is made, if
 * missing, in each batch's own transaction ({@code CREATE TEMP TABLE IF NOT EXISTS}): a pooled connection keeps it for
 * the next writer (no catalog churn per page), and behind a transaction-pooling proxy, where the next transaction may
 * run on another server session, that session gets its own. Its name carries a hash of the target's columns and
 * types, so a changed table gets a fresh one. The COPY stream is written in chunks of about 64 KiB, so a batch of
 * wide rows is not held several times over in memory.
 */
final class PgCopyApplier implements AutoCloseable {
    /** What one batch did: inserted, updated, and which batch rows (by index) were written, when asked for. */
    record Applied(int inserted, int updated, boolean[] written) {
    }

    private static final String ORD = "syncwarden_ord_";
    private static final int CHUNK = 64 * 1024;
    private final Connection c;
    private final CopyManager copy;
    private final String table;
    private final String stageBase;
    private final String cols;
    private final String upsertHead;
    private final String upsertTail;
    private final String keys;
    private final String join;
    private String createStage;
    private String stage;
    private String applyCounting;
    private String copySql;
    private PreparedStatement apply;
    private PreparedStatement applyWithOrdinals;
    /**
     * One transaction over many batches ({@link #growing()}): the staging table is not emptied between batches (a
     * commit empties it); each batch's rows carry ordinals from {@code base} on and the apply reads only those,
     * through an index, so nothing is truncated (a truncate per batch costs a new file and a re-plan).
     */
    private boolean growing;
    private long base;
    private final int columns;
    /** Per column: a {@code timestamp} (no zone) column, where an offset time is written in the session's zone. */
    private final boolean[] localTimestamp;
    /** Per column: a {@code bytea} column, where text is written as its UTF-8 bytes. */
    private final boolean[] binary;
    private final StringBuilder text = new StringBuilder(CHUNK + 4096);

    /**
     * Makes the staging table once to find out whether this session can (temporary tables allowed, COPY supported);
     * throws when it cannot, and the caller writes with batched statements instead.
     */
    PgCopyApplier(Connection c, String table, List<String> storedColumns, List<String> typeNames, List<String> storedKeys,
                  String syncedAt) throws SQLException {
        this.c = c;
        this.table = table;
        this.copy = c.unwrap(PGConnection.class).getCopyAPI();
        this.columns = storedColumns.size();
        this.localTimestamp = new boolean[columns];
        this.binary = new boolean[columns];
        for (int i = 0; i < columns; i++) {
            String t = typeNames.get(i) == null ? "" : typeNames.get(i).toLowerCase(java.util.Locale.ROOT);
            localTimestamp[i] = t.equals("timestamp");
            binary[i] = t.equals("bytea");
        }
        this.stageBase = "syncwarden_stage_" + Integer.toHexString((table + storedColumns + typeNames).hashCode());
        this.cols = storedColumns.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
        List<String> values = storedColumns.stream().filter(col -> !storedKeys.contains(col)).toList();
        String synced = syncedAt == null ? null : Identifiers.quote(syncedAt);
        this.upsertHead = "INSERT INTO " + table + " AS t (" + cols + (synced != null ? ", " + synced : "") + ") SELECT " + cols
                + (synced != null ? ", CURRENT_TIMESTAMP" : "") + " FROM ";
        StringBuilder tail = new StringBuilder(" ON CONFLICT (")
                .append(storedKeys.stream().map(Identifiers::quote).collect(Collectors.joining(", "))).append(") DO ");
        if (values.isEmpty()) {
            tail.append("NOTHING");
        } else {
            tail.append("UPDATE SET ").append(values.stream().map(v -> Identifiers.quote(v) + " = EXCLUDED." + Identifiers.quote(v))
                    .collect(Collectors.joining(", ")));
            if (synced != null) {
                tail.append(", ").append(synced).append(" = CURRENT_TIMESTAMP");
            }
            String mine = values.stream().map(v -> "t." + Identifiers.quote(v)).collect(Collectors.joining(", "));
            String theirs = values.stream().map(v -> "EXCLUDED." + Identifiers.quote(v)).collect(Collectors.joining(", "));
            tail.append(values.size() == 1 ? " WHERE " + mine + " IS DISTINCT FROM " + theirs
                    : " WHERE (" + mine + ") IS DISTINCT FROM (" + theirs + ")");
        }
        this.upsertTail = tail.toString();
        this.keys = storedKeys.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
        this.join = storedKeys.stream().map(k -> "s." + Identifiers.quote(k) + " = w." + Identifiers.quote(k))
                .collect(Collectors.joining(" AND "));
        prepare(stageBase);
        try (Statement st = c.createStatement()) {
            st.execute(createStage);
        }
        c.commit();
    }

    /** The statements for one staging table. */
    private void prepare(String stage) throws SQLException {
        close();
        this.stage = stage;
        this.createStage = "CREATE TEMP TABLE IF NOT EXISTS " + stage + " ON COMMIT DELETE ROWS AS SELECT " + cols + ", 0::bigint AS " + ORD
                + " FROM " + table + " WITH NO DATA";
        this.copySql = "COPY " + stage + " (" + cols + ", " + ORD + ") FROM STDIN";
        String upsert = upsertHead + stage + upsertTail;
        this.apply = c.prepareStatement(upsert + " RETURNING (xmax = 0)");
        this.applyWithOrdinals = c.prepareStatement("WITH w AS (" + upsert + " RETURNING (xmax = 0) AS syncwarden_ins_, " + keys
                + ") SELECT s." + ORD + ", w.syncwarden_ins_ FROM w JOIN " + stage + " s ON " + join);
        this.applyCounting = "WITH w AS (" + upsert + " RETURNING (xmax = 0) AS syncwarden_ins_) SELECT "
                + "COUNT(*) FILTER (WHERE syncwarden_ins_), COUNT(*) FROM w";
    }

    /**
     * For a writer that commits once, at the end of the read: each batch is only copied into a staging table of its
     * own ({@link #stage}), which grows until the commit empties it; {@link #applyAll} applies the whole read in one
     * statement. (Applying per batch would need the staging table emptied per batch: a truncate per batch costs a new
     * file and a re-plan, a delete leaves dead rows the next apply reads again.)
     */
    void growing() throws SQLException {
        this.growing = true;
        prepare(stageBase + "_g");
        try (Statement st = c.createStatement()) {
            st.execute(createStage);
        }
        base = 0;
    }

    /** Growing mode: copies the rows into the staging table (ordinals go on from the last batch's). */
    void stage(List<Object[]> rows) throws SQLException {
        copyIn(rows);
        base += rows.size();
    }

    /** Growing mode: every staged row applied at once; returns {inserted, updated}. */
    long[] applyAll() throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(applyCounting)) {
            rs.next();
            long inserted = rs.getLong(1);
            return new long[] {inserted, rs.getLong(2) - inserted};
        }
    }

    /** Growing mode: the staged rows in ordinal order (the columns, then the ordinal), for a row-by-row fallback. */
    String stagedRows() {
        return "SELECT " + cols + ", " + ORD + " FROM " + stage + " ORDER BY " + ORD;
    }

    /** Copies the rows into the staging table and applies them, in the caller's transaction. */
    Applied apply(List<Object[]> rows, boolean whichRows) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(createStage); // a no-op where this session has it already
        }
        copyIn(rows);
        int inserted = 0;
        int updated = 0;
        boolean[] written = whichRows ? new boolean[rows.size()] : null;
        try (ResultSet rs = (whichRows ? applyWithOrdinals : apply).executeQuery()) {
            while (rs.next()) {
                boolean ins = whichRows ? rs.getBoolean(2) : rs.getBoolean(1);
                if (ins) {
                    inserted++;
                } else {
                    updated++;
                }
                if (whichRows) {
                    written[rs.getInt(1)] = true;
                }
            }
        }
        return new Applied(inserted, updated, written);
    }

    private void copyIn(List<Object[]> rows) throws SQLException {
        CopyIn in = copy.copyIn(copySql);
        try {
            text.setLength(0);
            for (int r = 0; r < rows.size(); r++) {
                Object[] row = rows.get(r);
                for (int i = 0; i < columns; i++) {
                    append(text, value(row[i], i));
                    text.append('\t');
                }
                text.append(base + r).append('\n');
                if (text.length() >= CHUNK) {
                    send(in);
                }
            }
            send(in);
            in.endCopy();
        } finally {
            if (in.isActive()) {
                in.cancelCopy();
            }
            if (text.capacity() > 4 * CHUNK) {
                text.setLength(0);
                text.trimToSize(); // one huge row does not keep its buffer for the writer's life
            }
        }
    }

    private void send(CopyIn in) throws SQLException {
        if (text.length() > 0) {
            byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
            in.writeToCopy(bytes, 0, bytes.length);
            text.setLength(0);
        }
    }

    /**
     * A value as the column takes it, as a bound parameter would have been: an offset time into a {@code timestamp}
     * column in the session's (the JVM's) zone, text into {@code bytea} as its UTF-8 bytes.
     */
    private Object value(Object v, int i) {
        if (v instanceof java.time.OffsetDateTime t && localTimestamp[i]) {
            return t.atZoneSameInstant(java.time.ZoneId.systemDefault()).toLocalDateTime();
        }
        if (v instanceof String t && binary[i]) {
            return t.getBytes(StandardCharsets.UTF_8);
        }
        return v;
    }

    /** A value in COPY's text format: {@code \N} for NULL, backslash escapes for the separators. */
    static void append(StringBuilder out, Object v) {
        if (v == null) {
            out.append("\\N");
        } else if (v instanceof String s) {
            escape(out, s);
        } else if (v instanceof BigDecimal d) {
            out.append(d.toPlainString());
        } else if (v instanceof Number || v instanceof UUID) {
            out.append(v);
        } else if (v instanceof Boolean b) {
            out.append(b ? "true" : "false");
        } else if (v instanceof byte[] b) {
            out.append("\\\\x").append(HexFormat.of().formatHex(b));
        } else {
            // dates, times and timestamps print in ISO form, which PostgreSQL reads; anything else as its text
            escape(out, v.toString());
        }
    }

    private static void escape(StringBuilder out, String s) {
        int n = s.length();
        int i = 0;
        while (i < n) {
            char ch = s.charAt(i);
            if (ch == '\\' || ch == '\t' || ch == '\n' || ch == '\r') {
                break;
            }
            i++;
        }
        if (i == n) {
            out.append(s); // the usual case: nothing to escape
            return;
        }
        out.append(s, 0, i);
        for (; i < n; i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '\\' -> out.append("\\\\");
                case '\t' -> out.append("\\t");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                default -> out.append(ch);
            }
        }
    }

    /** Closes the statements; the staging table stays with the session (empty: it empties at every commit). */
    @Override
    public void close() {
        try {
            if (apply != null) {
                apply.close();
            }
            if (applyWithOrdinals != null) {
                applyWithOrdinals.close();
            }
        } catch (SQLException ignored) {
            // the session is gone
        }
    }
}
