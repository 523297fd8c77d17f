package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.syncwarden.SyncwardenTestSupport;
import io.syncwarden.heal.Breakers;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The target PostgreSQL stopped in the middle of a run (a server of its own, stopped and started again on the same
 * data directory and port): the run fails, the target database's circuit breaker opens, what the run could not
 * record is written when the database is back, and the retry queue finishes the work: the target equals the source
 * row by row, without a duplicate.
 */
class PostgresTargetOutageTest extends SyncwardenTestSupport {
    private static final int ROWS = 300;
    private Path dataDir;
    private int port;
    private EmbeddedPostgres server;
    private String replicaUrl;

    @Override
    protected Properties useOverridePropertiesWithPropertiesComponent() {
        try {
            dataDir = Files.createTempDirectory("sw-target-pg");
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            server = start();
            try (Connection c = server.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                s.execute("CREATE DATABASE target");
            }
            replicaUrl = "jdbc:h2:mem:replica-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1;LAZY_QUERY_EXECUTION=TRUE";
            seedReplica();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        Properties p = bootProperties("test-jdbc-sources.camel.yaml", targetUrl(), "postgres", "postgres");
        p.put("test.replica.url", replicaUrl);
        p.put("test.replica.username", "sa");
        p.put("test.replica.password", "");
        p.put("syncwarden.db.connect-timeout-ms", "1000");
        p.put("syncwarden.db.breaker.failures", "3");
        p.put("syncwarden.db.breaker.open-ms", "1000");
        p.put("syncwarden.runs.pending-retry-ms", "200");
        p.put("syncwarden.retry.max-redeliveries", "3");
        return p;
    }

    private EmbeddedPostgres start() throws IOException {
        return EmbeddedPostgres.builder().setDataDirectory(dataDir).setCleanDataDirectory(false).setPort(port).start();
    }

    private String targetUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/target";
    }

    private void seedReplica() throws SQLException {
        try (Connection c = DriverManager.getConnection(replicaUrl, "sa", ""); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE src_leads (id BIGINT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), "
                    + "email VARCHAR(120), company VARCHAR(120), amount NUMERIC(12, 2), status VARCHAR(20), updated_at TIMESTAMP NOT NULL)");
            s.execute("CREATE ALIAS sw_gate FOR 'io.syncwarden.sync.Gate.gate'");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO src_leads VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (int i = 1; i <= ROWS; i++) {
                    ps.setLong(1, i);
                    ps.setString(2, "First" + i);
                    ps.setString(3, "Last" + i);
                    ps.setString(4, "lead" + i + "@example.com");
                    ps.setString(5, "Company " + (i % 17));
                    ps.setBigDecimal(6, new java.math.BigDecimal(i + ".25"));
                    ps.setString(7, i % 3 == 0 ? "won" : "open");
                    ps.setObject(8, LocalDateTime.of(2026, 1, 1, 8, 0).plusMinutes(i));
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        }
    }

    @AfterEach
    void stopServer() throws IOException {
        Gate.reset();
        if (server != null) {
            server.close();
        }
    }

    private Connection target() throws SQLException {
        return DriverManager.getConnection(targetUrl(), "postgres", "postgres");
    }

    private String text(String sql) throws SQLException {
        try (Connection c = target(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private CircuitBreaker targetBreaker() {
        return context.getRegistry().findSingleByType(Breakers.class).registry().find(Breakers.TARGET).orElseThrow();
    }

    @Test
    void should_open_the_target_breaker_and_let_the_queue_finish_the_run_after_the_database_is_back() throws Exception {
        // the third batch of 50 waits inside its transaction (a trigger on the checkpoint) while the database stops
        Connection holder = target();
        try (Statement s = holder.createStatement()) {
            s.execute("SELECT pg_advisory_lock(4343)");
        }
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE FUNCTION checkpoint_gate() RETURNS trigger AS $$ BEGIN IF NEW.rows_done >= 150 THEN "
                    + "PERFORM pg_advisory_lock_shared(4343); PERFORM pg_advisory_unlock_shared(4343); END IF; RETURN NEW; END $$ "
                    + "LANGUAGE plpgsql");
            s.execute("CREATE TRIGGER checkpoint_gate BEFORE INSERT OR UPDATE ON syncwarden.sync_checkpoint FOR EACH ROW "
                    + "EXECUTE FUNCTION checkpoint_gate()");
        }
        CompletableFuture<SyncTrigger.Result> running = CompletableFuture.supplyAsync(() -> {
            try {
                return fire("it-full", "schedule");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(30)).until(() -> "100".equals(text("SELECT COUNT(*) FROM leads_full")));

        server.close(); // the target stops in the middle of the run
        server = null;

        SyncTrigger.Result failed = running.get(60, TimeUnit.SECONDS);
        assertThat(failed.status()).isEqualTo("failed");
        assertThat(targetBreaker().getState()).isIn(CircuitBreaker.State.OPEN, CircuitBreaker.State.HALF_OPEN);
        assertThat(HealthCheckHelper.invokeReadiness(context, "full"))
                .filteredOn(r -> r.getCheck().getId().equals("target-database")).singleElement()
                .satisfies(r -> assertThat(r.getState()).isEqualTo(HealthCheck.State.DOWN));

        server = start(); // and comes back
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("DROP TRIGGER checkpoint_gate ON syncwarden.sync_checkpoint");
        }

        // what the run could not record (its close, its retry entry) is written once the breaker lets a call through
        await().atMost(Duration.ofSeconds(30)).until(() -> "pending".equals(text("SELECT status FROM syncwarden.retry_queue")));
        assertThat(text("SELECT status FROM syncwarden.sync_run WHERE run_id = " + failed.runId())).isEqualTo("failed");
        assertThat(targetBreaker().getState()).isEqualTo(CircuitBreaker.State.CLOSED);

        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE syncwarden.retry_queue SET next_retry_at = CURRENT_TIMESTAMP - INTERVAL '1' SECOND");
        }
        fire("retry-queue", "schedule");

        await().atMost(Duration.ofSeconds(30)).until(() -> "done".equals(text("SELECT status FROM syncwarden.retry_queue")));
        assertThat(text("SELECT COUNT(*) - COUNT(DISTINCT id) FROM leads_full")).isEqualTo("0");
        try (Connection r = DriverManager.getConnection(replicaUrl, "sa", ""); Connection t = target()) {
            assertThat(JdbcSyncScenarios.rows(t, "leads_full")).hasSize(ROWS).isEqualTo(JdbcSyncScenarios.rows(r, "src_leads"));
        }
    }
}
