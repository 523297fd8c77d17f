package io.syncwarden.heal;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.support.EmbeddedPg;
import io.syncwarden.sync.SyncMetrics;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncSettings;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Claims of the retry queue on H2 and PostgreSQL: two nodes claiming at the same moment never take one entry twice
 * (FOR UPDATE SKIP LOCKED on PostgreSQL, a status-guarded update on H2); a claim of a node that died is freed after
 * the claim timeout unless a live run holds the source; finished entries are deleted after the keep period.
 */
class RetryQueueClaimTest {
    private static final RetryQueue.Settings SETTINGS = new RetryQueue.Settings(10, Duration.ofMinutes(5), 2,
            Duration.ofMinutes(40), 3, Duration.ofDays(7), Duration.ofMinutes(1), Duration.ofMinutes(10));

    private record Node(TargetDatabase db, RetryQueue queue) {
    }

    private static String url(String database) throws SQLException {
        return "postgresql".equals(database)
                ? "jdbc:postgresql://127.0.0.1:" + EmbeddedPg.port() + "/" + EmbeddedPg.newDatabase("claims")
                : "jdbc:h2:mem:claims-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";
    }

    private static Node node(String url, String id) {
        boolean pg = url.startsWith("jdbc:postgresql");
        TargetDatabase db = new TargetDatabase(new TargetDatabase.Options(url, pg ? "postgres" : "sa", pg ? "postgres" : "", 4,
                "syncwarden", "default", 2000, 2000, 60_000, 10_000, TargetDatabase.Options.H2_CACHE_KB));
        SyncRuns runs = new SyncRuns(db, new SyncSettings(id, 60_000, 3, 300, 3_600_000, 3.0),
                new SyncMetrics(SimpleMeterRegistry::new));
        return new Node(db, new RetryQueue(runs, new Incidents(db), SETTINGS, null));
    }

    private static void insert(TargetDatabase db, String source, String status, Instant next, Instant claimedAt, Instant finished)
            throws SQLException {
        try (Connection c = db.dataSource().getConnection(); PreparedStatement ps = c.prepareStatement("INSERT INTO "
                + "syncwarden.retry_queue (source_id, active_source, status, error_class, next_retry_at, claimed_at, created_at, "
                + "updated_at, finished_at) VALUES (?, ?, ?, 'recoverable', ?, ?, ?, ?, ?)")) {
            boolean live = "pending".equals(status) || "running".equals(status);
            ps.setString(1, source);
            ps.setString(2, live ? source : null);
            ps.setString(3, status);
            ps.setObject(4, SyncRuns.utc(next));
            ps.setObject(5, claimedAt == null ? null : SyncRuns.utc(claimedAt));
            ps.setObject(6, SyncRuns.utc(next));
            ps.setObject(7, SyncRuns.utc(next));
            ps.setObject(8, finished == null ? null : SyncRuns.utc(finished));
            ps.executeUpdate();
        }
    }

    private static List<String> column(TargetDatabase db, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgresql"})
    void should_never_give_one_entry_to_two_nodes_claiming_at_once(String database) throws Exception {
        String url = url(database);
        Node a = node(url, "node-a");
        Node b = node(url, "node-b");
        try {
            Instant past = Instant.now().minusSeconds(60);
            for (int i = 0; i < 14; i++) {
                insert(a.db(), "src-" + i, "pending", past.plusMillis(i), null, null);
            }
            Set<String> claimed = new HashSet<>();
            List<String> all = new ArrayList<>();
            for (int round = 0; round < 3 && claimed.size() < 14; round++) {
                CyclicBarrier together = new CyclicBarrier(2);
                CompletableFuture<List<RetryQueue.Entry>> fa = CompletableFuture.supplyAsync(() -> claimTogether(a, together));
                CompletableFuture<List<RetryQueue.Entry>> fb = CompletableFuture.supplyAsync(() -> claimTogether(b, together));
                for (RetryQueue.Entry e : fa.get(30, TimeUnit.SECONDS)) {
                    all.add(e.sourceId());
                }
                for (RetryQueue.Entry e : fb.get(30, TimeUnit.SECONDS)) {
                    all.add(e.sourceId());
                }
                claimed.addAll(all);
                assertThat(all).as("round %d: at most 10 a tick per node, never one entry twice", round).doesNotHaveDuplicates();
            }
            assertThat(claimed).hasSize(14);
            assertThat(column(a.db(), "SELECT DISTINCT status FROM syncwarden.retry_queue")).containsExactly("running");
        } finally {
            a.db().close();
            b.db().close();
        }
    }

    private static List<RetryQueue.Entry> claimTogether(Node node, CyclicBarrier together) {
        try {
            together.await(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        List<RetryQueue.Entry> got = node.queue().claim();
        assertThat(got.size()).isLessThanOrEqualTo(10);
        return got;
    }

    @ParameterizedTest
    @ValueSource(strings = {"h2", "postgresql"})
    void should_free_a_dead_nodes_claim_after_the_timeout_and_delete_old_finished_entries(String database) throws Exception {
        Node a = node(url(database), "node-a");
        try {
            Instant now = Instant.now();
            insert(a.db(), "stuck", "running", now.minusSeconds(3600), now.minus(Duration.ofMinutes(11)), null);
            insert(a.db(), "fresh-claim", "running", now.minusSeconds(3600), now.minus(Duration.ofMinutes(2)), null);
            insert(a.db(), "locked", "running", now.minusSeconds(3600), now.minus(Duration.ofMinutes(30)), null);
            insert(a.db(), "old-done", "done", now.minus(Duration.ofDays(9)), null, now.minus(Duration.ofDays(8)));
            insert(a.db(), "recent-done", "done", now.minus(Duration.ofDays(2)), null, now.minus(Duration.ofDays(1)));
            try (Connection c = a.db().dataSource().getConnection(); PreparedStatement ps = c.prepareStatement("INSERT INTO "
                    + "syncwarden.source_lock (source_id, run_id, node_id, acquired_at, heartbeat_at, lease_until) VALUES ('locked', 1, 'node-x', ?, ?, ?)")) {
                ps.setObject(1, SyncRuns.utc(now));
                ps.setObject(2, SyncRuns.utc(now));
                ps.setObject(3, SyncRuns.utc(now.plusSeconds(120)));
                ps.executeUpdate();
            }
            a.queue().clock(Clock.fixed(now, ZoneOffset.UTC));

            List<RetryQueue.Entry> got = a.queue().claim();

            assertThat(got).extracting(RetryQueue.Entry::sourceId).as("freed, then claimed again at once").containsExactly("stuck");
            assertThat(column(a.db(), "SELECT source_id FROM syncwarden.retry_queue WHERE status = 'running' AND claimed_by IS NULL "
                    + "ORDER BY source_id")).as("a recent claim and a live run keep theirs").containsExactly("fresh-claim", "locked");
            assertThat(column(a.db(), "SELECT source_id FROM syncwarden.retry_queue WHERE status = 'done'")).containsExactly("recent-done");
        } finally {
            a.db().close();
        }
    }
}
