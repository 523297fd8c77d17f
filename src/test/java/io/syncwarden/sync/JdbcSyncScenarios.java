package io.syncwarden.sync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.syncwarden.SyncwardenTestSupport;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Duration;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The jdbc source end to end: the real application (routes from routes/ plus test sources from a test routes
 * file), a real replica database and a real target database. Subclasses supply H2 or PostgreSQL.
 */
abstract class JdbcSyncScenarios extends SyncwardenTestSupport {
    static final int ROWS = 300;
    static final LocalDateTime BASE = LocalDateTime.of(2026, 1, 1, 8, 0);

    /** JDBC URL, user, password of a fresh replica and a fresh target database for one test. */
    record Databases(String replicaUrl, String targetUrl, String user, String password) {
    }

    private Databases dbs;

    abstract Databases newDatabases() throws Exception;

    /** Creates the SQL function sw_gate(id) the test sources call per row. */
    abstract void installGate(Connection replica) throws SQLException;

    /** Makes the run fail (as a lost target connection) once its checkpoint would pass the given row count. */
    abstract void failReadsFrom(Connection replica, long id) throws SQLException;

    /** Makes the replica stall at rows with id >= the given one until {@link #unblock()}. */
    abstract void blockReadsFrom(Connection replica, long id) throws SQLException;

    abstract void unblock() throws SQLException;

    abstract void clearFaults(Connection replica) throws SQLException;

    /** Makes the batch whose checkpoint would pass the given row count wait, inside its transaction, for {@link #unblockCheckpoint}. */
    abstract void blockCheckpointFrom(long rowsDone) throws SQLException;

    abstract void unblockCheckpoint() throws SQLException;

    /** Makes the next insert into source_lock fail once, as a lost connection would, inside begin's transaction. */
    abstract void failNextLockInsert() throws SQLException;

    /** The SQL type of an enumerated column (creating the type first where the database needs that). */
    abstract String enumType(Connection replica) throws SQLException;

