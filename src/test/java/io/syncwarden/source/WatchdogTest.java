package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncwarden.heal.Watchdog;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The watchdog's pass against a report source with a 10-minute SLA: time moves on an injected clock, the pass is fired
 * through its route, and its report, actions, incidents and the runs it fires are checked.
 */
class WatchdogTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    protected String testRoutes() {
        return "test-watchdog-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        p.put("syncwarden.retention.batch", "100");
    }

    private void serve(int status) throws Exception {
        upstream.resetAll();
        upstream.stubFor(get(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(status).withHeader("Content-Type", "text/csv")
                .withBody(status == 200 ? io.syncwarden.Fixtures.read("finale/products_stock_report.csv") : "")));
    }

    private Watchdog watchdog() {
        return context.getRegistry().lookupByNameAndType("watchdog", Watchdog.class);
    }

    /** One pass, as the schedule fires it, with the clock this many minutes ahead; its report. */
    private JsonNode passAt(long minutesAhead) throws Exception {
        watchdog().clock(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(minutesAhead)));
        fire("watchdog", "schedule");
        return JSON.readTree(watchdog().latestReport());
    }

    private long watchdogRuns(String status) throws Exception {
        return count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_trigger = 'watchdog' AND status = '" + status + "'");
    }

    @Test
    void should_report_a_fresh_source_healthy_and_do_nothing() throws Exception {
        serve(200);
        fire("wd-stock");

        JsonNode report = passAt(0);

        assertThat(report.get("overall").asText()).isEqualTo("healthy");
        JsonNode check = report.get("checks").get("wd-stock");
        assertThat(check.get("lastSync").get("status").asText()).isEqualTo("OK");
        assertThat(check.get("lastSync").get("minutesAgo").asLong()).isZero();
        assertThat(check.get("lastSync").get("slaMinutes").asLong()).isEqualTo(10);
        assertThat(check.get("recentErrors").get("count").asLong()).isZero();
        assertThat(check.get("rowCount").get("total").asLong()).isEqualTo(30);
        assertThat(report.get("actions")).isEmpty();
    }

    @Test
    void should_fire_a_stale_source_again_open_an_incident_and_resolve_it_once_fresh() throws Exception {
        serve(200);
        fire("wd-stock");

        JsonNode late = passAt(25); // 2.5x the SLA

        assertThat(late.get("overall").asText()).isEqualTo("degraded");
        assertThat(late.get("checks").get("wd-stock").get("lastSync").get("status").asText()).isEqualTo("HIGH");
        io.micrometer.core.instrument.MeterRegistry meters = context.getRegistry()
                .findSingleByType(io.micrometer.core.instrument.MeterRegistry.class);
        assertThat(meters.get("syncwarden.staleness.severity").tag("source", "wd-stock").gauge().value()).isEqualTo(2.0);
        assertThat(meters.get("syncwarden.freshness.age.seconds").tag("source", "wd-stock").gauge().value())
                .isBetween(25 * 60.0, 27 * 60.0);
        assertThat(meters.get("syncwarden.watchdog.actions").tag("action", "refire").counter().count()).isEqualTo(1.0);
        assertThat(late.get("actions").get(0).get("action").asText()).isEqualTo("refire");
        // opened at high (the re-fired sync may already have resolved it: it runs on its own thread)
        assertThat(text("SELECT kind || ' ' || severity FROM syncwarden.incident")).isEqualTo("stale high");
        await().atMost(Duration.ofSeconds(20)).until(() -> watchdogRuns("success") == 1);

        JsonNode fresh = passAt(0);

        assertThat(fresh.get("overall").asText()).isEqualTo("healthy");
        assertThat(text("SELECT status || ' ' || resolved_by FROM syncwarden.incident")).matches("resolved run \\d+ \\(watchdog\\)");
    }

    @Test
    void should_escalate_to_critical_past_four_times_the_sla() throws Exception {
        serve(200);
        fire("wd-stock");
        serve(503); // the re-fired syncs fail: the source stays stale

        passAt(15);
        await().atMost(Duration.ofSeconds(20)).until(() -> watchdogRuns("failed") == 1); // re-fired, failed, queued
        JsonNode worse = passAt(45);

        assertThat(worse.get("overall").asText()).isEqualTo("unhealthy");
        assertThat(worse.get("checks").get("wd-stock").get("lastSync").get("status").asText()).isEqualTo("CRITICAL");
        assertThat(worse.get("actions").get(0).get("reason").asText()).as("the queue's back-off is kept, not overridden")
                .contains("a retry is queued");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_trigger = 'watchdog'")).isEqualTo(1);
        assertThat(text("SELECT severity FROM syncwarden.incident WHERE kind = 'stale'")).isEqualTo("critical");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.incident_event WHERE event = 'escalated'")).isEqualTo(1);
        assertThat(context.getRegistry().findSingleByType(io.micrometer.core.instrument.MeterRegistry.class)
                .get("syncwarden.retry.queue.depth").gauge().value()).isEqualTo(1.0);
    }

    @Test
    void should_not_fire_again_a_source_whose_last_run_failed_non_recoverably() throws Exception {
        serve(200);
        fire("wd-stock");
        serve(401);
        assertThat(fire("wd-stock").status()).isEqualTo("failed");

        JsonNode late = passAt(25);

        JsonNode action = late.get("actions").get(0);
        assertThat(action.get("action").asText()).isEqualTo("incident");
        assertThat(action.get("reason").asText()).contains("non_recoverable").contains("401");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_trigger = 'watchdog'")).as("no blind re-fire").isZero();
        assertThat(text("SELECT message FROM syncwarden.incident WHERE kind = 'stale'")).contains("no successful sync for 25 min");
    }

    @Test
    void should_leave_a_paused_source_to_its_operator_and_say_so() throws Exception {
        serve(200);
        fire("wd-stock");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE syncwarden.source_health SET paused = TRUE, paused_reason = 'bad credentials' WHERE source_id = 'wd-stock'");
        }

        JsonNode late = passAt(25);

        assertThat(late.get("actions").get(0).get("action").asText()).isEqualTo("report");
        assertThat(late.get("actions").get(0).get("reason").asText()).contains("paused: bad credentials");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_trigger = 'watchdog'")).isZero();
    }

    @Test
    void should_fire_an_emergency_sync_when_the_target_table_was_emptied() throws Exception {
        serve(200);
        fire("wd-stock");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("DELETE FROM wd_stock");
        }

        JsonNode emptied = passAt(0);

        assertThat(emptied.get("checks").get("wd-stock").get("rowCount").get("status").asText()).isEqualTo("EMPTY");
        assertThat(emptied.get("actions").get(0).get("action").asText()).isEqualTo("emergency_sync");
        await().atMost(Duration.ofSeconds(20)).until(() -> watchdogRuns("success") == 1);
        assertThat(count("SELECT COUNT(*) FROM wd_stock")).isEqualTo(30);

        passAt(0);
        assertThat(text("SELECT kind || ' ' || status FROM syncwarden.incident")).isEqualTo("empty_target resolved");
    }

    @Test
    void should_judge_a_source_that_never_succeeded_from_its_first_run() throws Exception {
        serve(401);
        assertThat(fire("wd-stock").status()).isEqualTo("failed");

        JsonNode report = passAt(45);

        JsonNode lastSync = report.get("checks").get("wd-stock").get("lastSync");
        assertThat(lastSync.get("minutesAgo").isNull()).isTrue();
        assertThat(lastSync.get("status").asText()).isEqualTo("CRITICAL");
        assertThat(text("SELECT message FROM syncwarden.incident WHERE kind = 'stale'")).contains("since its first run");
    }

    @Test
    void should_open_an_error_rate_incident_when_most_runs_of_the_hour_failed() throws Exception {
        serve(200);
        fire("wd-stock");
        serve(503);
        for (int i = 0; i < 3; i++) {
            assertThat(fire("wd-stock").status()).isEqualTo("failed");
        }

        JsonNode report = passAt(0);

        JsonNode errors = report.get("checks").get("wd-stock").get("recentErrors");
        assertThat(errors.get("count").asLong()).isEqualTo(3);
        assertThat(errors.get("runs").asLong()).isEqualTo(4);
        assertThat(errors.get("status").asText()).isEqualTo("HIGH");
        assertThat(text("SELECT severity || ' ' || message FROM syncwarden.incident WHERE kind = 'error_rate'"))
                .isEqualTo("high 3 of its 4 runs of the last hour failed (more than 50%)");

        serve(200);
        fire("wd-stock");
        fire("wd-stock"); // 3 of 6: no longer more than half
        passAt(0);
        assertThat(text("SELECT status FROM syncwarden.incident WHERE kind = 'error_rate'")).isEqualTo("resolved");
    }

    @Test
    void should_release_a_run_whose_lease_expired_and_fire_the_source_again() throws Exception {
        serve(200);
        fire("wd-stock");
        // a run of a node that died: its lock outlives nobody's heartbeat
        io.syncwarden.sync.SyncRuns live = context.getRegistry().findSingleByType(io.syncwarden.sync.SyncRuns.class);
        io.syncwarden.sync.SyncRuns dead = new io.syncwarden.sync.SyncRuns(live.database(),
                new io.syncwarden.sync.SyncSettings("dead-node", 60_000, 3), new io.syncwarden.sync.SyncMetrics(() -> null));
        long stuck = dead.begin("wd-stock", "http-csv", "schedule").runId();
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE syncwarden.source_lock SET lease_until = CURRENT_TIMESTAMP - INTERVAL '1' MINUTE");
        }

        JsonNode report = passAt(0);

        assertThat(report.get("actions").get(0).get("action").asText()).isEqualTo("release_stuck_run");
        assertThat(text("SELECT status FROM syncwarden.sync_run WHERE run_id = " + stuck)).isEqualTo("abandoned");
        await().atMost(Duration.ofSeconds(20)).until(() -> watchdogRuns("success") == 1);
    }

    @Test
    void should_run_every_source_in_the_resilient_full_sync_and_record_its_verification() throws Exception {
        serve(200);

        fire("resilient-full-sync", "schedule");

        JsonNode report = JSON.readTree(watchdog().latestFullSync());
        JsonNode stock = report.get("sources").get("wd-stock");
        assertThat(stock.get("status").asText()).isEqualTo("success");
        assertThat(stock.get("rowCount").get("total").asLong()).isEqualTo(30);
        assertThat(stock.get("rowCount").get("lastGoodRun").asLong()).isEqualTo(30);
        assertThat(stock.get("freshness").get("status").asText()).isEqualTo("OK");
        assertThat(report.get("overall").asText()).isEqualTo("healthy");
        assertThat(text("SELECT run_trigger || ' ' || status FROM syncwarden.sync_run")).isEqualTo("full_sync success");
        assertThat(watchdog().latestReport()).as("a pass's report is kept apart").isNull();

        serve(503);
        fire("resilient-full-sync", "schedule");

        JsonNode failed = JSON.readTree(watchdog().latestFullSync());
        assertThat(failed.get("sources").get("wd-stock").get("status").asText()).isEqualTo("failed");
        assertThat(failed.get("sources").get("wd-stock").get("health").asText()).isEqualTo("degraded");
        assertThat(failed.get("overall").asText()).isEqualTo("degraded");
    }

    @Test
    void should_delete_control_rows_older_than_the_retention_in_batches_and_keep_what_is_in_use() throws Exception {
        serve(200);
        long kept = fire("wd-stock").runId(); // the source's last run: kept however old
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE syncwarden.sync_run SET started_at = TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00'");
            for (int i = 0; i < 2500; i++) {
                s.addBatch("INSERT INTO syncwarden.sync_run (source_id, source_kind, run_trigger, status, node_id, started_at) "
                        + "VALUES ('wd-stock', 'http-csv', 'schedule', 'success', 'n', TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00')");
            }
            s.executeBatch();
            s.executeUpdate("INSERT INTO syncwarden.sync_run (source_id, source_kind, run_trigger, status, node_id, started_at) "
                    + "VALUES ('wd-stock', 'http-csv', 'schedule', 'success', 'n', CURRENT_TIMESTAMP)");
            s.executeUpdate("INSERT INTO syncwarden.incident (source_id, kind, severity, status, opened_at, updated_at, resolved_at) "
                    + "VALUES ('wd-stock', 'stale', 'high', 'resolved', TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00', "
                    + "TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00', TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00')");
            s.executeUpdate("INSERT INTO syncwarden.incident (source_id, kind, severity, status, open_key, opened_at, updated_at) "
                    + "VALUES ('wd-stock', 'paused', 'high', 'open', 'wd-stock|paused', TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00', "
                    + "TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00')");
            s.executeUpdate("INSERT INTO syncwarden.incident_event (incident_id, event, actor, at) SELECT incident_id, 'opened', 'test', "
                    + "opened_at FROM syncwarden.incident");
            s.executeUpdate("INSERT INTO syncwarden.alert_log (incident_id, source_id, kind, channel, action, severity, plan_key, "
                    + "status, next_attempt_at, created_at, updated_at) SELECT incident_id, source_id, kind, 'slack', 'trigger', "
                    + "severity, 'k' || incident_id, 'sent', opened_at, opened_at, opened_at FROM syncwarden.incident");
            s.executeUpdate("INSERT INTO syncwarden.sync_run (source_id, source_kind, run_trigger, status, node_id, started_at) "
                    + "VALUES ('wd-stock', 'http-csv', 'schedule', 'running', 'n', TIMESTAMP WITH TIME ZONE '2020-01-01 00:00:00+00')");
        }

        fire("retention", "schedule");

        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run")).as("the recent run, the source's last run, a running one")
                .isEqualTo(3);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE status = 'running'")).isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.alert_log")).as("the open incident's alert only").isEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_id = " + kept)).isEqualTo(1);
        assertThat(text("SELECT kind FROM syncwarden.incident")).as("an open incident stays, however old").isEqualTo("paused");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.incident_event")).isEqualTo(1);
    }
}
