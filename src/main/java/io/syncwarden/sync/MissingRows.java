package io.syncwarden.sync;

import io.syncwarden.store.Identifiers;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * The deletion sweep of a complete full read: streams the target's keys (in the caller's transaction) against the keys
 * the read had and marks the rows it no longer has ({@code deleted_at}), removes them, or only counts them; a marked
 * row whose key is back has its mark cleared. Keys compare as {@link KeyTracker#canonical} values, so a key as the
 * database types it matches the key as it was read.
 */
final class MissingRows {
    private MissingRows() {
    }

    /**
     * {@code active}: rows not marked deleted before the sweep; {@code missing}: of those, the ones the read lacked;
     * {@code revived}: marked rows the read had; {@code matched}: rows whose key the read had.
     */
    record Found(long active, long missing, long revived, long matched) {
    }

    static Found sweep(Connection c, TargetTable table, List<String> keys, Predicate<Object> seen, BatchWriter.Deletions mode,
                       Instant now) throws SQLException {
        boolean mark = mode == BatchWriter.Deletions.MARK;
        TargetTable.Meta deletedAt = table.columns.get(TargetTable.DELETED_AT);
        if (mark && deletedAt == null) {
            throw new IllegalStateException("Target table " + table.display + " has no " + TargetTable.DELETED_AT + " column");
        }
        String keyList = keys.stream().map(table::quoted).collect(Collectors.joining(", "));
        String where = keys.stream().map(k -> table.quoted(k) + " = ?").collect(Collectors.joining(" AND "));
        String deletedCol = mark ? Identifiers.quote(deletedAt.stored()) : null;
        long active = 0;
        long missing = 0;
        long revived = 0;
        long matched = 0;
        try (Statement scan = c.createStatement();
             PreparedStatement gone = mode == BatchWriter.Deletions.KEEP ? null : c.prepareStatement(mark
                     ? "UPDATE " + table.name + " SET " + deletedCol + " = ? WHERE " + where
                     : "DELETE FROM " + table.name + " WHERE " + where);
             PreparedStatement back = mark ? c.prepareStatement("UPDATE " + table.name + " SET " + deletedCol + " = NULL WHERE " + where) : null) {
            scan.setFetchSize(1000);
            Batch goneBatch = new Batch(gone);
            Batch backBatch = new Batch(back);
            try (ResultSet rs = scan.executeQuery("SELECT " + keyList + (mark ? ", " + deletedCol : "") + " FROM " + table.name)) {
                Object[] key = new Object[keys.size()];
                int[] kinds = KeyTracker.kinds(rs);
                while (rs.next()) {
                    for (int i = 0; i < key.length; i++) {
                        key[i] = KeyTracker.read(rs, i + 1, kinds);
                    }
                    boolean wasDeleted = mark && rs.getObject(key.length + 1) != null;
                    if (!wasDeleted) {
                        active++;
                    }
                    if (seen.test(key.length == 1 ? key[0] : Arrays.asList(key.clone()))) {
                        matched++;
                        if (wasDeleted) {
                            revived++;
                            backBatch.add(0, null, key);
                        }
                    } else if (!wasDeleted) {
                        missing++;
                        if (gone != null) {
                            goneBatch.add(mark ? 1 : 0, SyncRuns.utc(now), key);
                        }
                    }
                }
            }
            goneBatch.flush();
            backBatch.flush();
        }
        return new Found(active, missing, revived, matched);
    }

    /** A statement's batch of key-bound rows, executed every 1000. */
    private static final class Batch {
        private final PreparedStatement ps;
        private int pending;

        Batch(PreparedStatement ps) {
            this.ps = ps;
        }

        /** {@code lead} parameters first ({@code value} in the first when 1), then the key. */
        void add(int lead, Object value, Object[] key) throws SQLException {
            if (lead == 1) {
                ps.setObject(1, value);
            }
            for (int i = 0; i < key.length; i++) {
                ps.setObject(lead + 1 + i, key[i]);
            }
            ps.addBatch();
            if (++pending >= 1000) {
                flush();
            }
        }

        void flush() throws SQLException {
            if (ps != null && pending > 0) {
                ps.executeBatch();
                pending = 0;
            }
        }
    }
}
