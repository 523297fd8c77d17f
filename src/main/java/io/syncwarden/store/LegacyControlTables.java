package io.syncwarden.store;

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Earlier versions kept the control tables in the database's default schema. When the control schema is new and those
 * tables are found there (recognised by their own Flyway history: migration 1 "control tables"), their rows are copied
 * into the control schema once, identities continue after the highest copied id, and the old tables are renamed with
 * the suffix {@code _legacy} (kept, not dropped), so checkpoints, locks and run history survive the upgrade and a node
 * still running the old version fails loudly instead of locking in a table nobody else reads.
 */
final class LegacyControlTables {
    private static final Logger LOG = LoggerFactory.getLogger(LegacyControlTables.class);

    /** Table, its version-1 columns, and its identity column (or null). */
    private record Table(String name, String columns, String identity) {
    }

    private static final List<Table> TABLES = List.of(
            new Table("sync_run", "run_id, source_id, source_kind, run_trigger, mode, status, node_id, rows_read, rows_inserted, "
                    + "rows_updated, rows_unchanged, rows_rejected, rows_skipped, resumed_from, attempts, started_at, finished_at, "
                    + "duration_ms, error_class, error_message", "run_id"),
            new Table("source_health", "source_id, source_kind, status, consecutive_failures, last_run_id, last_run_status, "
                    + "last_success_at, last_failure_at, last_row_count, circuit_state, last_error, updated_at", null),
            new Table("sync_checkpoint", "source_id, cursor_value, phase, run_id, rows_done, updated_at", null),
            new Table("source_lock", "source_id, run_id, node_id, acquired_at, heartbeat_at, lease_until", null),
            new Table("failure_log", "failure_id, source_id, run_id, attempt, error_class, exception, error_message, occurred_at",
                    "failure_id"),
            new Table("rejected_row", "rejected_id, source_id, run_id, row_key, row_position, reason, row_data, rejected_at",
                    "rejected_id"));

    private LegacyControlTables() {
    }

    /** Copies the legacy control tables of {@code legacySchema} into {@code schema}, if there are any. */
    static void adopt(Connection c, Dialect dialect, String legacySchema, String schema) throws SQLException {
        if (legacySchema.equals(schema) || !ours(c, dialect, legacySchema)) {
            return;
        }
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            for (Table t : TABLES) {
                String from = Identifiers.quote(legacySchema) + "." + Identifiers.quote(dialect.fold(t.name()));
                String to = Identifiers.quote(schema) + "." + Identifiers.quote(dialect.fold(t.name()));
                int rows = s.executeUpdate("INSERT INTO " + to + " (" + t.columns() + ") SELECT " + t.columns() + " FROM " + from);
                if (t.identity() != null) {
                    try (ResultSet rs = s.executeQuery("SELECT COALESCE(MAX(" + t.identity() + "), 0) + 1 FROM " + to)) {
                        rs.next();
                        s.execute("ALTER TABLE " + to + " ALTER COLUMN " + t.identity() + " RESTART WITH " + rs.getLong(1));
                    }
                }
                s.execute("ALTER TABLE " + from + " RENAME TO " + Identifiers.quote(dialect.fold(t.name() + "_legacy")));
                LOG.info("Moved {} row(s) of {} from schema {} to {}; the old table is now {}_legacy", rows, t.name(),
                        legacySchema, schema, t.name());
            }
            c.commit();
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(auto);
        }
    }

    /** True when the schema holds Syncwarden's version-1 control tables with their Flyway record. */
    private static boolean ours(Connection c, Dialect dialect, String legacySchema) throws SQLException {
        DatabaseMetaData md = c.getMetaData();
        try (ResultSet rs = md.getTables(null, legacySchema, dialect.fold("sync_run"), null)) {
            if (!rs.next()) {
                return false;
            }
        }
        String history = Identifiers.quote(legacySchema) + "." + Identifiers.quote("flyway_schema_history");
        try (PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM " + history
                + " WHERE \"version\" = '1' AND \"script\" = 'V1__control_tables.sql' AND \"success\" = TRUE")) {
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getLong(1) == 1;
            }
        } catch (SQLException e) {
            return false; // no Flyway history of ours there: those tables belong to someone else
        }
    }
}