    @Override
    protected Properties useOverridePropertiesWithPropertiesComponent() {
        try {
            dbs = newDatabases();
            try (Connection replica = replica()) {
                seedReplica(replica, enumType(replica));
                installGate(replica);
            }
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        Properties p = bootProperties("test-jdbc-sources.camel.yaml", dbs.targetUrl(), dbs.user(), dbs.password());
        p.put("syncwarden.retry.max-redeliveries", "1");
        p.put("syncwarden.db.lock-timeout-ms", "500");
        p.put("syncwarden.shutdown.grace-ms", "1000");
        p.put("syncwarden.health.long-run-min-ms", "100");
        p.put("test.replica.url", dbs.replicaUrl());
        p.put("test.replica.username", dbs.user());
        p.put("test.replica.password", dbs.password());
        return p;
    }

    @AfterEach
    void releaseGate() throws SQLException {
        unblock();
        unblockCheckpoint();
        Gate.reset();
    }

    Connection replica() throws SQLException {
        return DriverManager.getConnection(dbs.replicaUrl(), dbs.user(), dbs.password());
    }

    Connection target() throws SQLException {
        return DriverManager.getConnection(dbs.targetUrl(), dbs.user(), dbs.password());
    }

    private static void seedReplica(Connection c, String enumType) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE src_leads (id BIGINT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), "
                    + "email VARCHAR(120), company VARCHAR(120), amount NUMERIC(12, 2), status VARCHAR(20), updated_at TIMESTAMP NOT NULL)");
            // replicas index their watermark, so an incremental read streams instead of sorting everything first
            s.execute("CREATE INDEX ix_src_leads_wm ON src_leads (updated_at, id)");
            s.execute("CREATE TABLE src_messy (id INTEGER, email VARCHAR(200), qty VARCHAR(20))");
            s.execute("INSERT INTO src_messy VALUES (1, 'a@x.io', '5'), (NULL, 'nokey@x.io', '1'), "
                    + "(3, 'this-address-is-far-too-long@example.com', '2'), (4, 'd@x.io', 'abc'), (5, 'e@x.io', '7'), "
                    + "(6, 'f@x.io', '8'), (7, 'g@x.io', '-3'), (8, 'h@x.io', ' 9 ')");
            s.execute("CREATE TABLE src_types (\"key\" VARCHAR(10) PRIMARY KEY, code CHAR(3), label VARCHAR(10), amount NUMERIC(12, 4), "
                    + "at_time TIME(3), at_ts TIMESTAMP(9), at_tz TIMESTAMP WITH TIME ZONE, uid UUID, flag BOOLEAN, on_day DATE, "
                    + "bin BYTEA, \"value\" VARCHAR(20), \"order\" INTEGER, \"user\" VARCHAR(20))");
            s.execute("CREATE TABLE src_nullwm (id BIGINT PRIMARY KEY, name VARCHAR(40), updated_at TIMESTAMP)");
            s.execute("CREATE TABLE src_ties (id BIGINT PRIMARY KEY, name VARCHAR(40), updated_at TIMESTAMP NOT NULL)");
            s.execute("CREATE TABLE src_keys (kind " + enumType + " NOT NULL, id UUID NOT NULL, name VARCHAR(40), version VARCHAR(20) NOT NULL, "
                    + "PRIMARY KEY (kind, id))");
            s.execute("CREATE TABLE src_allbad (id INTEGER, email VARCHAR(40))");
            s.execute("INSERT INTO src_allbad VALUES (NULL, 'a@x.io'), (NULL, 'b@x.io'), (NULL, 'c@x.io'), (NULL, 'd@x.io'), (NULL, 'e@x.io')");
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO src_leads VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (int i = 1; i <= ROWS; i++) {
                ps.setLong(1, i);
                ps.setString(2, i % 11 == 0 ? "Zoë" : "First" + i);
                ps.setString(3, i % 13 == 0 ? "Nguyễn 李" : "Last" + i);
                ps.setString(4, "lead" + i + "@example.com");
                ps.setString(5, i % 5 == 0 ? null : "Company " + (i % 17));
                ps.setBigDecimal(6, new BigDecimal(i * 7 % 1000 + ".25"));
                ps.setString(7, "new");
                // groups of 7 rows share one updated_at, so batch edges fall inside ties of the watermark
                ps.setTimestamp(8, Timestamp.valueOf(BASE.plusMinutes(i / 7)));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO src_types VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (int i = 1; i <= 7; i++) {
                ps.setString(1, "k" + i);
                ps.setString(2, i % 2 == 0 ? "EUR" : "US");
                ps.setString(3, i == 3 ? null : "label " + i);
                ps.setBigDecimal(4, new BigDecimal("1234.5" + i));
                ps.setObject(5, LocalTime.of(10, 11, 12, i * 111_000_000));
                ps.setObject(6, LocalDateTime.of(2026, 3, 29, 2, 30, 5, 123_456_000 + i));
                ps.setObject(7, OffsetDateTime.parse("2026-01-02T03:04:05.5+05:30").plusHours(i));
                ps.setObject(8, i == 4 ? null : UUID.nameUUIDFromBytes(("u" + i).getBytes()));
                ps.setObject(9, i % 3 == 0);
                ps.setObject(10, LocalDate.of(2026, 2, i));
                ps.setBytes(11, new byte[] {(byte) i, 0, (byte) 0xff});
                ps.setString(12, "value " + i);
                ps.setInt(13, i * 10);
                ps.setString(14, "user" + i);
                ps.addBatch();
            }
            ps.executeBatch();
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO src_nullwm VALUES (?, ?, ?)")) {
            for (int i = 1; i <= 30; i++) {
                ps.setLong(1, i);
                ps.setString(2, "n" + i);
                ps.setObject(3, i % 3 == 0 ? null : BASE.plusMinutes(i));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO src_ties VALUES (?, ?, ?)")) {
            for (int i = 1; i <= 520; i++) {
                ps.setLong(1, i);
                ps.setString(2, "t" + i);
                // 500 rows share one updated_at; a run killed among them must resume inside the tie
                ps.setObject(3, i <= 500 ? BASE : BASE.plusMinutes(i));
                ps.addBatch();
            }
            ps.executeBatch();
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO src_keys VALUES (CAST(? AS " + enumType + "), ?, ?, ?)")) {
            String[] kinds = {"alpha", "beta", "gamma"};
            for (int i = 1; i <= 45; i++) {
                ps.setString(1, kinds[i % 3]);
                ps.setObject(2, UUID.nameUUIDFromBytes(("key" + i).getBytes()));
                ps.setString(3, "name" + i);
                ps.setString(4, String.format("v%03d", i % 9));
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    static List<String> rows(Connection c, String table) throws SQLException {
        return query(c, "SELECT id, first_name, last_name, email, company, amount, status, updated_at FROM " + table + " ORDER BY id");
    }

    /** Every row of a query as text, each value in a form that keeps its type's precision. */
    static List<String> query(Connection c, String sql) throws SQLException {
        return query(c, sql, Integer.MAX_VALUE);
    }

    /** The first {@code columns} columns of every row of a query. */
    static List<String> query(Connection c, String sql, int columns) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            ResultSetMetaData md = rs.getMetaData();
            while (rs.next()) {
                StringBuilder sb = new StringBuilder();
                for (int i = 1; i <= Math.min(columns, md.getColumnCount()); i++) {
                    sb.append(exact(rs, i, md.getColumnType(i), md.getColumnTypeName(i))).append('|');
                }
                out.add(sb.toString());
            }
        }
        return out;
    }

    private static String exact(ResultSet rs, int i, int type, String typeName) throws SQLException {
        Object v;
        if (type == Types.TIMESTAMP_WITH_TIMEZONE || "timestamptz".equalsIgnoreCase(typeName)) {
            OffsetDateTime t = rs.getObject(i, OffsetDateTime.class);
            v = t == null ? null : t.toInstant(); // the instant; H2 also keeps the offset, PostgreSQL normalises it
        } else if (type == Types.TIMESTAMP) {
            v = rs.getObject(i, LocalDateTime.class);
        } else if (type == Types.TIME) {
            v = rs.getObject(i, LocalTime.class);
        } else if (type == Types.DATE) {
            v = rs.getObject(i, LocalDate.class);
        } else {
            v = rs.getObject(i);
        }
        if (v instanceof BigDecimal bd) {
            return bd.stripTrailingZeros().toPlainString();
        }
        if (v instanceof byte[] b) {
            return HexFormat.of().formatHex(b);
        }
        return String.valueOf(v);
    }

    Map<String, Object> run(long runId) throws SQLException {
        try (Connection c = target(); PreparedStatement ps = c.prepareStatement("SELECT status, rows_read, rows_inserted, "
                + "rows_updated, rows_unchanged, rows_rejected, resumed_from, error_message, attempts, refused_triggers, error_class, "
                + "rows_deleted FROM syncwarden.sync_run WHERE run_id = ?")) {
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
                m.put("attempts", rs.getInt(9));
                m.put("refused_triggers", rs.getInt(10));
                m.put("error_class", rs.getString(11));
                m.put("deleted", rs.getLong(12));
                return m;
            }
        }
    }

