package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.support.TcpProxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.Map;
import org.apache.camel.Exchange;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.DefaultExchange;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every run ends in a true record: the run lifecycle against a real target database behind a TCP proxy that takes
 * the database down and brings it back. Subclasses supply H2 (TCP server) or PostgreSQL.
 */
abstract class RunRecordScenarios {
    private static final long LEASE_MS = 2000;

    private TcpProxy proxy;
    private String directUrl;
    private TargetDatabase db;
    private SimpleMeterRegistry meters;
    private SyncRuns runs;

    /** Starts a fresh target database; returns its JDBC URL template with {port} for the proxy, and its direct port. */
    abstract String urlTemplate() throws Exception;

    abstract int directPort();

    abstract String user();

    abstract String password();

    @BeforeEach
    void start() throws Exception {
        String template = urlTemplate();
        proxy = new TcpProxy(directPort());
        directUrl = template.replace("{port}", String.valueOf(directPort()));
        db = new TargetDatabase(new TargetDatabase.Options(template.replace("{port}", String.valueOf(proxy.port())), user(),
                password(), 4, "syncwarden", "default", 500, 2000, 60_000, 10_000, TargetDatabase.Options.H2_CACHE_KB));
        meters = new SimpleMeterRegistry();
        runs = node("node-a");
        runs.start();
    }

    private SyncRuns node(String id) {
        // pending records are written only when the test says so (writePending), not by the timer
        return new SyncRuns(db, new SyncSettings(id, LEASE_MS, 3, 300, 3_600_000, 3.0), new SyncMetrics(() -> meters));
    }

    @AfterEach
    void stop() throws Exception {
        restore();
        runs.stop();
        db.close();
        proxy.close();
    }

    private Connection direct() throws SQLException {
        return DriverManager.getConnection(directUrl, user(), password());
    }

