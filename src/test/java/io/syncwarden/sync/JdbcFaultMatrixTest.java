package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;

import io.syncwarden.SyncwardenTestSupport;
import io.syncwarden.support.EmbeddedPg;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The jdbc kind's column of the fault matrix, on a PostgreSQL replica: what a database upstream does instead of HTTP
 * statuses. The replica's {@code sw_fault(id)}, evaluated per row as the cursor reads, injects the armed fault until
 * the test disarms it. Each case starts from a good run, changes the replica, and checks the run, the target row by row against
 * the replica, {@code source_health}, incidents and the retry queue. (Replica sessions are read-only, so the fault
 * cannot count its own attempts: the test disarms it once the first attempt's failure is recorded, well inside the
 * 2 s redelivery delay.)
 */
class JdbcFaultMatrixTest extends SyncwardenTestSupport {
    private static final int ROWS = 120;

    enum Fault {
        /** the replica's backend is killed under the read: the connection is gone (08006 on the client) */
        CONNECTION_KILLED,
        /** the read is slower than the socket timeout */
        SLOWER_THAN_TIMEOUT,
        /** the server is shutting down (57P01), PostgreSQL's 503 */
        SERVER_SHUTTING_DOWN,
        /** too many connections (53300), a database's rate limit */
        TOO_MANY_CONNECTIONS,
        /** the credentials are refused (class 28: an unknown user here), a database's 401 */
        PASSWORD_REFUSED,
        /** one row the target refuses (a constraint): a database's malformed record */
        ROW_THE_TARGET_REFUSES,
        /** the replica table emptied after a good run */
        EMPTIED
    }

    private String replicaUrl;