    long count(String sql) throws SQLException {
        try (Connection t = target(); Statement s = t.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    String text(String sql) throws SQLException {
        try (Connection t = target(); Statement s = t.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private List<String> checkpoint(String source) throws SQLException {
        return query(target(), "SELECT cursor_value, phase, rows_done, run_id FROM syncwarden.sync_checkpoint WHERE source_id = '" + source + "'");
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
                .containsEntry("updated", 0L).containsEntry("rejected", 0L).containsEntry("attempts", 1);
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).hasSize(ROWS).isEqualTo(rows(r, "src_leads"));
        }
        try (Connection t = target(); Statement s = t.createStatement();
             ResultSet rs = s.executeQuery("SELECT status, consecutive_failures, last_row_count FROM syncwarden.source_health WHERE source_id = 'it-full'")) {
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
    void should_keep_every_value_exactly_and_find_a_second_run_unchanged() throws Exception {

        SyncTrigger.Result first = fire("it-types");
        SyncTrigger.Result second = fire("it-types");

        assertThat(run(first.runId())).as("first run, error %s", first.error()).containsEntry("status", "success").containsEntry("inserted", 7L);
        assertThat(run(second.runId())).as("a re-sync of unchanged rows changes nothing").containsEntry("status", "success")
                .containsEntry("read", 7L).containsEntry("unchanged", 7L).containsEntry("updated", 0L);
        try (Connection r = replica(); Connection t = target()) {
            // the target has the source's 14 columns in the source's order (then synced_at); key values sort alike
            List<String> source = query(r, "SELECT * FROM src_types ORDER BY 1", 14);
            assertThat(source).hasSize(7);
            assertThat(query(t, "SELECT * FROM types_copy ORDER BY 1", 14)).isEqualTo(source);
            assertThat(source.get(1)).contains("|EUR|"); // CHAR(3) kept whole, not cut to its first character
            try (ResultSet rs = t.getMetaData().getColumns(null, null, "%", null)) {
                boolean zoned = false;
                while (rs.next()) {
                    if (rs.getString("TABLE_NAME").equalsIgnoreCase("types_copy") && rs.getString("COLUMN_NAME").equalsIgnoreCase("at_tz")) {
                        zoned = rs.getInt("DATA_TYPE") == Types.TIMESTAMP_WITH_TIMEZONE || "timestamptz".equals(rs.getString("TYPE_NAME"));
                    }
                }
                assertThat(zoned).as("the created target keeps the time zone of at_tz").isTrue();
            }
        }
    }

    @Test
    void should_read_only_rows_changed_since_the_watermark_less_the_lookback() throws Exception {
        SyncTrigger.Result first = fire("it-incremental");
        assertThat(run(first.runId())).containsEntry("read", (long) ROWS).containsEntry("inserted", (long) ROWS);
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET status = 'contacted', updated_at = TIMESTAMP '2026-03-01 09:00:00' WHERE id IN (5, 6, 7, 100, 200, 201, 250)");
            touch(r, "INSERT INTO src_leads VALUES (2001, 'A', 'B', 'a@example.com', NULL, 2.00, 'new', TIMESTAMP '2026-03-01 09:00:00'), "
                    + "(2002, 'C', 'D', 'c@example.com', NULL, 3.00, 'new', TIMESTAMP '2026-03-01 09:00:00'), "
                    + "(2003, 'E', 'F', 'e@example.com', NULL, 4.00, 'new', TIMESTAMP '2026-03-02 09:00:00')");
        }

        SyncTrigger.Result second = fire("it-incremental");

        Map<String, Object> run = run(second.runId());
        assertThat(run).containsEntry("status", "success").containsEntry("inserted", 3L).containsEntry("updated", 7L);
        // besides the 10 changes, only the lookback window (the last 10 minutes before the watermark) is read again
        long overlap = (Long) run.get("read") - 10;
        assertThat(overlap).isEqualTo((Long) run.get("unchanged")).isBetween(1L, 80L);
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_incr")).isEqualTo(rows(r, "src_leads"));
        }
        assertThat(run(fire("it-incremental").runId())).as("nothing changed since").containsEntry("inserted", 0L)
                .containsEntry("updated", 0L).containsEntry("status", "success");
    }

    @Test
    void should_report_an_incremental_read_far_from_its_usual_size_once_it_is_applied() throws Exception {
        for (int i = 0; i < 6; i++) {
            assertThat(fire("it-incremental").status()).isEqualTo("success");
        }
        assertThat(count("SELECT COUNT(*) FROM syncwarden.incident")).as("the usual reads are not anomalies").isZero();
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET status = 'bulk', updated_at = TIMESTAMP '2026-04-01 09:00:00'");
        }

        SyncTrigger.Result burst = fire("it-incremental");

        assertThat(run(burst.runId())).as("applied: an incremental read is not refused").containsEntry("status", "success")
                .containsEntry("updated", (long) ROWS);
        assertThat(text("SELECT kind || ' ' || severity || ' ' || status FROM syncwarden.incident")).isEqualTo("anomaly warning open");
        assertThat(text("SELECT message FROM syncwarden.incident")).contains("read " + ROWS + " rows while the last 6 good runs");
    }

    @Test
    void should_backfill_a_date_range_through_the_same_writer_without_moving_the_checkpoint() throws Exception {
        assertThat(fire("it-incremental").status()).isEqualTo("success");
        String checkpoint = text("SELECT cursor_value FROM syncwarden.sync_checkpoint WHERE source_id = 'it-incremental'");
        try (Connection r = replica()) {
            // rows changed upstream without their watermark moving (a bulk fix): an incremental read never sees them
            touch(r, "UPDATE src_leads SET status = 'fixed' WHERE id <= 20");
            touch(r, "INSERT INTO src_leads VALUES (5001, 'Old', 'Row', 'old@example.com', NULL, 1.00, 'new', TIMESTAMP '2025-12-30 08:00:00')");
        }
        io.syncwarden.source.SyncSource source = io.syncwarden.source.SyncSource.of(context, "it-incremental");
        java.time.LocalDate day = BASE.toLocalDate();

        long estimate = source.countRange(context, day, day);
        java.util.List<Long> progress = new java.util.ArrayList<>();
        io.syncwarden.source.SyncSource.BackfillResult result = source.backfill(context, day, day, (runId, rows) -> progress.add(rows));

        assertThat(estimate).isEqualTo(ROWS);
        assertThat(result.read()).isEqualTo(ROWS);
        assertThat(result.written()).as("the 20 fixed rows").isEqualTo(20);
        assertThat(progress).last().isEqualTo((long) ROWS);
        assertThat(count("SELECT COUNT(*) FROM leads_incr WHERE status = 'fixed'")).isEqualTo(20);
        assertThat(count("SELECT COUNT(*) FROM leads_incr WHERE id = 5001")).as("outside the range").isZero();
        assertThat(run(result.runId())).containsEntry("status", "success");
        assertThat(text("SELECT run_trigger || ' ' || mode FROM syncwarden.sync_run WHERE run_id = " + result.runId()))
                .isEqualTo("backfill backfill");
        assertThat(text("SELECT cursor_value FROM syncwarden.sync_checkpoint WHERE source_id = 'it-incremental'"))
                .as("the incremental read goes on where it was").isEqualTo(checkpoint);
        assertThat(count("SELECT last_run_id FROM syncwarden.source_health WHERE source_id = 'it-incremental'"))
                .as("a backfill says nothing of the source's own sync: health stays").isNotEqualTo(result.runId());
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> io.syncwarden.source.SyncSource.of(context, "it-full")
                .countRange(context, day, day)).hasMessageContaining("full mode");
    }