    private Map<String, Object> record(long runId) throws SQLException {
        try (Connection c = direct(); PreparedStatement ps = c.prepareStatement("SELECT status, rows_read, rows_inserted, "
                + "error_class, attempts, mode FROM syncwarden.sync_run WHERE run_id = ?")) {
            ps.setLong(1, runId);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).isTrue();
                Map<String, Object> m = new HashMap<>();
                m.put("status", rs.getString(1));
                m.put("read", rs.getLong(2));
                m.put("inserted", rs.getLong(3));
                m.put("error_class", rs.getString(4));
                m.put("attempts", rs.getInt(5));
                m.put("mode", rs.getString(6));
                return m;
            }
        }
    }

    private long count(String sql) throws SQLException {
        try (Connection c = direct(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Commits a batch of {@code rows} inserted rows for the run, as the batch writer does. */
    private void commitBatch(SyncRuns node, RunContext run, int rows) throws SQLException {
        RunContext.Counts batch = new RunContext.Counts();
        batch.read = rows;
        batch.inserted = rows;
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            node.commitBatch(c, run, batch, run.committedPosition() + rows, "row " + (run.committedPosition() + rows), null, 0);
            c.commit();
        }
        run.commit(batch, run.committedPosition() + rows, null);
    }

    private Exchange failing(RunContext run, Exception error) {
        Exchange exchange = new DefaultExchange(new DefaultCamelContext());
        exchange.setProperty(RunContext.PROPERTY, run);
        exchange.setProperty(Exchange.EXCEPTION_CAUGHT, error);
        return exchange;
    }

    private double counted(String meter, String status) {
        var counter = meters.find(meter).tag("status", status).counter();
        return counter == null ? 0 : counter.count();
    }

    private void expireLease(String source) throws SQLException {
        try (Connection c = direct(); PreparedStatement ps = c.prepareStatement(
                "UPDATE syncwarden.source_lock SET lease_until = ? WHERE source_id = ?")) {
            ps.setObject(1, OffsetDateTime.now().minusMinutes(1));
            ps.setString(2, source);
            ps.executeUpdate();
        }
    }

    /**
     * Ends the outage. Pooled connections that sat idle through it are broken; the pool hands one out unchecked when it
     * was used within the last 500 ms (HikariCP's alive-bypass window), so they are evicted, as a pool does after an
     * outage, to keep each test about the run records rather than that race.
     */
    private void restore() throws SQLException {
        proxy.restore();
        db.dataSource().unwrap(com.zaxxer.hikari.HikariDataSource.class).getHikariPoolMXBean().softEvictConnections();
    }

    @Test
    void should_count_a_run_completed_while_the_database_is_down_and_record_it_when_it_is_back() throws Exception {
        RunContext run = runs.begin("src-a", "jdbc", "manual");
        run.mode("full");
        commitBatch(runs, run, 150);
        proxy.cut();

        runs.complete(run);

        assertThat(runs.pendingRecords()).isEqualTo(1);
        assertThat(counted("syncwarden.runs", "success")).as("counted at once, in the metric").isEqualTo(1);
        assertThat(runs.lastOutcome("src-a")).satisfies(o -> {
            assertThat(o.status()).isEqualTo("success");
            assertThat(o.recorded()).isFalse();
        });
        restore();
        runs.writePending();
        assertThat(runs.pendingRecords()).isZero();
        assertThat(record(run.runId())).containsEntry("status", "success").containsEntry("read", 150L).containsEntry("mode", "full");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock")).as("lock released").isZero();
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_health WHERE source_id = 'src-a' AND status = 'healthy'")).isEqualTo(1);
    }

    @Test
    void should_keep_the_truth_over_an_abandon_written_while_this_node_could_not_write() throws Exception {
        RunContext run = runs.begin("src-a", "jdbc", "manual");
        commitBatch(runs, run, 80);
        proxy.cut();
        runs.complete(run);
        restore();
        // meanwhile its lease ran out and another node took the source over, marking the run abandoned
        expireLease("src-a");
        SyncRuns other = node("node-b");
        RunContext takeover = other.begin("src-a", "jdbc", "schedule");
        assertThat(takeover).isNotNull();
        assertThat(record(run.runId())).containsEntry("status", "abandoned");

        runs.writePending();

        assertThat(record(run.runId())).as("its data was committed: success, not abandoned")
                .containsEntry("status", "success").containsEntry("read", 80L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock WHERE run_id = " + takeover.runId()))
                .as("the other node keeps its lock").isEqualTo(1);
        other.stop();
    }

    @Test
    void should_record_a_failure_met_while_the_database_is_down() throws Exception {
        RunContext run = runs.begin("src-a", "jdbc", "manual");
        commitBatch(runs, run, 20);
        proxy.cut();

        new io.syncwarden.heal.RunFailures(runs).fail(failing(run, new java.net.SocketTimeoutException("Read timed out")));

        assertThat(counted("syncwarden.runs", "failed")).isEqualTo(1);
        assertThat(runs.pendingRecords()).as("the failure and the close").isEqualTo(2);
        restore();
        runs.writePending();
        assertThat(record(run.runId())).containsEntry("status", "failed").containsEntry("error_class", "recoverable")
                .containsEntry("read", 20L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE run_id = " + run.runId())).isEqualTo(1);
        assertThat(count("SELECT consecutive_failures FROM syncwarden.source_health WHERE source_id = 'src-a'")).isEqualTo(1);
    }

    @Test
    void should_count_a_run_that_could_not_begin_and_log_it_when_the_database_is_back() throws Exception {
        proxy.cut();
        assertThatThrownBy(() -> runs.begin("src-a", "jdbc", "schedule")).isInstanceOf(SQLException.class);
        Exchange exchange = failing(null, new SQLException("Connection is not available", "08001"));
        exchange.getExchangeExtension().setFromRouteId("src-a");

        new io.syncwarden.heal.RunFailures(runs).fail(exchange);

        assertThat(counted("syncwarden.runs", "failed")).isEqualTo(1);
        assertThat(runs.lastOutcome("src-a").status()).isEqualTo("failed");
        restore();
        runs.writePending();
        assertThat(count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE source_id = 'src-a' AND run_id IS NULL")).isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run")).as("no run was opened").isZero();
    }

    @Test
    void should_keep_the_record_of_a_run_taken_over_after_its_node_died() throws Exception {
        RunContext crashed = runs.begin("src-a", "jdbc", "schedule");
        crashed.mode("incremental");
        commitBatch(runs, crashed, 300);
        commitBatch(runs, crashed, 200);
        expireLease("src-a"); // its node died: no heartbeat renews the lease any more

        SyncRuns other = node("node-b");
        RunContext next = other.begin("src-a", "jdbc", "schedule");

        assertThat(next).isNotNull();
        assertThat(record(crashed.runId())).containsEntry("status", "abandoned").containsEntry("read", 500L)
                .containsEntry("inserted", 500L).containsEntry("mode", "incremental");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE run_id = " + crashed.runId()
                + " AND error_class = 'abandoned'")).isEqualTo(1);
        assertThat(counted("syncwarden.runs", "abandoned")).isEqualTo(1);
        assertThatThrownBy(() -> commitBatch(runs, crashed, 10)).as("the old run writes nothing more").isInstanceOf(LeaseLostException.class);
        other.stop();
    }

    @Test
    void should_close_its_own_left_over_runs_at_start_up_without_waiting_for_the_lease() throws Exception {
        RunContext left = runs.begin("src-a", "jdbc", "schedule");
        commitBatch(runs, left, 42);

        SyncRuns restarted = node("node-a");
        restarted.start();
        RunContext next = restarted.begin("src-a", "jdbc", "startup");

        assertThat(next).as("not refused for the lease time").isNotNull();
        assertThat(record(left.runId())).containsEntry("status", "abandoned").containsEntry("read", 42L);
        restarted.stop();
    }

    @Test
    void should_mark_a_run_interrupted_and_release_its_lock_when_the_service_stops() throws Exception {
        RunContext run = runs.begin("src-a", "jdbc", "schedule");
        commitBatch(runs, run, 70);

        runs.stop(); // the run never reaches a batch boundary within the grace period

        assertThat(record(run.runId())).containsEntry("status", "interrupted").containsEntry("read", 70L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock")).isZero();
        assertThat(runs.begin("src-a", "jdbc", "schedule")).as("a stopping service starts no run").isNull();
        assertThatThrownBy(() -> commitBatch(runs, run, 5)).isInstanceOf(LeaseLostException.class);
        runs = node("node-a");
        runs.start();
        assertThat(runs.begin("src-a", "jdbc", "startup")).as("a restarted service is not refused").isNotNull();
    }

    @Test
    void should_renew_the_lease_on_a_timer_while_the_run_lives() throws Exception {
        RunContext run = runs.begin("src-a", "jdbc", "schedule");
        OffsetDateTime first = leaseUntil("src-a");

        // no batch commits: only the lease keeper can move the lease on
        await("lease renewed").atMost(Duration.ofSeconds(10)).until(() -> leaseUntil("src-a").isAfter(first.plusNanos(LEASE_MS * 250_000)));

        SyncRuns other = node("node-b");
        assertThat(other.begin("src-a", "jdbc", "schedule")).as("the live run keeps its source").isNull();
        runs.complete(run);
        other.stop();
    }

    private OffsetDateTime leaseUntil(String source) throws SQLException {
        try (Connection c = direct(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT lease_until FROM syncwarden.source_lock WHERE source_id = '" + source + "'")) {
            assertThat(rs.next()).isTrue();
            return rs.getObject(1, OffsetDateTime.class);
        }
    }
}
