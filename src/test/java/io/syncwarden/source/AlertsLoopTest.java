package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.equalToJson;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.syncwarden.Fixtures;
import io.syncwarden.alert.Alerts;
import io.syncwarden.heal.Watchdog;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The loop that heals without a person, on the real routes: an upstream (WireMock) fails, the watchdog (its Quartz
 * route fired as the schedule fires it, time moved on an injected clock) judges the source, incidents open and
 * escalate, and the alerts route delivers to Slack and PagerDuty, played by a second WireMock from their documented
 * request and answer shapes. Nothing is faked but the clock and the upstreams.
 */
class AlertsLoopTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String SLACK = "/services/T0000SYNC/B0000WARD/s3cr3tW3bh00kT0k3n";
    private static final String PAGERDUTY = "/v2/enqueue";
    private static final String ROUTING_KEY = "R0UT1NGKEY0000000000000000000042";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Slack and PagerDuty. */
    private WireMockServer channels;

    @Override
    protected String testRoutes() {
        return "test-watchdog-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        channels = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
        channels.start();
        p.put("syncwarden.alerts.slack.webhook-url", channels.baseUrl() + SLACK);
        p.put("syncwarden.alerts.pagerduty.url", channels.baseUrl() + PAGERDUTY);
        p.put("syncwarden.alerts.pagerduty.routing-key", ROUTING_KEY);
        p.put("syncwarden.alerts.delay-ms", "200");
        p.put("syncwarden.alerts.retry-delay-ms", "500");
        p.put("syncwarden.alerts.repeat-minutes", "1"); // so that only the cooldown keeps a second message back
    }

    @AfterEach
    void stopChannels() {
        channels.stop();
    }

    private void serve(int status) throws Exception {
        upstream.resetAll();
        upstream.stubFor(any(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(status).withHeader("Content-Type", "text/csv")
                .withBody(status == 200 ? Fixtures.read("finale/products_stock_report.csv") : "")));
    }

    private void channelsAnswer() throws Exception {
        channels.stubFor(post(urlPathEqualTo(SLACK)).willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/plain")
                .withBody(Fixtures.read("slack/ok.txt"))));
        channels.stubFor(post(urlPathEqualTo(PAGERDUTY)).willReturn(aResponse().withStatus(202)
                .withHeader("Content-Type", "application/json").withBody(Fixtures.read("pagerduty/enqueue_202.json"))));
    }

    /** The watchdog and the alerts judge time by this clock: now plus so many minutes. */
    private void clockAt(long minutesAhead) {
        Clock clock = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(minutesAhead));
        context.getRegistry().lookupByNameAndType("watchdog", Watchdog.class).clock(clock);
        context.getRegistry().lookupByNameAndType("alerts", Alerts.class).clock(clock);
    }

    /** One watchdog pass, as its schedule fires it, this many minutes ahead; its report. */
    private JsonNode passAt(long minutesAhead) throws Exception {
        clockAt(minutesAhead);
        fire("watchdog", "schedule");
        return JSON.readTree(context.getRegistry().lookupByNameAndType("watchdog", Watchdog.class).latestReport());
    }

    private List<LoggedRequest> slack() {
        return channels.findAll(postRequestedFor(urlPathEqualTo(SLACK)));
    }

    private List<LoggedRequest> pagerDuty() {
        return channels.findAll(postRequestedFor(urlPathEqualTo(PAGERDUTY)));
    }

    private long pendingAlerts() throws Exception {
        return count("SELECT COUNT(*) FROM syncwarden.alert_log WHERE status IN ('pending', 'sending')");
    }

    /** The source synced once, then its upstream fails: the run is retried in-route, fails and waits in the queue. */
    private void upstreamStartsFailing() throws Exception {
        serve(200);
        assertThat(fire("wd-stock").status()).isEqualTo("success");
        serve(503);
        assertThat(fire("wd-stock").status()).isEqualTo("failed");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.retry_queue WHERE status = 'pending'")).isEqualTo(1);
    }

    @Test
    void should_heal_and_tell_people_only_while_the_repair_does_not_work() throws Exception {
        channelsAnswer();
        upstreamStartsFailing();

        passAt(15); // 1.5x the 10-minute SLA: warning, logged only
        assertThat(text("SELECT severity FROM syncwarden.incident WHERE kind = 'stale'")).isEqualTo("warning");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.alert_log")).as("a warning is not sent").isZero();

        passAt(25); // 2.5x: high -> Slack
        await().atMost(Duration.ofSeconds(10)).until(() -> slack().size() == 1 && pendingAlerts() == 0);
        JsonNode high = JSON.readTree(slack().get(0).getBodyAsString());
        assertThat(slack().get(0).getHeader("Content-Type")).startsWith("application/json");
        assertThat(high.get("text").asText()).startsWith("HIGH: wd-stock stale: no successful sync for 25 min (due within 10 min); "
                + "a retry is queued for");
        assertThat(high.get("blocks").get(0).toString())
                .isEqualTo("{\"type\":\"header\",\"text\":{\"type\":\"plain_text\",\"text\":\"HIGH: wd-stock stale\"}}");
        assertThat(high.get("blocks").get(1).get("text").get("text").asText())
                .contains("*What is wrong*\nno successful sync for 25 min").contains("*Since*\n")
                .containsPattern("\\*What was tried\\*\nlast run \\d+ \\(manual\\) failed after \\d+ attempt\\(s\\): .*503.*; "
                        + "retry queue: 0 attempt\\(s\\) so far, next at ")
                .contains("*What to do*\nCheck the upstream");

        passAt(30); // still high, inside the cooldown: nothing more
        assertThat(count("SELECT COUNT(*) FROM syncwarden.alert_log")).isEqualTo(1);

        passAt(45); // 4.5x: critical -> PagerDuty trigger, and Slack (the cooldown has passed)
        await().atMost(Duration.ofSeconds(10)).until(() -> pagerDuty().size() == 1 && slack().size() == 2 && pendingAlerts() == 0);
        long incident = count("SELECT incident_id FROM syncwarden.incident WHERE kind = 'stale'");
        JsonNode trigger = JSON.readTree(pagerDuty().get(0).getBodyAsString());
        assertThat(trigger.get("routing_key").asText()).isEqualTo(ROUTING_KEY);
        assertThat(trigger.get("event_action").asText()).isEqualTo("trigger");
        assertThat(trigger.get("dedup_key").asText()).isEqualTo("syncwarden/incident/" + incident);
        assertThat(trigger.get("payload").get("severity").asText()).isEqualTo("critical");
        assertThat(trigger.get("payload").get("summary").asText()).startsWith("CRITICAL: wd-stock stale: no successful sync for 45 min");
        assertThat(trigger.get("payload").get("component").asText()).isEqualTo("wd-stock");
        assertThat(trigger.get("payload").get("class").asText()).isEqualTo("stale");
        assertThat(trigger.get("payload").get("custom_details").get("what_to_do").asText()).startsWith("Check the upstream");
        assertThat(JSON.readTree(slack().get(1).getBodyAsString()).get("text").asText()).startsWith("CRITICAL: wd-stock stale");

        // the upstream recovers: the recovery probe (its schedule's route) finds it answering and syncs at once
        serve(200);
        fire("recovery-probe", "schedule");
        await().atMost(Duration.ofSeconds(20)).until(() -> "resolved".equals(text("SELECT status FROM syncwarden.incident "
                + "WHERE kind = 'stale'")));
        assertThat(text("SELECT resolved_by FROM syncwarden.incident WHERE kind = 'stale'")).matches("run \\d+ \\(recovery\\)");

        await().atMost(Duration.ofSeconds(10)).until(() -> pagerDuty().size() == 2 && slack().size() == 3);
        channels.verify(postRequestedFor(urlPathEqualTo(PAGERDUTY)).withRequestBody(equalToJson("{\"routing_key\":\"" + ROUTING_KEY
                + "\",\"event_action\":\"resolve\",\"dedup_key\":\"syncwarden/incident/" + incident + "\"}")));
        assertThat(JSON.readTree(slack().get(2).getBodyAsString()).get("text").asText())
                .matches("RESOLVED: wd-stock stale \\(incident " + incident + "\\) after \\d+ min; resolved by run \\d+ \\(recovery\\)");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.alert_log WHERE status = 'sent'")).isEqualTo(5);
        io.micrometer.core.instrument.MeterRegistry meters = context.getRegistry()
                .findSingleByType(io.micrometer.core.instrument.MeterRegistry.class);
        assertThat(meters.get("syncwarden.alerts").tag("channel", "slack").tag("outcome", "sent").counter().count()).isEqualTo(3.0);
        assertThat(meters.get("syncwarden.incidents").tag("event", "resolved").tag("severity", "critical").counter().count())
                .isEqualTo(1.0);
    }

    @Test
    void should_not_alert_on_a_stale_source_the_watchdog_repaired_in_its_first_pass() throws Exception {
        channelsAnswer();
        serve(200);
        fire("wd-stock");

        passAt(25); // high, but nothing holds it: fired again, and the re-fired sync works
        await().atMost(Duration.ofSeconds(20)).until(() -> "resolved".equals(text("SELECT status FROM syncwarden.incident")));
        passAt(0); // the next pass: fresh

        assertThat(count("SELECT COUNT(*) FROM syncwarden.alert_log")).as("nothing planned").isZero();
        assertThat(slack()).isEmpty();
        assertThat(pagerDuty()).isEmpty();
    }

    @Test
    void should_wait_for_slacks_retry_after_when_it_answers_429_and_deliver_then() throws Exception {
        channels.stubFor(post(urlPathEqualTo(SLACK)).inScenario("limit").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(aResponse().withStatus(429).withHeader("Retry-After", "3600").withBody("rate_limited"))
                .willSetStateTo("open"));
        channels.stubFor(post(urlPathEqualTo(SLACK)).inScenario("limit").whenScenarioStateIs("open")
                .willReturn(aResponse().withStatus(200).withBody(Fixtures.read("slack/ok.txt"))));
        upstreamStartsFailing();

        passAt(25);
        await().atMost(Duration.ofSeconds(10)).until(() -> slack().size() == 1
                && "HTTP 429 rate_limited".equals(text("SELECT last_error FROM syncwarden.alert_log")));
        Instant next;
        try (java.sql.Connection c = target(); java.sql.Statement st = c.createStatement();
             java.sql.ResultSet rs = st.executeQuery("SELECT next_attempt_at FROM syncwarden.alert_log")) {
            rs.next();
            next = rs.getObject(1, java.time.OffsetDateTime.class).toInstant();
        }
        assertThat(next).as("Slack's Retry-After, not our back-off").isAfter(Instant.now().plus(Duration.ofMinutes(84)));
        assertThat(text("SELECT status FROM syncwarden.alert_log")).isEqualTo("pending");

        clockAt(86); // an hour after the 429
        await().atMost(Duration.ofSeconds(10)).until(() -> "sent".equals(text("SELECT status FROM syncwarden.alert_log")));
        assertThat(slack()).hasSize(2);
        assertThat(count("SELECT attempts FROM syncwarden.alert_log")).isEqualTo(2);
    }

    @Test
    void should_give_up_a_message_slack_refuses_and_count_it_failed() throws Exception {
        channels.stubFor(post(urlPathEqualTo(SLACK)).willReturn(aResponse().withStatus(400).withBody(Fixtures.read("slack/error_invalid_payload.txt"))));
        upstreamStartsFailing();

        passAt(25);
        await().atMost(Duration.ofSeconds(10)).until(() -> "failed".equals(text("SELECT status FROM syncwarden.alert_log")));

        assertThat(text("SELECT last_error FROM syncwarden.alert_log")).startsWith("HTTP 400 invalid_payload");
        assertThat(slack()).as("a refused request is not repeated").hasSize(1);
        io.micrometer.core.instrument.MeterRegistry meters = context.getRegistry()
                .findSingleByType(io.micrometer.core.instrument.MeterRegistry.class);
        assertThat(meters.get("syncwarden.alerts").tag("channel", "slack").tag("outcome", "failed").counter().count()).isEqualTo(1.0);
        passAt(30);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.alert_log")).as("not planned again inside the cooldown").isEqualTo(1);
        passAt(41);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.alert_log WHERE channel = 'slack'"))
                .as("a failed message is not 'told': planned again after the cooldown").isEqualTo(2);
    }

    @Test
    void should_retry_a_channel_that_does_not_answer() throws Exception {
        channels.stop(); // Slack and PagerDuty unreachable
        upstreamStartsFailing();

        passAt(45);
        await().atMost(Duration.ofSeconds(10)).until(() -> count("SELECT COUNT(*) FROM syncwarden.alert_log "
                + "WHERE status = 'pending' AND attempts >= 1") == 2);
        assertThat(text("SELECT MAX(last_error) FROM syncwarden.alert_log")).contains("Connection refused");
    }

    @Test
    void should_sync_while_a_channel_is_slow_to_answer() throws Exception {
        channels.stubFor(post(urlPathEqualTo(SLACK)).willReturn(aResponse().withStatus(200).withFixedDelay(8000)
                .withBody(Fixtures.read("slack/ok.txt"))));
        upstreamStartsFailing();
        passAt(25);
        await().atMost(Duration.ofSeconds(10)).until(() -> "sending".equals(text("SELECT status FROM syncwarden.alert_log")));

        serve(200);
        assertThat(fire("wd-stock").status()).isEqualTo("success");

        assertThat(text("SELECT status FROM syncwarden.alert_log")).as("the sync did not wait for Slack").isEqualTo("sending");
        await().atMost(Duration.ofSeconds(20)).until(() -> "sent".equals(text("SELECT status FROM syncwarden.alert_log "
                + "WHERE action = 'trigger'")));
    }
}
