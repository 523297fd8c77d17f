package io.syncwarden.sync;

import io.syncwarden.store.Identifiers;
import java.io.ByteArrayInputStream;
import java.io.IOException;
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
import org.postgresql.copy.CopyManager;

/**
 * PostgreSQL's fast path for a batch: the rows are streamed with {@code COPY} into a session-local staging table and
 * applied with one statement, {@code INSERT .. SELECT .. ON CONFLICT .. DO UPDATE .. WHERE (..) IS DISTINCT FROM (..)
 * RETURNING (xmax = 0)}, which writes only rows that changed and says of each written row whether it was inserted
 * ({@code xmax = 0}) or updated; unchanged rows are the rest of the batch. No probe, no statement per row. The staging
 * table empties itself at every commit ({@code ON COMMIT DELETE ROWS}) and is dropped with the writer.
 */
final class PgCopyApplier implements AutoCloseable {
    /** What one batch did: inserted, updated, and which batch rows (by index) were written, when asked for. */
    record Applied(int inserted, int updated, boolean[] written) {
    }

    private final Connection c;
    private final CopyManager copy;
    private final String stage;
    private final String copySql;
    private final PreparedStatement apply;
    private final PreparedStatement applyWithOrdinals;
    private final int columns;

    PgCopyApplier(Connection c, String table, List<String> storedColumns, List<String> storedKeys, String syncedAt)
            throws SQLException {
        this.c = c;
        this.copy = c.unwrap(PGConnection.class).getCopyAPI();
        this.columns = storedColumns.size();
        this.stage = "sw_stage_" + Integer.toHexString(System.identityHashCode(this));
        String cols = storedColumns.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TEMP TABLE " + stage + " ON COMMIT DELETE ROWS AS SELECT " + cols + ", 0 AS sw_ord FROM " + table
                    + " WITH NO DATA");
        }
        c.commit();
        this.copySql = "COPY " + stage + " (" + cols + ", sw_ord) FROM STDIN";
        List<String> values = storedColumns.stream().filter(col -> !storedKeys.contains(col)).toList();
        String synced = syncedAt == null ? null : Identifiers.quote(syncedAt);
        StringBuilder upsert = new StringBuilder("INSERT INTO ").append(table).append(" AS t (").append(cols)
                .append(synced != null ? ", " + synced : "").append(") SELECT ").append(cols)
                .append(synced != null ? ", CURRENT_TIMESTAMP" : "").append(" FROM ").append(stage).append(" ON CONFLICT (")
                .append(storedKeys.stream().map(Identifiers::quote).collect(Collectors.joining(", "))).append(") DO ");
        if (values.isEmpty()) {
            upsert.append("NOTHING");
        } else {
            upsert.append("UPDATE SET ").append(values.stream().map(v -> Identifiers.quote(v) + " = EXCLUDED." + Identifiers.quote(v))
                    .collect(Collectors.joining(", ")));
            if (synced != null) {
                upsert.append(", ").append(synced).append(" = CURRENT_TIMESTAMP");
            }
            String mine = values.stream().map(v -> "t." + Identifiers.quote(v)).collect(Collectors.joining(", "));
            String theirs = values.stream().map(v -> "EXCLUDED." + Identifiers.quote(v)).collect(Collectors.joining(", "));
            upsert.append(values.size() == 1 ? " WHERE " + mine + " IS DISTINCT FROM " + theirs
                    : " WHERE (" + mine + ") IS DISTINCT FROM (" + theirs + ")");
        }
        String keys = storedKeys.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
        this.apply = c.prepareStatement(upsert + " RETURNING (xmax = 0)");
        String join = storedKeys.stream().map(k -> "s." + Identifiers.quote(k) + " = w." + Identifiers.quote(k))
                .collect(Collectors.joining(" AND "));
        this.applyWithOrdinals = c.prepareStatement("WITH w AS (" + upsert + " RETURNING (xmax = 0) AS ins, " + keys
                + ") SELECT s.sw_ord, w.ins FROM w JOIN " + stage + " s ON " + join);
    }

    /** Copies the rows into the staging table and applies them, in the caller's transaction. */
    Applied apply(List<Object[]> rows, boolean whichRows) throws SQLException {
        StringBuilder text = new StringBuilder(rows.size() * 96);
        for (int r = 0; r < rows.size(); r++) {
            Object[] row = rows.get(r);
            for (int i = 0; i < columns; i++) {
                append(text, row[i]);
                text.append('\t');
            }
            text.append(r).append('\n');
        }
        try {
            copy.copyIn(copySql, new ByteArrayInputStream(text.toString().getBytes(StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new SQLException("COPY into the staging table failed: " + e.getMessage(), "08006", e);
        }
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

    /** Drops the staging table (quietly: after a lost connection it is gone with its session anyway). */
    @Override
    public void close() {
        try {
            apply.close();
            applyWithOrdinals.close();
            c.rollback();
            try (Statement s = c.createStatement()) {
                s.execute("DROP TABLE IF EXISTS " + stage);
            }
            c.commit();
        } catch (SQLException ignored) {
            // the session is gone, and its temporary table with it
        }
    }
}