    @Test
    void should_pick_up_a_row_committed_late_with_a_watermark_behind_the_last_run() throws Exception {
        assertThat(fire("it-incremental").status()).isEqualTo("success");
        // the last run saw 08:42; a transaction that began at 08:38 commits only now
        try (Connection r = replica()) {
            touch(r, "INSERT INTO src_leads VALUES (3001, 'Late', 'Commit', 'late@example.com', NULL, 9.00, 'new', TIMESTAMP '2026-01-01 08:38:00')");
        }

        SyncTrigger.Result second = fire("it-incremental");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("inserted", 1L);
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_incr")).isEqualTo(rows(r, "src_leads"));
        }
    }

    @Test
    void should_read_rows_whose_watermark_is_null_without_stalling() throws Exception {
        SyncTrigger.Result first = fire("it-nullwm");
        assertThat(run(first.runId())).containsEntry("status", "success").containsEntry("read", 30L).containsEntry("inserted", 30L);
        try (Connection r = replica()) {
            touch(r, "UPDATE src_nullwm SET name = 'renamed' WHERE id = 3");
            touch(r, "INSERT INTO src_nullwm VALUES (31, 'no watermark yet', NULL)");
            touch(r, "INSERT INTO src_nullwm VALUES (32, 'later', TIMESTAMP '2026-01-01 09:00:00')");
        }

        SyncTrigger.Result second = fire("it-nullwm");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("inserted", 2L).containsEntry("updated", 1L);
        try (Connection r = replica(); Connection t = target()) {
            String sql = "SELECT id, name, updated_at FROM %s ORDER BY id";
            assertThat(query(t, sql.formatted("nullwm_copy"))).hasSize(32).isEqualTo(query(r, sql.formatted("src_nullwm")));
        }
        try (Connection r = replica()) {
            touch(r, "INSERT INTO src_nullwm VALUES (33, 'after a null', TIMESTAMP '2026-01-01 09:30:00')");
        }
        assertThat(run(fire("it-nullwm").runId())).as("a NULL watermark never stalls the source").containsEntry("inserted", 1L);
    }

    @Test
    void should_take_a_row_read_again_in_the_changes_pass_as_its_newer_version() throws Exception {
        SyncTrigger.Result result = fire("it-both-passes");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("rejected", 0L).containsEntry("read", 31L);
        try (Connection t = target(); Statement s = t.createStatement(); ResultSet rs = s.executeQuery("SELECT name FROM both_passes WHERE id = 3")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("given a watermark meanwhile");
        }
    }

    @Test
    void should_resume_a_run_killed_inside_a_tie_of_500_equal_watermarks() throws Exception {
        try (Connection r = replica()) {
            failReadsFrom(r, 250);
        }
        SyncTrigger.Result broken = fire("it-ties");
        assertThat(broken.status()).isEqualTo("failed");
        assertThat(count("SELECT COUNT(*) FROM ties_copy")).as("two batches of 100 inside the tie were committed").isEqualTo(200);
        assertThat(run(broken.runId())).as("only committed rows are counted, once, across the retry")
                .containsEntry("read", 200L).containsEntry("inserted", 200L).containsEntry("attempts", 2);

        try (Connection r = replica()) {
            clearFaults(r);
        }
        SyncTrigger.Result resumed = fire("it-ties");

        assertThat(run(resumed.runId())).containsEntry("status", "success").containsEntry("read", 320L).containsEntry("inserted", 320L);
        assertThat((String) run(resumed.runId()).get("resumed_from")).contains("\"at\"");
        try (Connection r = replica(); Connection t = target()) {
            String sql = "SELECT id, name, updated_at FROM %s ORDER BY id";
            assertThat(query(t, sql.formatted("ties_copy"))).hasSize(520).isEqualTo(query(r, sql.formatted("src_ties")));
        }
    }

    @Test
    void should_resume_on_uuid_and_enum_keys_and_a_text_watermark() throws Exception {
        try (Connection r = replica()) {
            failReadsFrom(r, 25);
        }
        assertThat(fire("it-keys").status()).isEqualTo("failed");
        assertThat(fire("it-keys-incremental").status()).isEqualTo("failed");
        try (Connection r = replica()) {
            clearFaults(r);
        }

        SyncTrigger.Result full = fire("it-keys");
        SyncTrigger.Result incremental = fire("it-keys-incremental");

        assertThat(run(full.runId())).as("error %s", full.error()).containsEntry("status", "success").containsEntry("read", 25L);
        assertThat(run(incremental.runId())).as("error %s", incremental.error()).containsEntry("status", "success").containsEntry("read", 25L);
        try (Connection r = replica(); Connection t = target()) {
            String sql = "SELECT kind, id, name, version FROM %s ORDER BY id";
            List<String> source = query(r, sql.formatted("src_keys"));
            assertThat(query(t, sql.formatted("keys_copy"))).hasSize(45).isEqualTo(source);
            assertThat(query(t, sql.formatted("keys_incr"))).isEqualTo(source);
        }
        try (Connection r = replica()) {
            touch(r, "UPDATE src_keys SET name = 'changed', version = 'v100' WHERE name = 'name7'");
        }
        assertThat(run(fire("it-keys-incremental").runId())).containsEntry("updated", 1L);
    }

    @Test
    void should_refuse_a_second_trigger_while_a_run_holds_the_lock_and_count_it_on_the_run() throws Exception {
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
        SyncTrigger.Result third = fire("it-full");

        assertThat(second.status()).isEqualTo("refused");
        assertThat(third.status()).isEqualTo("refused");
        unblock();
        SyncTrigger.Result done = first.get();
        assertThat(done.status()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE source_id = 'it-full'")).as("no run rows for refusals").isEqualTo(1);
        assertThat(run(done.runId())).containsEntry("refused_triggers", 2);
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).isEqualTo(rows(r, "src_leads"));
        }
    }

    private long runningRuns(String source) throws SQLException {
        return count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE status = 'running' AND source_id = '" + source + "'");
    }

    @Test
    void should_resume_an_interrupted_run_from_its_checkpoint() throws Exception {
        try (Connection r = replica()) {
            failReadsFrom(r, 178);
        }
        SyncTrigger.Result broken = fire("it-full");
        assertThat(broken.status()).isEqualTo("failed");
        Map<String, Object> failed = run(broken.runId());
        assertThat(failed).containsEntry("status", "failed").containsEntry("attempts", 2).containsEntry("read", 150L)
                .containsEntry("inserted", 150L).containsEntry("resumed_from", null);
        assertThat((String) failed.get("error")).contains("injected at row");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE run_id = " + broken.runId()))
                .as("each failed attempt is on the record").isEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM leads_full")).as("whole batches before the failure were kept").isEqualTo(150);

        try (Connection r = replica()) {
            clearFaults(r);
        }
        SyncTrigger.Result resumed = fire("it-full");

        Map<String, Object> run = run(resumed.runId());
        assertThat(run).containsEntry("status", "success").containsEntry("read", (long) ROWS - 150)
                .containsEntry("inserted", (long) ROWS - 150).containsEntry("updated", 0L);
        assertThat((String) run.get("resumed_from")).isNotBlank();
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).hasSize(ROWS).isEqualTo(rows(r, "src_leads"));
        }
    }

    @Test
    void should_let_the_retry_queue_finish_a_run_that_failed_in_the_middle_without_duplicating_a_row() throws Exception {
        try (Connection r = replica()) {
            failReadsFrom(r, 178);
        }
        SyncTrigger.Result broken = fire("it-full", "schedule");
        assertThat(broken.status()).isEqualTo("failed");
        assertThat(count("SELECT COUNT(*) FROM leads_full")).isEqualTo(150);
        assertThat(text("SELECT status || ' ' || error_class || ' ' || first_run_id FROM syncwarden.retry_queue"))
                .isEqualTo("pending recoverable " + broken.runId());

        try (Connection r = replica()) {
            clearFaults(r);
        }
        try (Connection t = target(); Statement s = t.createStatement()) {
            // five minutes pass
            s.executeUpdate("UPDATE syncwarden.retry_queue SET next_retry_at = CURRENT_TIMESTAMP - INTERVAL '1' SECOND");
        }
        fire("retry-queue", "schedule");

        await().atMost(Duration.ofSeconds(30)).until(() -> "done".equals(text("SELECT status FROM syncwarden.retry_queue")));
        assertThat(text("SELECT status || ' ' || rows_read || ' ' || rows_inserted FROM syncwarden.sync_run WHERE run_trigger = 'retry'"))
                .as("the retry resumed from the checkpoint").isEqualTo("success " + (ROWS - 150) + " " + (ROWS - 150));
        assertThat(count("SELECT COUNT(*) - COUNT(DISTINCT id) FROM leads_full")).isZero();
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).hasSize(ROWS).isEqualTo(rows(r, "src_leads"));
        }
    }

    @Test
    void should_refuse_a_full_read_whose_source_shrank_by_more_than_half_before_applying_a_row() throws Exception {
        assertThat(fire("it-full").status()).isEqualTo("success");
        try (Connection r = replica()) {
            touch(r, "DELETE FROM src_leads WHERE id > 100");
            touch(r, "UPDATE src_leads SET status = 'changed' WHERE id = 1");
        }

        SyncTrigger.Result shrunk = fire("it-full", "schedule");

        assertThat(shrunk.status()).isEqualTo("refused_shrink");
        assertThat(run(shrunk.runId())).containsEntry("read", 0L).containsEntry("updated", 0L);
        assertThat(count("SELECT COUNT(*) FROM leads_full")).isEqualTo(ROWS);
        assertThat(text("SELECT status FROM leads_full WHERE id = 1")).as("nothing applied").isNotEqualTo("changed");
        assertThat(text("SELECT kind FROM syncwarden.incident WHERE open_key IS NOT NULL")).isEqualTo("refused_shrink");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.retry_queue")).as("not retried").isZero();

        // the replica really was emptied: one operator permission carries the run past every guard it meets
        try (Connection r = replica()) {
            touch(r, "DELETE FROM src_leads");
        }
        assertThat(fire("it-full", "schedule").status()).isEqualTo("refused_empty");
        assertThat(context.getRegistry().findSingleByType(SyncRuns.class).allowNext("it-full")).isTrue();
        assertThat(fire("it-full", "schedule").status()).isEqualTo("empty");
        assertThat(count("SELECT COUNT(*) FROM leads_full")).as("an empty read removes nothing").isEqualTo(ROWS);
    }

    @Test
    void should_mark_rows_gone_from_the_replica_after_a_complete_full_read_and_unmark_one_that_comes_back() throws Exception {
        assertThat(fire("it-full").status()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM leads_full WHERE id = 5")).isEqualTo(1);
        try (Connection r = replica()) {
            touch(r, "DELETE FROM src_leads WHERE id IN (5, 77)");
        }

        SyncTrigger.Result second = fire("it-full");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("deleted", 2L)
                .containsEntry("unchanged", (long) ROWS - 2);
        try (Connection t = target()) {
            assertThat(query(t, "SELECT id FROM leads_full WHERE deleted_at IS NOT NULL ORDER BY id")).containsExactly("5|", "77|");
        }
        assertThat(count("SELECT COUNT(*) FROM leads_full")).as("marked, not removed").isEqualTo(ROWS);
        assertThat(context.getRegistry().findSingleByType(SyncRuns.class).snapshots().list("it-full"))
                .as("a run whose only change was marking rows keeps its snapshot")
                .extracting(io.syncwarden.sync.Snapshots.Snapshot::runId).contains(second.runId());

        try (Connection r = replica()) {
            touch(r, "INSERT INTO src_leads VALUES (5, 'Back', 'Again', 'back@example.com', NULL, 1.50, 'new', TIMESTAMP '2026-02-01 10:00:00')");
        }
        SyncTrigger.Result third = fire("it-full");

        assertThat(run(third.runId())).containsEntry("status", "success").containsEntry("deleted", 0L).containsEntry("updated", 1L);
        try (Connection t = target()) {
            assertThat(query(t, "SELECT id FROM leads_full WHERE deleted_at IS NOT NULL ORDER BY id")).containsExactly("77|");
        }
    }

    @Test
    void should_keep_the_rows_read_but_mark_none_when_most_of_the_table_would_be_marked_deleted() throws Exception {
        assertThat(fire("it-full").status()).isEqualTo("success");
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET id = id + 100000"); // as many rows, all under other keys
        }

        SyncTrigger.Result second = fire("it-full", "schedule");

        assertThat(run(second.runId())).containsEntry("status", "refused_shrink").containsEntry("inserted", (long) ROWS)
                .containsEntry("deleted", 0L);
        assertThat((String) run(second.runId()).get("error")).contains("no longer has " + ROWS + " of the table's " + ROWS)
                .contains("the rows read were applied, none was marked deleted");
        assertThat(count("SELECT COUNT(*) FROM leads_full WHERE deleted_at IS NOT NULL")).isZero();
        assertThat(text("SELECT kind FROM syncwarden.incident WHERE open_key IS NOT NULL")).isEqualTo("refused_shrink");
    }

    @Test
    void should_take_a_column_the_replica_added_into_the_target_and_report_it_with_the_run() throws Exception {
        assertThat(fire("it-types").status()).isEqualTo("success");
        try (Connection r = replica()) {
            touch(r, "ALTER TABLE src_types ADD COLUMN note VARCHAR(30)");
            touch(r, "UPDATE src_types SET note = 'added later'");
        }

        SyncTrigger.Result second = fire("it-types");

        assertThat(second.status()).as("error: %s", second.error()).isEqualTo("success");
        assertThat(text("SELECT new_columns FROM syncwarden.sync_run WHERE run_id = " + second.runId())).isEqualTo("note");
        assertThat(count("SELECT COUNT(*) FROM types_copy WHERE note = 'added later'"))
                .isEqualTo(count("SELECT COUNT(*) FROM types_copy")).isPositive();
    }

    @Test
    void should_roll_a_full_jdbc_source_back_to_its_rows_before_a_run() throws Exception {
        assertThat(fire("it-full").status()).isEqualTo("success");
        List<String> good;
        try (Connection t = target()) {
            good = rows(t, "leads_full");
        }
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET status = 'wrong' WHERE id <= 50");
        }
        SyncTrigger.Result bad = fire("it-full");
        assertThat(count("SELECT COUNT(*) FROM leads_full WHERE status = 'wrong'")).isEqualTo(50);

        io.syncwarden.sync.Snapshots.Restored restored = io.syncwarden.source.SyncSource.of(context, "it-full")
                .rollback(context, bad.runId());

        assertThat(restored.rowsRestored()).isEqualTo(ROWS);
        try (Connection t = target()) {
            assertThat(rows(t, "leads_full")).as("row by row as before the run").isEqualTo(good);
        }
        assertThat(context.getRegistry().findSingleByType(SyncRuns.class).snapshots().list("it-full"))
                .extracting(io.syncwarden.sync.Snapshots.Snapshot::runId).contains(bad.runId(), restored.runId());
    }

    @Test
    void should_replay_rejected_rows_after_their_cause_was_fixed_and_keep_the_ones_still_refused() throws Exception {
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE TABLE messy (id INTEGER PRIMARY KEY, email VARCHAR(20), qty INTEGER CHECK (qty >= 0), synced_at TIMESTAMP)");
        }
        SyncTrigger.Result first = fire("it-bad-rows");
        assertThat(run(first.runId())).containsEntry("rejected", 4L);
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("ALTER TABLE messy ALTER COLUMN email SET DATA TYPE VARCHAR(100)"); // the cause of one rejection, fixed
        }

        var replay = io.syncwarden.source.SyncSource.of(context, "it-bad-rows").replayRejected(context, first.runId(), 1000);

        assertThat(replay.replayed()).isEqualTo(1);
        assertThat(replay.rejectedAgain()).isEqualTo(3);
        assertThat(text("SELECT email FROM messy WHERE id = 3")).isEqualTo("this-address-is-far-too-long@example.com");
        assertThat(text("SELECT row_key FROM syncwarden.rejected_row WHERE replayed_at IS NOT NULL")).isEqualTo("3");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.rejected_row WHERE run_id = " + replay.runId()))
                .as("the rows still refused, with their reasons, under the replay run").isEqualTo(3);
        assertThat(text("SELECT run_trigger || ' ' || status || ' ' || rows_inserted FROM syncwarden.sync_run WHERE run_id = "
                + replay.runId())).isEqualTo("replay success 1");
        assertThat(count("SELECT last_row_count FROM syncwarden.source_health WHERE source_id = 'it-bad-rows'"))
                .as("a replay is not a read of the source").isEqualTo(8);

        var again = io.syncwarden.source.SyncSource.of(context, "it-bad-rows").replayRejected(context, first.runId(), 1000);
        assertThat(again.replayed()).as("a replayed row is not replayed twice").isZero();
    }

    @Test
    void should_fail_the_batch_not_reject_rows_when_a_lock_on_the_target_times_out() throws Exception {
        assertThat(fire("it-full").status()).isEqualTo("success");
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET status = 'won' WHERE id IN (5, 6)");
        }
        List<String> checkpointBefore = checkpoint("it-full");
        SyncTrigger.Result blocked;
        try (Connection holder = target()) {
            holder.setAutoCommit(false);
            try (Statement s = holder.createStatement()) {
                s.executeUpdate("UPDATE leads_full SET company = 'held' WHERE id = 5"); // a row lock the run must wait for
            }
            blocked = fire("it-full");
            holder.rollback();
        }

        Map<String, Object> failed = run(blocked.runId());
        assertThat(failed).containsEntry("status", "failed").containsEntry("error_class", "recoverable")
                .containsEntry("rejected", 0L).containsEntry("attempts", 2);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.rejected_row WHERE source_id = 'it-full'")).as("a lock timeout is no bad row").isZero();
        assertThat(checkpoint("it-full")).as("the checkpoint did not move").isEqualTo(checkpointBefore);
        assertThat(count("SELECT COUNT(*) FROM leads_full WHERE status = 'won'")).as("the failed batch rolled back").isZero();

        assertThat(fire("it-full").status()).isEqualTo("success");
        try (Connection r = replica(); Connection t = target()) {
            assertThat(rows(t, "leads_full")).isEqualTo(rows(r, "src_leads"));
        }
    }

    @Test
    void should_open_one_run_when_begin_is_redelivered() throws Exception {
        failNextLockInsert();

        SyncTrigger.Result result = fire("it-full");

        assertThat(result.status()).as("error %s", result.error()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE source_id = 'it-full'")).isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock")).as("the lock was released").isZero();
    }

    @Test
    void should_reject_bad_rows_with_their_reason_and_write_the_others() throws Exception {
        try (Connection t = target(); Statement s = t.createStatement()) {
            s.execute("CREATE TABLE messy (id INTEGER PRIMARY KEY, email VARCHAR(20), qty INTEGER CHECK (qty >= 0), synced_at TIMESTAMP)");
        }

        SyncTrigger.Result result = fire("it-bad-rows");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("read", 8L)
                .containsEntry("inserted", 4L).containsEntry("rejected", 4L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.rejected_row WHERE run_id = " + result.runId())).isEqualTo(4);
        try (Connection t = target(); Statement s = t.createStatement()) {
            List<String> kept = new ArrayList<>();
            try (ResultSet rs = s.executeQuery("SELECT id, qty FROM messy ORDER BY id")) {
                while (rs.next()) {
                    kept.add(rs.getInt(1) + ":" + rs.getInt(2));
                }
            }
            assertThat(kept).containsExactly("1:5", "5:7", "6:8", "8:9");
            Map<String, String> reasons = new java.util.TreeMap<>();
            try (ResultSet rs = s.executeQuery("SELECT row_key, reason, row_position, run_id FROM syncwarden.rejected_row WHERE source_id = 'it-bad-rows'")) {
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
            assertThat(reasons.get("7")).contains("database refused the row").contains("SQLState 23");
        }
    }

    @Test
    void should_record_every_rejected_row_even_when_no_row_is_good() throws Exception {
        SyncTrigger.Result result = fire("it-allbad");

        assertThat(run(result.runId())).containsEntry("read", 5L).containsEntry("rejected", 5L).containsEntry("inserted", 0L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.rejected_row WHERE run_id = " + result.runId())).isEqualTo(5);
    }

    @Test
    void should_reject_a_second_row_with_the_same_key_naming_the_first() throws Exception {
        SyncTrigger.Result result = fire("it-dups");

        assertThat(run(result.runId())).containsEntry("read", 11L).containsEntry("inserted", 10L).containsEntry("rejected", 1L);
        try (Connection t = target(); Statement s = t.createStatement();
             ResultSet rs = s.executeQuery("SELECT row_key, reason, row_position FROM syncwarden.rejected_row WHERE run_id = " + result.runId())) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("7");
            assertThat(rs.getString(2)).contains("duplicate key (id=7)").contains("read first at row 7");
            assertThat(rs.getLong(3)).isEqualTo(8);
        }
    }

    CompletableFuture<SyncTrigger.Result> fireInBackground(String source) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return fire(source);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @Test
    void should_stop_a_running_sync_at_its_next_batch_boundary_when_the_service_stops() throws Exception {
        blockCheckpointFrom(150); // the third batch of 50 waits inside its transaction
        CompletableFuture<SyncTrigger.Result> running = fireInBackground("it-full");
        await("two batches committed").atMost(Duration.ofSeconds(30))
                .until(() -> count("SELECT COALESCE(SUM(rows_read), 0) FROM syncwarden.sync_run WHERE status = 'running'") == 100);
        SyncRuns runs = context.getRegistry().findSingleByType(SyncRuns.class);
        long runId = runs.activeRuns().get(0).runId();
        CompletableFuture<Void> stopping = CompletableFuture.runAsync(context::stop);
        await("stop asked the run to stop").atMost(Duration.ofSeconds(10)).until(runs::stopping);

        unblockCheckpoint(); // the third batch commits, and the run stops at that boundary

        stopping.get();
        assertThat(running.get().status()).isEqualTo("interrupted");
        assertThat(run(runId)).containsEntry("status", "interrupted").containsEntry("read", 150L).containsEntry("inserted", 150L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock")).as("lock released").isZero();
        assertThat(checkpoint("it-full")).singleElement().satisfies(cp -> assertThat(cp).contains("|in_progress|150|"));
    }

    @Test
    void should_stop_a_running_sync_at_its_next_batch_boundary_when_an_operator_asks_through_any_node() throws Exception {
        blockCheckpointFrom(150); // the third batch of 50 waits inside its transaction
        CompletableFuture<SyncTrigger.Result> running = fireInBackground("it-full");
        await("two batches committed").atMost(Duration.ofSeconds(30))
                .until(() -> count("SELECT COALESCE(SUM(rows_read), 0) FROM syncwarden.sync_run WHERE status = 'running'") == 100);
        SyncRuns runs = context.getRegistry().findSingleByType(SyncRuns.class);
        long runId = runs.activeRuns().get(0).runId();

        // as another node's API does it: through the lock row; this node's lease keeper passes it on to the run
        assertThat(runs.requestStop("it-full", "ops-oncall")).isEqualTo(runId);
        runs.heartbeat(); // the lease keeper's beat, now rather than in up to a quarter lease
        assertThat(runs.activeRuns().get(0).interruptRequested()).isTrue();
        unblockCheckpoint(); // the third batch commits, and the run stops at that boundary

        assertThat(running.get().status()).isEqualTo("interrupted");
        java.util.Map<String, Object> stopped = run(runId);
        assertThat(stopped).containsEntry("status", "interrupted");
        assertThat(stopped.get("read")).as("at a batch boundary (the held batch commits, or is not continued after its "
                + "retry)").isIn(100L, 150L).isEqualTo(stopped.get("inserted"));
        assertThat((String) stopped.get("error")).contains("stopped by ops-oncall");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock")).as("lock released").isZero();
        assertThat(fire("it-full").status()).as("the next run resumes and is not stopped").isEqualTo("success");
    }

    @Test
    void should_record_a_run_hung_in_a_batch_as_interrupted_when_the_service_stops() throws Exception {
        blockCheckpointFrom(150);
        CompletableFuture<SyncTrigger.Result> running = fireInBackground("it-full");
        await("two batches committed").atMost(Duration.ofSeconds(30))
                .until(() -> count("SELECT COALESCE(SUM(rows_read), 0) FROM syncwarden.sync_run WHERE status = 'running'") == 100);
        long runId = context.getRegistry().findSingleByType(SyncRuns.class).activeRuns().get(0).runId();

        context.stop(); // the batch never returns within the grace period

        assertThat(run(runId)).containsEntry("status", "interrupted").containsEntry("read", 100L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock")).as("no lock left for the restarted service to wait for").isZero();
        unblockCheckpoint();
        running.handle((r, e) -> r).get();
        assertThat(run(runId)).as("the hung batch wrote nothing after the record was closed").containsEntry("read", 100L);
        assertThat(count("SELECT COUNT(*) FROM leads_full")).isEqualTo(100);
    }

    @Test
    void should_show_a_run_far_longer_than_usual_in_the_source_health() throws Exception {
        for (int i = 0; i < 3; i++) {
            assertThat(fire("it-full").status()).isEqualTo("success");
        }
        try (Connection r = replica()) {
            touch(r, "UPDATE src_leads SET status = 'again'");
            blockReadsFrom(r, 120);
        }
        CompletableFuture<SyncTrigger.Result> running = fireInBackground("it-full");

        await("long run shows").atMost(Duration.ofSeconds(30)).untilAsserted(() ->
                assertThat(org.apache.camel.health.HealthCheckHelper.invokeReadiness(context, "full"))
                        .filteredOn(c -> c.getCheck().getId().equals("source-it-full")).singleElement()
                        .satisfies(c -> assertThat(c.getDetails()).containsEntry("source.long_running", true)
                                .containsEntry("source.status", "degraded")));
        unblock();
        assertThat(running.get().status()).isEqualTo("success");
    }

    @Test
    void should_refuse_a_query_with_placeholders_as_a_configuration_error() throws Exception {
        SyncTrigger.Result result = fire("it-placeholder");

        assertThat(run(result.runId())).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable")
                .containsEntry("attempts", 1);
        assertThat((String) run(result.runId()).get("error")).contains("? placeholders");
    }
}
