package io.syncwarden.store;

import static org.assertj.core.api.Assertions.assertThat;

import io.syncwarden.support.EmbeddedPg;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An installation of the earlier version kept its control tables in the default schema: upgrading moves their rows into
 * the control schema, so checkpoints, locks and run history survive, and renames the old tables.
 */
class LegacyControlTablesTest {

    private static String database(String kind) throws SQLException {
        return kind.equals("h2") ? "jdbc:h2:mem:legacy-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1"
                : EmbeddedPg.url(EmbeddedPg.newDatabase("legacy"));
    }

    private static String user(String kind) {
        return kind.equals("h2") ? "sa" : "postgres";
    }

    private static String password(String kind) {
        return kind.equals("h2") ? "" : "postgres";
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @ParameterizedTest(name = "on {0}")
    @ValueSource(strings = {"h2", "pg"})
    void should_carry_checkpoints_locks_and_runs_over_into_the_control_schema(String kind) throws Exception {
        String url = database(kind);
        // the earlier version: migration 1 in the default schema, with a run, a checkpoint and a lock in it
        Flyway.configure().dataSource(url, user(kind), password(kind)).locations("classpath:db/migration").target("1").load().migrate();
        try (Connection c = DriverManager.getConnection(url, user(kind), password(kind)); Statement s = c.createStatement()) {
            s.execute("INSERT INTO sync_run (source_id, source_kind, run_trigger, status, node_id, started_at, rows_read) "
                    + "VALUES ('src', 'jdbc', 'schedule', 'success', 'old-node', CURRENT_TIMESTAMP, 42)");
            s.execute("INSERT INTO sync_checkpoint (source_id, cursor_value, phase, run_id, rows_done, updated_at) "
                    + "VALUES ('src', '[{\"t\":\"long\",\"v\":42}]', 'complete', 1, 42, CURRENT_TIMESTAMP)");
        }

        try (TargetDatabase db = new TargetDatabase(url, user(kind), password(kind), 2);
             Connection c = db.dataSource().getConnection(); Statement s = c.createStatement()) {
            assertThat(count(c, "SELECT COUNT(*) FROM syncwarden.sync_checkpoint WHERE source_id = 'src' AND rows_done = 42")).isEqualTo(1);
            assertThat(count(c, "SELECT rows_read FROM syncwarden.sync_run WHERE run_id = 1")).isEqualTo(42);
            s.execute("INSERT INTO syncwarden.sync_run (source_id, source_kind, run_trigger, status, node_id, started_at) "
                    + "VALUES ('src', 'jdbc', 'schedule', 'running', 'new-node', CURRENT_TIMESTAMP)");
            assertThat(count(c, "SELECT MAX(run_id) FROM syncwarden.sync_run")).as("ids continue after the copied ones").isEqualTo(2);
            assertThat(count(c, "SELECT COUNT(*) FROM " + db.dataSchema() + ".sync_run_legacy")).isEqualTo(1);
        }
    }
}