    @Override
    protected Properties useOverridePropertiesWithPropertiesComponent() {
        try {
            replicaUrl = EmbeddedPg.url(EmbeddedPg.newDatabase("jm_replica"));
            try (Connection r = replica(); Statement s = r.createStatement()) {
                s.execute("CREATE TABLE src_items (id BIGINT PRIMARY KEY, name TEXT NOT NULL, qty INTEGER NOT NULL)");
                s.execute("INSERT INTO src_items SELECT g, 'item ' || g, g FROM generate_series(1, " + ROWS + ") g");
                s.execute("CREATE TABLE fm (mode TEXT)");
                s.execute("INSERT INTO fm VALUES ('none')");
                s.execute("CREATE FUNCTION sw_fault(row_id BIGINT) RETURNS INTEGER AS $$ DECLARE m TEXT; BEGIN "
                        + "SELECT mode INTO m FROM fm; "
                        + "IF m = 'none' THEN RETURN 1; END IF; "
                        + "IF m = 'kill' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF; "
                        + "IF m = 'slow' THEN PERFORM pg_sleep(2.5); END IF; "
                        + "IF m = 'shutdown' THEN RAISE EXCEPTION 'the database system is shutting down' USING ERRCODE = '57P01'; END IF; "
                        + "IF m = 'busy' THEN RAISE EXCEPTION 'sorry, too many clients already' USING ERRCODE = '53300'; END IF; "
                        + "RETURN 1; END $$ LANGUAGE plpgsql VOLATILE");
            }
            String target = EmbeddedPg.url(EmbeddedPg.newDatabase("jm_target"));
            Properties p = bootProperties("test-jdbc-fault-matrix.camel.yaml", target, "postgres", "postgres");
            p.put("test.replica.url", replicaUrl);
            p.put("syncwarden.retry.max-redeliveries", "2");
            p.put("syncwarden.source.socket-timeout-ms", "1000");
            p.put("syncwarden.retry.initial-delay-ms", "2000");
            return p;
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    private Connection replica() throws SQLException {
        return DriverManager.getConnection(replicaUrl, "postgres", "postgres");
    }

    private Connection target() throws SQLException {
        return DriverManager.getConnection(context.resolvePropertyPlaceholders("{{syncwarden.db.url}}"), "postgres", "postgres");
    }

    private void replicaSql(String... sql) throws SQLException {
        try (Connection r = replica(); Statement s = r.createStatement()) {
            for (String q : sql) {
                s.execute(q);
            }
        }
    }

    private List<String> rows(Connection c, String table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, name, qty FROM " + table + " ORDER BY id")) {
            while (rs.next()) {
                out.add(rs.getLong(1) + "|" + rs.getString(2) + "|" + rs.getInt(3));
            }
        } catch (SQLException e) {
            if ("42P01".equals(e.getSQLState())) {
                return out; // no table yet
            }
            throw e;
        }
        return out;
    }

    private String value(String sql) throws SQLException {
        try (Connection t = target(); Statement s = t.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    @ParameterizedTest(name = "jdbc x {0}")
    @EnumSource(Fault.class)
    void each_fault_of_the_jdbc_kind_ends_in_its_defined_outcome(Fault fault) throws Exception {
        String source = fault == Fault.PASSWORD_REFUSED ? "jm-denied" : "jm-items";
        String table = fault == Fault.PASSWORD_REFUSED ? "jm_denied" : "jm_items";
        if (fault != Fault.PASSWORD_REFUSED) {
            assertThat(fire(source).status()).isEqualTo("success");
        }
        List<String> before;
        try (Connection t = target()) {
            before = rows(t, table);
        }
        replicaSql("UPDATE src_items SET name = name || ' v2' WHERE id % 10 = 0");
        switch (fault) {
            case CONNECTION_KILLED -> replicaSql("UPDATE fm SET mode = 'kill'");
            case SLOWER_THAN_TIMEOUT -> replicaSql("UPDATE fm SET mode = 'slow'");
            case SERVER_SHUTTING_DOWN -> replicaSql("UPDATE fm SET mode = 'shutdown'");
            case TOO_MANY_CONNECTIONS -> replicaSql("UPDATE fm SET mode = 'busy'");
            case ROW_THE_TARGET_REFUSES -> {
                try (Connection t = target(); Statement s = t.createStatement()) {
                    s.execute("ALTER TABLE jm_items ADD CONSTRAINT no_negative CHECK (qty >= 0)");
                }
                replicaSql("UPDATE src_items SET qty = -5 WHERE id = 7");
            }
            case EMPTIED -> replicaSql("DELETE FROM src_items");
            default -> { }
        }

        java.util.concurrent.CompletableFuture<SyncTrigger.Result> running = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return fire(source, "schedule");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        if (transientFault(fault)) {
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).pollInterval(java.time.Duration.ofMillis(20))
                    .until(() -> !"0".equals(value("SELECT COUNT(*) FROM syncwarden.failure_log WHERE source_id = '" + source + "'")));
            replicaSql("UPDATE fm SET mode = 'none'"); // the replica is back before the redelivery
        }
        SyncTrigger.Result result = running.get(60, java.util.concurrent.TimeUnit.SECONDS);

        String status = value("SELECT status FROM syncwarden.sync_run WHERE run_id = " + result.runId());
        List<String> replicaRows;
        List<String> after;
        try (Connection r = replica(); Connection t = target()) {
            replicaRows = rows(r, "src_items");
            after = rows(t, table);
        }
        String health = value("SELECT status FROM syncwarden.source_health WHERE source_id = '" + source + "'");
        String incidents = value("SELECT STRING_AGG(kind, ',' ORDER BY kind) FROM syncwarden.incident WHERE status = 'open'");
        switch (fault) {
            case CONNECTION_KILLED, SLOWER_THAN_TIMEOUT, SERVER_SHUTTING_DOWN, TOO_MANY_CONNECTIONS -> {
                // redelivered, then the whole read applied in the same run, each row once
                assertThat(status).isEqualTo("success");
                assertThat(value("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo("2");
                assertThat(value("SELECT COUNT(*) FROM syncwarden.failure_log WHERE run_id = " + result.runId())).isEqualTo("1");
                assertThat(after).as("the target equals the replica row by row").isEqualTo(replicaRows);
                assertThat(health).isEqualTo("healthy");
                assertThat(incidents).isNull();
            }
            case PASSWORD_REFUSED -> {
                assertThat(status).isEqualTo("failed");
                assertThat(value("SELECT error_class FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo("non_recoverable");
                assertThat(value("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + result.runId())).as("not retried").isEqualTo("1");
                assertThat(value("SELECT error_message FROM syncwarden.sync_run WHERE run_id = " + result.runId()))
                        .doesNotContain("not-the-password");
                assertThat(after).isEqualTo(before);
                assertThat(health).isEqualTo("unhealthy");
                assertThat(incidents).isEqualTo("non_recoverable");
            }
            case ROW_THE_TARGET_REFUSES -> {
                // the refused row is rejected with the database's reason; every other row applied
                assertThat(status).isEqualTo("success");
                assertThat(value("SELECT rows_rejected FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo("1");
                assertThat(value("SELECT reason FROM syncwarden.rejected_row")).contains("no_negative");
                assertThat(after).hasSize(ROWS).contains(before.get(6)).doesNotContain(replicaRows.get(6));
                List<String> others = new ArrayList<>(replicaRows);
                others.remove(6);
                List<String> afterOthers = new ArrayList<>(after);
                afterOthers.remove(6);
                assertThat(afterOthers).isEqualTo(others);
                assertThat(health).isEqualTo("healthy");
            }
            case EMPTIED -> {
                assertThat(status).isEqualTo("refused_empty");
                assertThat(after).as("the target as it was").isEqualTo(before);
                assertThat(health).as("a refusal is not a failure").isEqualTo("healthy");
                assertThat(incidents).isEqualTo("refused_empty");
            }
            default -> throw new IllegalStateException(fault.name());
        }
        assertThat(value("SELECT COUNT(*) FROM syncwarden.retry_queue")).as("nothing queued").isEqualTo("0");
    }

    private static boolean transientFault(Fault fault) {
        return switch (fault) {
            case CONNECTION_KILLED, SLOWER_THAN_TIMEOUT, SERVER_SHUTTING_DOWN, TOO_MANY_CONNECTIONS -> true;
            default -> false;
        };
    }
}
