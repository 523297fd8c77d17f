package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckHelper;
import org.junit.jupiter.api.Test;

/** jdbc source scenarios, H2 replica into H2 target. */
class H2JdbcSyncTest extends JdbcSyncScenarios {

    @Override
    Databases newDatabases() {
        String id = UUID.randomUUID().toString().substring(0, 8);
        // lazy execution makes H2 stream the result row by row, as a cursor does, so faults hit mid-read
        return new Databases("jdbc:h2:mem:replica-" + id + ";DB_CLOSE_DELAY=-1;LAZY_QUERY_EXECUTION=TRUE",
                "jdbc:h2:mem:target-" + id + ";DB_CLOSE_DELAY=-1", "sa", "");
    }

    @Override
    void installGate(Connection replica) throws SQLException {
        try (Statement s = replica.createStatement()) {
            s.execute("CREATE ALIAS sw_gate FOR 'io.syncwarden.sync.Gate.gate'");
        }
    }

    @Override
    void failReadsFrom(Connection replica, long id) throws SQLException {
        Gate.checkpointFailFrom = id;
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE TRIGGER IF NOT EXISTS checkpoint_fault BEFORE INSERT, UPDATE ON syncwarden.sync_checkpoint FOR EACH ROW CALL '"
                    + CheckpointFault.class.getName() + "'");
        }
    }

    @Override
    void blockReadsFrom(Connection replica, long id) {
        Gate.release = new CountDownLatch(1);
        Gate.blockFrom = id;
    }

    @Override
    void unblock() {
        Gate.release.countDown();
    }

    @Override
    void clearFaults(Connection replica) {
        Gate.reset();
    }

    @Override
    void blockCheckpointFrom(long rowsDone) throws SQLException {
        Gate.checkpointRelease = new CountDownLatch(1);
        Gate.checkpointBlockFrom = rowsDone;
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE TRIGGER IF NOT EXISTS checkpoint_fault BEFORE INSERT, UPDATE ON syncwarden.sync_checkpoint FOR EACH ROW CALL '"
                    + CheckpointFault.class.getName() + "'");
        }
    }

    @Override
    void unblockCheckpoint() {
        Gate.checkpointRelease.countDown();
    }

    @Override
    void failNextLockInsert() throws SQLException {
        LockFault.FAILURES.set(1);
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE TRIGGER IF NOT EXISTS lock_fault BEFORE INSERT ON syncwarden.source_lock FOR EACH ROW CALL '"
                    + LockFault.class.getName() + "'");
        }
    }

    @Override
    String enumType(Connection replica) {
        return "ENUM('alpha', 'beta', 'gamma')";
    }

    @Test
    void should_record_a_failed_run_and_show_it_in_the_source_check_without_taking_the_service_down() throws Exception {
        SyncTrigger.Result result = fire("it-down");

        assertThat(result.status()).isEqualTo("failed");
        assertThat((String) run(result.runId()).get("error")).contains("no-such-replica");
        assertThat(HealthCheckHelper.invokeReadiness(context, "full"))
                .filteredOn(r -> r.getCheck().getId().equals("source-it-down")).singleElement()
                .satisfies(r -> assertThat(r.getDetails()).containsEntry("source.status", "degraded"));
        assertThat(HealthCheckHelper.invokeReadiness(context, "full")).as("one failing source does not take the service down")
                .allSatisfy(r -> assertThat(r.getState()).as(r.getCheck().getId()).isEqualTo(HealthCheck.State.UP));
        assertThat(context.getRouteController().getRouteStatus("it-down").isStarted())
                .as("the source's route keeps its schedule").isTrue();
        assertThat(fire("it-full").status()).as("other sources still sync").isEqualTo("success");
    }

    @Test
    void should_copy_large_text_columns_read_as_clobs() throws Exception {
        String big = "Zoë 李 ".repeat(5000);
        try (Connection r = replica(); Statement s = r.createStatement()) {
            s.execute("CREATE TABLE src_clob (id INT PRIMARY KEY, body CLOB)");
            s.execute("INSERT INTO src_clob VALUES (1, 'short'), (2, NULL), (3, '" + big + "')");
        }

        SyncTrigger.Result result = fire("it-clob");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 3L);
        try (Connection t = target()) {
            // the last row's text is read after camel-jdbc has moved past it and closed the result
            assertThat(query(t, "SELECT id, CAST(body AS VARCHAR) FROM clob_copy ORDER BY id")).containsExactly("1|short|", "2|null|", "3|" + big + "|");
        }
    }
}
