package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.micrometer.core.instrument.MeterRegistry;
import io.syncwarden.heal.SourcePause;
import io.syncwarden.sync.SyncTrigger;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.quartz.Scheduler;
import org.quartz.Trigger;
import org.quartz.TriggerKey;

/**
 * The self-healing path of a failing upstream, end to end on the real routes: in-route retries, then the dead-letter
 * channel into the persistent retry queue, the retry-queue route running the source again, back-off and giving up
 * with an incident; non-recoverable failures never queued and pausing the source after three in a row.
 */
class RetryQueueHttpTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String SOURCE = "it-finale-stock";
    private static final String KEY = FINALE_KEY;
    private static final String SECRET = FINALE_SECRET;
    private static final Duration INITIAL = Duration.ofMinutes(5);

    @Override
    protected String testRoutes() {
        return "test-csv-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        p.put("syncwarden.upstream.read-timeout-ms", "2000");
        p.put("syncwarden.retry.max-rate-limit-wait-ms", "2000");
        p.put("syncwarden.runs.pending-retry-ms", "200");
    }

    private void up() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).atPriority(1).withBasicAuth(KEY, SECRET)
                .willReturn(aResponse().withStatus(200).withBody(io.syncwarden.Fixtures.read("finale/products_stock_report.csv"))));
    }

    private void down(int status) {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).atPriority(1).willReturn(aResponse().withStatus(status).withBody("upstream says no")));
    }

    /** The source's retry entries, newest first: status, attempts, failures, runs, error, next attempt. */
    private Map<String, Object> entry() throws SQLException {
        try (Connection c = target(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT status, attempts, failures, first_run_id, last_run_id, error_class, error_message, "
                     + "next_retry_at, active_source, outcome, (SELECT COUNT(*) FROM syncwarden.retry_queue) FROM syncwarden.retry_queue "
                     + "WHERE source_id = '" + SOURCE + "' ORDER BY retry_id DESC")) {
            if (!rs.next()) {
                return Map.of();
            }
            Map<String, Object> m = new HashMap<>();
            m.put("status", rs.getString(1));
            m.put("attempts", rs.getInt(2));
            m.put("failures", rs.getInt(3));
            m.put("first_run", rs.getLong(4));
            m.put("last_run", rs.getLong(5));
            m.put("error_class", rs.getString(6));
            m.put("error", rs.getString(7));
            m.put("next", rs.getObject(8, OffsetDateTime.class).toInstant());
            m.put("active", rs.getString(9));
            m.put("outcome", rs.getString(10));
            m.put("entries", rs.getLong(11));
            return m;
        }
    }

    /** Time passes: the live entry is due now. */
    private void makeDue() throws SQLException {
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE syncwarden.retry_queue SET next_retry_at = CURRENT_TIMESTAMP - INTERVAL '1' SECOND "
                    + "WHERE active_source = '" + SOURCE + "'");
        }
    }

    private long requests() {
        return upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK))).size();
    }

    @Test
    void should_queue_a_run_whose_retries_ran_out_and_finish_it_from_the_queue() throws Exception {
        down(503);
        Instant before = Instant.now();

        SyncTrigger.Result failed = fire(SOURCE, "schedule");

        assertThat(failed.status()).isEqualTo("failed");
        assertThat(requests()).as("1 attempt + 2 in-route redeliveries").isEqualTo(3);
        Map<String, Object> queued = entry();
        assertThat(queued).containsEntry("status", "pending").containsEntry("attempts", 0).containsEntry("failures", 1)
                .containsEntry("first_run", failed.runId()).containsEntry("error_class", "recoverable")
                .containsEntry("active", SOURCE);
        assertThat((String) queued.get("error")).contains("503");
        assertThat((Instant) queued.get("next")).isBetween(before.plus(INITIAL).minusSeconds(1), Instant.now().plus(INITIAL));

        fire("retry-queue", "schedule");
        assertThat(entry()).as("not due yet: nothing claimed").containsEntry("status", "pending");
        assertThat(requests()).isEqualTo(3);

        up();
        makeDue();
        fire("retry-queue", "schedule");

        await().atMost(Duration.ofSeconds(20)).until(() -> "done".equals(entry().get("status")));
        Map<String, Object> done = entry();
        assertThat(done).containsEntry("attempts", 1).containsEntry("active", null).containsEntry("entries", 1L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE source_id = '" + SOURCE
                + "' AND run_trigger = 'retry' AND status = 'success'")).isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(30);
    }

    @Test
    void should_cancel_a_queued_retry_whose_run_the_anomaly_gate_refused_and_leave_it_to_its_incident() throws Exception {
        up();
        for (int i = 0; i < 5; i++) {
            assertThat(fire(SOURCE, "schedule").status()).isEqualTo("success");
        }
        down(503);
        assertThat(fire(SOURCE, "schedule").status()).isEqualTo("failed");
        String report = io.syncwarden.Fixtures.read("finale/products_stock_report.csv");
        upstream.stubFor(get(urlPathEqualTo(STOCK)).atPriority(1).withBasicAuth(KEY, SECRET).willReturn(aResponse().withStatus(200)
                .withBody(report + report.replaceAll("(?s)^[^\\r\\n]*\\r?\\n", "").replaceAll("(?m)^NW-10", "ZZ-20"))));
        makeDue();

        fire("retry-queue", "schedule");

        await().atMost(Duration.ofSeconds(20)).until(() -> "cancelled".equals(entry().get("status")));
        assertThat((String) entry().get("outcome")).contains("refused_anomaly").contains("an operator's decision is needed");
        assertThat(text("SELECT kind FROM syncwarden.incident WHERE open_key IS NOT NULL AND kind LIKE 'refused%'"))
                .isEqualTo("refused_anomaly");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).as("nothing applied").isEqualTo(30);
    }

    @Test
    void should_keep_one_entry_per_source_back_off_and_give_up_with_one_incident() throws Exception {
        down(503);
        SyncTrigger.Result first = fire(SOURCE, "schedule");
        SyncTrigger.Result second = fire(SOURCE, "schedule");

        assertThat(entry()).as("a new failure updates the live entry").containsEntry("entries", 1L)
                .containsEntry("failures", 2).containsEntry("first_run", first.runId()).containsEntry("last_run", second.runId());

        for (int attempt = 1; attempt <= 3; attempt++) {
            makeDue();
            Instant before = Instant.now();
            fire("retry-queue", "schedule");
            int expected = attempt;
            await().atMost(Duration.ofSeconds(20)).until(() -> (int) entry().get("attempts") == expected
                    && !"running".equals(entry().get("status")));
            Map<String, Object> e = entry();
            if (attempt < 3) {
                // back-off: 5 minutes x 2^attempts (10, then 20 minutes)
                Duration wait = INITIAL.multipliedBy(1L << attempt);
                assertThat(e).containsEntry("status", "pending");
                assertThat((Instant) e.get("next")).isBetween(before.plus(wait).minusSeconds(1), Instant.now().plus(wait));
            } else {
                assertThat(e).containsEntry("status", "failed").containsEntry("active", null);
                assertThat((String) e.get("outcome")).contains("3 queue attempt(s)");
            }
        }
        assertThat(count("SELECT COUNT(*) FROM syncwarden.incident WHERE source_id = '" + SOURCE + "'")).isEqualTo(1);
        assertThat(text("SELECT kind || ' ' || severity || ' ' || status FROM syncwarden.incident WHERE source_id = '" + SOURCE + "'"))
                .isEqualTo("retry_exhausted high open");

        // the next good run resolves it
        up();
        assertThat(fire(SOURCE, "schedule").status()).isEqualTo("success");
        assertThat(text("SELECT status || ' ' || resolved_by FROM syncwarden.incident WHERE source_id = '" + SOURCE + "'"))
                .startsWith("resolved run ");
    }

    @Test
    void should_hand_a_wait_longer_than_the_in_route_limit_to_the_queue_at_the_upstreams_time() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(429).withHeader("Retry-After", "3600")));
        Instant before = Instant.now();

        SyncTrigger.Result result = fire(SOURCE, "schedule");

        assertThat(result.status()).as("waiting for the upstream is not failing").isEqualTo("rate_limited");
        assertThat(requests()).as("no in-route attempt after a wait it cannot hold").isEqualTo(1);
        assertThat(fire(SOURCE, "schedule").status()).as("no run before the upstream's time").isEqualTo("rate_limited");
        assertThat(requests()).isEqualTo(1);
        Map<String, Object> e = entry();
        assertThat(e).containsEntry("status", "pending");
        assertThat((Instant) e.get("next")).as("the upstream's time, not the blind back-off")
                .isBetween(before.plusSeconds(3600).minusSeconds(1), Instant.now().plusSeconds(3600));
    }

    @Test
    void should_count_a_retry_entry_it_cannot_write_and_write_it_when_it_can() throws Exception {
        MeterRegistry meters = context.getRegistry().findSingleByType(MeterRegistry.class);
        assertThat(meters).isNotNull();
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.execute("ALTER TABLE syncwarden.retry_queue RENAME TO retry_queue_away");
        }
        down(503);

        assertThat(fire(SOURCE, "schedule").status()).isEqualTo("failed");

        assertThat(meters.counter("syncwarden.dead.letter.failures", "source", SOURCE).count()).isEqualTo(1.0);
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.execute("ALTER TABLE syncwarden.retry_queue_away RENAME TO retry_queue");
        }
        await().atMost(Duration.ofSeconds(20)).until(() -> "pending".equals(entry().get("status")));
    }

    @Test
    void should_not_queue_a_non_recoverable_failure_and_pause_the_source_after_three() throws Exception {
        down(401);

        SyncTrigger.Result first = fire(SOURCE, "schedule");

        assertThat(first.status()).isEqualTo("failed");
        assertThat(entry()).as("never queued").isEmpty();
        assertThat(text("SELECT status || ' ' || consecutive_non_recoverable || ' ' || paused FROM syncwarden.source_health "
                + "WHERE source_id = '" + SOURCE + "'")).isEqualTo("unhealthy 1 FALSE");
        assertThat(text("SELECT last_error FROM syncwarden.source_health WHERE source_id = '" + SOURCE + "'")).contains("401");
        assertThat(text("SELECT kind || ' ' || severity FROM syncwarden.incident WHERE open_key IS NOT NULL")).isEqualTo("non_recoverable high");

        fire(SOURCE, "schedule");
        fire(SOURCE, "schedule");

        assertThat(text("SELECT paused FROM syncwarden.source_health WHERE source_id = '" + SOURCE + "'")).isEqualTo("TRUE");
        assertThat(text("SELECT paused_reason FROM syncwarden.source_health WHERE source_id = '" + SOURCE + "'"))
                .contains("3 non-recoverable failure(s) in a row").contains("401");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.incident")).as("one incident, not one per run").isEqualTo(1);
        assertThat(text("SELECT severity || ' ' || occurrences FROM syncwarden.incident")).isEqualTo("critical 3");
        assertThat(org.apache.camel.health.HealthCheckHelper.invokeReadiness(context, "full"))
                .filteredOn(r -> r.getCheck().getId().equals("source-" + SOURCE)).singleElement()
                .satisfies(r -> assertThat(r.getDetails()).containsEntry("source.status", "paused")
                        .containsEntry("source.paused", "paused: 3 non-recoverable failure(s) in a row"));
        Scheduler quartz = context.getComponent("quartz", org.apache.camel.component.quartz.QuartzComponent.class).getScheduler();
        assertThat(quartz.getTriggerState(TriggerKey.triggerKey(SOURCE, "syncwarden"))).isEqualTo(Trigger.TriggerState.PAUSED);

        long runs = count("SELECT COUNT(*) FROM syncwarden.sync_run");
        long asked = requests();
        assertThat(fire(SOURCE, "schedule").status()).isEqualTo("paused");
        assertThat(fire(SOURCE, "retry").status()).isEqualTo("paused");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run")).as("no run recorded while paused").isEqualTo(runs);
        assertThat(requests()).as("no request sent while paused").isEqualTo(asked);

        up();
        SourcePause pause = context.getRegistry().lookupByNameAndType("sourcePause", SourcePause.class);
        assertThat(pause.resume(SOURCE, "ops-test")).isTrue();

        assertThat(quartz.getTriggerState(TriggerKey.triggerKey(SOURCE, "syncwarden"))).isEqualTo(Trigger.TriggerState.NORMAL);
        assertThat(text("SELECT status || ' ' || resolved_by FROM syncwarden.incident")).isEqualTo("resolved ops-test");
        assertThat(fire(SOURCE, "schedule").status()).isEqualTo("success");
        assertThat(text("SELECT status || ' ' || consecutive_non_recoverable || ' ' || paused FROM syncwarden.source_health "
                + "WHERE source_id = '" + SOURCE + "'")).isEqualTo("healthy 0 FALSE");
    }

    @Test
    void should_let_an_operator_run_a_paused_source_by_hand() throws Exception {
        SourcePause pause = context.getRegistry().lookupByNameAndType("sourcePause", SourcePause.class);
        assertThat(pause.pause(SOURCE, "supplier migrating its reports", "ops-test")).isTrue();
        up();

        assertThat(fire(SOURCE, "schedule").status()).isEqualTo("paused");
        assertThat(fire(SOURCE, "manual").status()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(30);
    }

    @Test
    void should_close_the_live_entry_when_a_scheduled_run_succeeds() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).inScenario("flaky").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(aResponse().withStatus(500)));
        assertThat(fire(SOURCE, "schedule").status()).isEqualTo("failed");
        assertThat(entry()).containsEntry("status", "pending");

        up();
        SyncTrigger.Result ok = fire(SOURCE, "schedule");

        assertThat(entry()).containsEntry("status", "done").containsEntry("active", null).containsEntry("attempts", 0);
        assertThat((String) entry().get("outcome")).isEqualTo("run " + ok.runId() + " (schedule) succeeded");
    }
}
