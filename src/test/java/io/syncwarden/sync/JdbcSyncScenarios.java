package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.syncwarden.SyncwardenTestSupport;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The jdbc source end to end: the real application (routes from routes/ plus test sources from a test routes
 * file), a real replica database and a real target database. Subclasses supply H2 or PostgreSQL.
 */
abstract class JdbcSyncScenarios extends SyncwardenTestSupport {
    static final int ROWS = 300;

    /** JDBC URL, user, password of a fresh replica and a fresh target database for one test. */
    record Databases(String replicaUrl, String targetUrl, String user, String password) {
    }

    private Databases dbs;

    abstract Databases newDatabases() throws Exception;

    /** Creates the SQL function sw_gate(id) the test sources call per row. */
    abstract void installGate(Connection replica) throws SQLException;

    /** Makes the replica fail at rows with id >= the given one. */
    abstract void failReadsFrom(Connection replica, long id) throws SQLException;

    /** Makes the replica stall at rows with id >= the given one until {@link #unblock()}. */
    abstract void blockReadsFrom(Connection replica, long id) throws SQLException;

    abstract void unblock() throws SQLException;

    abstract void clearFaults(Connection replica) throws SQLException;

    @Override
    protected Properties useOverridePropertiesWithPropertiesComponent() {
        try {
            dbs = newDatabases();
            try (Connection replica = replica()) {
                seedReplica(replica);
                installGate(replica);
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        Properties p = bootProperties("test-jdbc-sources.camel.yaml", dbs.targetUrl(), dbs.user(), dbs.password());
        p.put("syncwarden.retry.max-redeliveries", "1");
        p.put("test.replica.url", dbs.replicaUrl());
        p.put("test.replica.username", dbs.user());
        p.put("test.replica.password", dbs.password());
        return p;
    }

    @AfterEach
    void releaseGate() throws SQLException {
        unblock();
        Gate.reset();
    }

    Connection replica() throws SQLException {
        return DriverManager.getConnection(dbs.replicaUrl(), dbs.user(), dbs.password());
    }

    Connection target() throws SQLException {
        return DriverManager.getConnection(dbs.targetUrl(), dbs.user(), dbs.password());
    }

    private static void seedReplica(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE src_leads (id BIGINT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), "
                    + "email VARCHAR(120), company VARCHAR(120), amount NUMERIC(12, 2), status VARCHAR(20), updated_at TIMESTAMP NOT NULL)");
            // replicas index their watermark, so an incremental read streams instead of sorting everything first
            s.execute("CREATE INDEX ix_src_leads_wm ON src_leads (updated_at, id)");
            s.execute("CREATE TABLE src_messy (id INTEGER, email VARCHAR(200), qty VARCHAR(20))");
            s.execute("INSERT INTO src_messy VALUES (1, 'a@x.io', '5'), (NULL, 'nokey@x.io', '1'), "
                    + "(3, 'this-address-is-far-too-long@example.com', '2'), (4, 'd@x.io', 'abc'), (5, 'e@x.io', '7'), "
                    + "(6, 'f@x.io', '8'), (7, 'g@x.io', '-3'), (8, 'h@x.io', ' 9 ')");
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO src_leads VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            LocalDateTime base = LocalDateTime.of(2026, 1, 1, 8, 0);
            for (int i = 1; i <= ROWS; i++) {
                ps.setLong(1, i);
                ps.setString(2, i % 11 == 0 ? "Zoë" : "First" + i);
                ps.setString(3, i % 13 == 0 ? "Nguyễn 李" : "Last" + i);
                ps.setString(4, "lead" + i + "@example.com");
                ps.setString(5, i % 5 == 0 ? null : "Company " + (i % 17));
                ps.setBigDecimal(6, new BigDecimal(i * 7 % 1000 + ".25"));
                ps.setString(7, "new");
                // groups of 7 rows share one updated_at, so batch edges fall inside ties of the watermark
                ps.setTimestamp(8, Timestamp.valueOf(base.plusMinutes(i / 7)));
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    static List<String> rows(Connection c, String table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, first_name, last_name, email, company, amount, status, updated_at FROM "
                     + table + " ORDER BY id")) {
            while (rs.next()) {
                StringBuilder sb = new StringBuilder();
                for (int i = 1; i <= 8; i++) {
                    Object v = rs.getObject(i);
                    sb.append(v instanceof BigDecimal bd ? bd.stripTrailingZeros().toPlainString() : String.valueOf(v)).append('|');
                }
                out.add(sb.toString());
            }
        }
        return out;
    }

    Map<String, Object> run(long runId) throws SQLException {
        try (Connection c = target(); PreparedStatement ps = c.prepareStatement("SELECT status, rows_read, rows_inserted, "
                + "rows_updated, rows_unchanged, rows_rejected, resumed_from, error_message FROM sync_run WHERE run_id = ?")) {
            ps.setLong(1, runId);
            try (ResultSet rs = ps.executeQuery()) {
                assertThat(rs.next()).as("run %s recorded", runId).isTrue();
                java.util.HashMap<String, Object> m = new java.util.HashMap<>();
                m.put("status", rs.getString(1));
                m.put("read", rs.getLong(2));
                m.put("inserted", rs.getLong(3));
                m.put("updated", rs.getLong(4));
                m.put("unchanged", rs.getLong(5));
                m.put("rejected", rs.getLong(6));
                m.put("resumed_from", rs.getString(7));
                m.put("error", rs.getString(8));
                return m;
            }
        }
    }

    private void touch(Connection replica, String sql) throws SQLException {
        try (Statement s = replica.createStatement()) {
            s.executeUpdate(sql);
        }
    }

    @Test
    void should_look_a_record_up_in_the_replica_by_email_or_name() throws Exception {
        io.syncwarden.source.SourceLookup lookup = context.getRegistry().lookupByNameAndType("sourceLookup", io.syncwarden.source.SourceLookup.class);

        List<Map<String, Object>> byEmail = lookup.findIn("it-full", " LEAD42@Example.com ");
        List<Map<String, Object>> byName = lookup.findIn("it-full", "nguyễn 李");

        assertThat(byEmail).singleElement().satisfies(r -> assertThat(((Number) r.get("id")).longValue()).isEqualTo(42L));
        assertThat(byName).hasSize(ROWS / 13).allSatisfy(r -> assertThat(r).containsEntry("last_name", "Nguyễn 李"));
        assertThat(lookup.findIn("it-full", "nobody@example.com")).isEmpty();
        // the lookup asks the upstream, not the target: nothing was synced yet
        assertThat(lookup.find("lead7@example.com")).containsKey("it-full")
                .satisfies(all -> assertThat((List<?>) all.get("it-full")).hasSize(1));
    }

    @Test
    void should_copy_every_row_on_a_full_sync() throws Exception {
        SyncTrigger.Result result = fire("it-full");

        assertThat(result.status()).as("run status, error: %s", result.error()).isEqualTo("success");
        assertThat(run(result.runId())).containsEntry("read", (long) ROWS).containsEntry("inserted", (long) ROWS)
                .containsEntry("updated", 0L).containsEntry("rejected", 0L);
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).hasSize(ROWS).isEqualTo(rows(r, "src_leads"));
        }
        try (Connection t = target(); Statement s = t.createStatement();
             ResultSet rs = s.executeQuery("SELECT status, consecutive_failures, last_row_count FROM source_health WHERE source_id = 'it-full'")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("healthy");
            assertThat(rs.getLong(3)).isEqualTo(ROWS);
        }
    }

    @Test
    void should_update_changed_rows_and_count_unchanged_ones() throws Exception {
        assertThat(fire("it-full").status()).isEqualTo("success");
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET status = 'won', amount = amount + 1 WHERE id IN (3, 60, 61, 150, 299)");
            touch(r, "INSERT INTO src_leads VALUES (1001, 'New', 'Lead', 'new@example.com', NULL, 1.50, 'new', TIMESTAMP '2026-02-01 10:00:00')");
        }

        SyncTrigger.Result second = fire("it-full");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("read", (long) ROWS + 1)
                .containsEntry("inserted", 1L).containsEntry("updated", 5L).containsEntry("unchanged", (long) ROWS - 5);
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).isEqualTo(rows(r, "src_leads"));
        }
    }

    @Test
    void should_read_only_rows_changed_since_the_watermark() throws Exception {
        SyncTrigger.Result first = fire("it-incremental");
        assertThat(run(first.runId())).containsEntry("read", (long) ROWS).containsEntry("inserted", (long) ROWS);
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET status = 'contacted', updated_at = TIMESTAMP '2026-03-01 09:00:00' WHERE id IN (5, 6, 7, 100, 200, 201, 250)");
            touch(r, "INSERT INTO src_leads VALUES (2001, 'A', 'B', 'a@example.com', NULL, 2.00, 'new', TIMESTAMP '2026-03-01 09:00:00'), "
                    + "(2002, 'C', 'D', 'c@example.com', NULL, 3.00, 'new', TIMESTAMP '2026-03-01 09:00:00'), "
                    + "(2003, 'E', 'F', 'e@example.com', NULL, 4.00, 'new', TIMESTAMP '2026-03-02 09:00:00')");
        }

        SyncTrigger.Result second = fire("it-incremental");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("read", 10L)
                .containsEntry("inserted", 3L).containsEntry("updated", 7L);
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_incr")).isEqualTo(rows(r, "src_leads"));
        }
        assertThat(run(fire("it-incremental").runId())).as("nothing changed since").containsEntry("read", 0L)
                .containsEntry("status", "success");
    }

    @Test
    void should_refuse_a_second_trigger_while_a_run_holds_the_lock() throws Exception {
        try (Connection r = replica()) {
            blockReadsFrom(r, 120);
        }
        CompletableFuture<SyncTrigger.Result> first = CompletableFuture.supplyAsync(() -> {
            try {
                return fire("it-full");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await("first run is running").atMost(Duration.ofSeconds(30)).until(() -> runningRuns("it-full") == 1);

        SyncTrigger.Result second = fire("it-full");

        assertThat(second.status()).isEqualTo("refused");
        unblock();
        assertThat(first.get().status()).isEqualTo("success");
        try (Connection t = target(); Statement s = t.createStatement();
             ResultSet rs = s.executeQuery("SELECT status, error_message FROM sync_run WHERE source_id = 'it-full' ORDER BY run_id")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("success");
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("refused");
            assertThat(rs.getString(2)).contains("holds the lock");
            assertThat(rs.next()).isFalse();
        }
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).isEqualTo(rows(r, "src_leads"));
        }
    }

    private long runningRuns(String source) throws SQLException {
        try (Connection t = target(); Statement s = t.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM sync_run WHERE status = 'running' AND source_id = '" + source + "'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void should_resume_an_interrupted_run_from_its_checkpoint() throws Exception {
        try (Connection r = replica()) {
            failReadsFrom(r, 178);
        }
        SyncTrigger.Result broken = fire("it-full");
        assertThat(broken.status()).isEqualTo("failed");
        Map<String, Object> failed = run(broken.runId());
        assertThat(failed).containsEntry("status", "failed");
        assertThat((String) failed.get("error")).contains("injected at row");
        long committed;
        try (Connection t = target(); Statement s = t.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM leads_full")) {
            rs.next();
            committed = rs.getLong(1);
        }
        assertThat(committed).as("whole batches before the failure were kept").isEqualTo(150);

        try (Connection r = replica()) {
            clearFaults(r);
        }
        SyncTrigger.Result resumed = fire("it-full");

        Map<String, Object> run = run(resumed.runId());
        assertThat(run).containsEntry("status", "success").containsEntry("read", ROWS - committed)
                .containsEntry("inserted", ROWS - committed).containsEntry("updated", 0L);
        assertThat((String) run.get("resumed_from")).isNotBlank();
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).hasSize(ROWS).isEqualTo(rows(r, "src_leads"));
        }
    }

    @Test
    void should_reject_bad_rows_with_their_reason_and_write_the_others() throws Exception {
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE TABLE messy (id INTEGER PRIMARY KEY, email VARCHAR(20), qty INTEGER CHECK (qty >= 0), synced_at TIMESTAMP)");
        }

        SyncTrigger.Result result = fire("it-bad-rows");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("read", 8L)
                .containsEntry("inserted", 4L).containsEntry("rejected", 4L);
        try (Connection t = target(); Statement s = t.createStatement()) {
            List<String> kept = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT id, qty FROM messy ORDER BY id")) {
                while (rs.next()) {
                    kept.add(rs.getInt(1) + ":" + rs.getInt(2));
                }
            }
            assertThat(kept).containsExactly("1:5", "5:7", "6:8", "8:9");
            Map<String, String> reasons = new java.util.TreeMap<>();
            try (ResultSet rs = s.executeQuery("SELECT row_key, reason, row_position, run_id FROM rejected_row WHERE source_id = 'it-bad-rows'")) {
                while (rs.next()) {
                    reasons.put(rs.getString(1), rs.getString(2));
                    assertThat(rs.getLong(3)).isBetween(1L, 8L);
                    assertThat(rs.getLong(4)).isEqualTo(result.runId());
                }
            }
            assertThat(reasons).hasSize(4);
            assertThat(reasons.get("null")).contains("key column id is empty");
            assertThat(reasons.get("3")).contains("value too long for column email");
            assertThat(reasons.get("4")).contains("type mismatch: column qty expects INTEGER, got 'abc'");
            assertThat(reasons.get("7")).contains("database refused the row");
        }
    }
}
