package io.syncwarden.sync;

import io.syncwarden.support.EmbeddedPg;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.apache.camel.component.jdbc.JdbcEndpoint;
import org.apache.camel.component.jdbc.JdbcOutputType;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** jdbc source scenarios, PostgreSQL replica into PostgreSQL target (real PostgreSQL binaries). */
class PostgresJdbcSyncTest extends JdbcSyncScenarios {
    private static final long GATE_LOCK = 4242;
    private static final long CHECKPOINT_LOCK = 4343;
    private Connection lockHolder;
    private Connection checkpointHolder;

    @Override
    Databases newDatabases() throws SQLException {
        String target = EmbeddedPg.url(EmbeddedPg.newDatabase("target"));
        // the target already holds tables of its own (and a public schema that is not empty): Syncwarden still starts
        try (Connection c = DriverManager.getConnection(target, "postgres", "postgres"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.customers (id BIGINT PRIMARY KEY, name TEXT)");
            s.execute("CREATE TABLE public.sync_run (note TEXT)");
        }
        return new Databases(EmbeddedPg.url(EmbeddedPg.newDatabase("replica")), target, "postgres", "postgres");
    }

    @Override
    void installGate(Connection replica) throws SQLException {
        try (Statement s = replica.createStatement()) {
            s.execute("CREATE TABLE sw_fault (fail_from BIGINT, block_from BIGINT)");
            s.execute("INSERT INTO sw_fault VALUES (NULL, NULL)");
            // Evaluated per row as the cursor fetches: fails (as a lost connection) or waits on an advisory lock.
            s.execute("CREATE FUNCTION sw_gate(row_id BIGINT) RETURNS INTEGER AS $$ "
                    + "DECLARE f sw_fault%ROWTYPE; BEGIN SELECT * INTO f FROM sw_fault; "
                    + "IF row_id >= f.fail_from THEN RAISE EXCEPTION 'replica connection lost (injected at row %)', row_id; END IF; "
                    + "IF row_id >= f.block_from THEN PERFORM pg_advisory_lock_shared(" + GATE_LOCK + "); "
                    + "PERFORM pg_advisory_unlock_shared(" + GATE_LOCK + "); END IF; RETURN 1; END $$ LANGUAGE plpgsql VOLATILE");
        }
    }

    @Override
    void failReadsFrom(Connection replica, long id) throws SQLException {
        // A small table is sorted before the first row leaves PostgreSQL, so a replica fault would land before any
        // batch; the fault is put on the checkpoint write instead, failing the run after its earlier batches.
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE OR REPLACE FUNCTION checkpoint_fault() RETURNS trigger AS $$ BEGIN "
                    + "IF NEW.rows_done >= " + id + " THEN RAISE EXCEPTION 'target connection lost (injected at row %)', NEW.rows_done; "
                    + "END IF; RETURN NEW; END $$ LANGUAGE plpgsql");
            s.execute("CREATE TRIGGER checkpoint_fault BEFORE INSERT OR UPDATE ON syncwarden.sync_checkpoint FOR EACH ROW EXECUTE FUNCTION checkpoint_fault()");
        }
    }

    @Override
    void blockReadsFrom(Connection replica, long id) throws SQLException {
        // advisory locks belong to a database: hold it in the replica's
        lockHolder = DriverManager.getConnection(replica.getMetaData().getURL(), "postgres", "postgres");
        try (Statement s = lockHolder.createStatement()) {
            s.execute("SELECT pg_advisory_lock(" + GATE_LOCK + ")");
        }
        try (Statement s = replica.createStatement()) {
            s.executeUpdate("UPDATE sw_fault SET block_from = " + id);
        }
    }

    @Override
    void unblock() throws SQLException {
        if (lockHolder != null) {
            lockHolder.close();
            lockHolder = null;
        }
    }

    @Override
    void blockCheckpointFrom(long rowsDone) throws SQLException {
        checkpointHolder = target();
        try (Statement s = checkpointHolder.createStatement()) {
            s.execute("SELECT pg_advisory_lock(" + CHECKPOINT_LOCK + ")");
        }
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE OR REPLACE FUNCTION checkpoint_gate() RETURNS trigger AS $$ BEGIN "
                    + "IF NEW.rows_done >= " + rowsDone + " THEN PERFORM pg_advisory_lock_shared(" + CHECKPOINT_LOCK + "); "
                    + "PERFORM pg_advisory_unlock_shared(" + CHECKPOINT_LOCK + "); END IF; RETURN NEW; END $$ LANGUAGE plpgsql");
            s.execute("CREATE TRIGGER checkpoint_gate BEFORE INSERT OR UPDATE ON syncwarden.sync_checkpoint FOR EACH ROW EXECUTE FUNCTION checkpoint_gate()");
        }
    }

    @Override
    void unblockCheckpoint() throws SQLException {
        if (checkpointHolder != null) {
            checkpointHolder.close();
            checkpointHolder = null;
        }
    }

    @Override
    void failNextLockInsert() throws SQLException {
        try (Connection t = target(); Statement s = t.createStatement()) {
            // a sequence, not a table: its count survives the rollback of the failing transaction
            s.execute("CREATE SEQUENCE public.lock_fault_seq");
            s.execute("CREATE OR REPLACE FUNCTION lock_fault() RETURNS trigger AS $$ BEGIN "
                    + "IF nextval('public.lock_fault_seq') = 1 THEN "
                    + "RAISE EXCEPTION 'target connection lost (injected while taking the lock)' USING ERRCODE = '08006'; "
                    + "END IF; RETURN NEW; END $$ LANGUAGE plpgsql");
            s.execute("CREATE TRIGGER lock_fault BEFORE INSERT ON syncwarden.source_lock FOR EACH ROW EXECUTE FUNCTION lock_fault()");
        }
    }

    @Override
    String enumType(Connection replica) throws SQLException {
        try (Statement s = replica.createStatement()) {
            s.execute("CREATE TYPE lead_kind AS ENUM ('alpha', 'beta', 'gamma')");
        }
        return "lead_kind";
    }

    @Override
    void clearFaults(Connection replica) throws SQLException {
        try (Statement s = replica.createStatement()) {
            s.executeUpdate("UPDATE sw_fault SET fail_from = NULL, block_from = NULL");
        }
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("DROP TRIGGER IF EXISTS checkpoint_fault ON syncwarden.sync_checkpoint");
        }
    }

    @Test
    void should_read_the_replica_through_camel_jdbc_with_a_cursor_and_write_batches_while_it_is_still_reading() throws Exception {
        try (Connection r = replica(); Statement s = r.createStatement()) {
            // read in key order straight off the primary key index: rows leave PostgreSQL as the scan reaches them
            s.execute("ALTER DATABASE \"" + r.getCatalog() + "\" SET enable_sort = off");
            blockReadsFrom(r, 151); // the fourth fetch of 50
        }
        CompletableFuture<SyncTrigger.Result> running = fireInBackground("it-full");

        // two batches of 50 are in the target while the replica still waits at row 151: the result is fetched 50 rows
        // at a time through a cursor (a result read whole would hold every row back until the scan ended)
        await("batches written while the replica reads").atMost(Duration.ofSeconds(30))
                .until(() -> count("SELECT COUNT(*) FROM leads_full") == 100);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE status = 'running'")).isEqualTo(1);
        unblock();
        assertThat(running.get().status()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM leads_full")).isEqualTo(ROWS);

        assertThat(context.getEndpoints()).filteredOn(JdbcEndpoint.class::isInstance).map(JdbcEndpoint.class::cast)
                .filteredOn(e -> e.getDataSourceName() != null)
                .anySatisfy(e -> {
                    assertThat(e.getOutputType()).isEqualTo(JdbcOutputType.StreamList);
                    assertThat(e.isResetAutoCommit()).as("a commit after the query would close the cursor").isFalse();
                    assertThat(e.isUseHeadersAsParameters()).isTrue();
                    assertThat(e.getParameters()).containsEntry("fetchSize", "50");
                });
    }

    @Test
    void should_reject_a_second_key_equal_to_the_first_only_as_a_number_naming_the_first() throws Exception {
        try (Connection r = replica(); Statement s = r.createStatement()) {
            // 100 and 100.0: two keys to Java (BigDecimal scale), one to PostgreSQL's numeric comparison
            s.execute("CREATE TABLE src_numkey (id NUMERIC, name TEXT)");
            s.execute("INSERT INTO src_numkey VALUES (100, 'a first'), (100.0, 'b second'), (7, 'c other')");
        }

        SyncTrigger.Result result = fire("it-numeric-keys");

        // keys compare as the database compares them: the second 100 is a repeated key, rejected with the first's
        // position (which of the two comes first is the replica's choice: they sort equal)
        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("read", 3L)
                .containsEntry("inserted", 2L).containsEntry("updated", 0L).containsEntry("rejected", 1L);
        try (Connection t = target()) {
            assertThat(query(t, "SELECT id, name FROM numkey_copy ORDER BY id")).hasSize(2).contains("7|c other|")
                    .containsAnyOf("100|a first|", "100|b second|");
            assertThat(query(t, "SELECT reason FROM syncwarden.rejected_row")).singleElement().asString()
                    .contains("duplicate key (id=100").contains("read first at row");
        }
    }
}
