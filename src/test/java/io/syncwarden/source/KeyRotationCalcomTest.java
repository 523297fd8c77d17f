package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import io.syncwarden.sync.SyncTrigger;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.Properties;
import org.apache.camel.health.HealthCheckHelper;
import org.junit.jupiter.api.Test;

/**
 * API keys that rotate (Cal.com, two keys in one comma-separated setting): a rate-limited key rests until its reset
 * and the other key takes the next attempt at once; when every key rests the source waits for the earliest reset,
 * recorded as rate_limited (not a failure), and no automatic run of it starts before then. Keys never show.
 */
class KeyRotationCalcomTest extends UpstreamStubTestSupport {
    private static final String ONE = "cal_key_one_0123456789";
    private static final String TWO = "cal_key_two_9876543210";
    private static final String BOOKINGS = "/v2/bookings";

    @Override
    protected String testRoutes() {
        return "test-calcom-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        calcomProperties(p, ONE + ", " + TWO);
        p.put("syncwarden.retry.max-rate-limit-wait-ms", "2000");
        p.put("syncwarden.breaker.failures", "2"); // rate limits must never open it
    }

    private void limited(String key, int resetSeconds) throws Exception {
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withHeader("Authorization", equalTo("Bearer " + key))
                .willReturn(aResponse().withStatus(429).withHeader("Content-Type", "application/json")
                        .withHeader("X-RateLimit-Limit-Default", "120").withHeader("X-RateLimit-Remaining-Default", "0")
                        .withHeader("X-RateLimit-Reset-Default", String.valueOf(resetSeconds))
                        .withBody(io.syncwarden.Fixtures.read("calcom/error_429.json"))));
    }

    private long requestsWith(String key) {
        return upstream.findAll(getRequestedFor(urlPathEqualTo(BOOKINGS)).withHeader("Authorization", equalTo("Bearer " + key))).size();
    }

    @Test
    void should_rest_a_rate_limited_key_and_go_on_at_once_with_the_next() throws Exception {
        limited(ONE, 60);
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withHeader("Authorization", equalTo("Bearer " + TWO))
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "application/json")
                        .withBody(io.syncwarden.Fixtures.read("calcom/bookings_page2.json"))));

        SyncTrigger.Result result = fire("it-calcom", "schedule");

        assertThat(result.status()).isEqualTo("success");
        assertThat(requestsWith(ONE)).as("the limited key rests: asked once").isEqualTo(1);
        assertThat(requestsWith(TWO)).isGreaterThanOrEqualTo(1);
        assertThat(count("SELECT COUNT(*) FROM bookings")).isEqualTo(3);
        assertThat(text("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo("2");
        assertThat(text("SELECT error_message FROM syncwarden.failure_log")).contains("429").doesNotContain(ONE).doesNotContain(TWO);
        assertThat(text("SELECT not_before FROM syncwarden.source_health WHERE source_id = 'it-calcom'"))
                .as("another key was free: the source is not held").isNull();
    }

    @Test
    void should_wait_for_the_earliest_reset_when_every_key_rests_and_start_no_run_before_it() throws Exception {
        limited(ONE, 3600);
        limited(TWO, 1800);
        Instant before = Instant.now();

        SyncTrigger.Result result = fire("it-calcom", "schedule");

        assertThat(result.status()).isEqualTo("rate_limited");
        assertThat(requestsWith(ONE)).isEqualTo(1);
        assertThat(requestsWith(TWO)).isEqualTo(1);
        Instant notBefore;
        try (var c = target(); var s = c.createStatement();
             var rs = s.executeQuery("SELECT not_before FROM syncwarden.source_health WHERE source_id = 'it-calcom'")) {
            rs.next();
            notBefore = rs.getObject(1, OffsetDateTime.class).toInstant();
        }
        assertThat(notBefore).as("the earliest reset: key two's").isBetween(before.plusSeconds(1799), Instant.now().plusSeconds(1800));
        assertThat(text("SELECT consecutive_failures || ' ' || last_run_status FROM syncwarden.source_health "
                + "WHERE source_id = 'it-calcom'")).as("waiting is not failing").isEqualTo("0 rate_limited");
        assertThat(text("SELECT status FROM syncwarden.retry_queue")).isEqualTo("pending");
        assertThat(HealthCheckHelper.invokeReadiness(context, "full"))
                .filteredOn(r -> r.getCheck().getId().equals("source-it-calcom")).singleElement()
                .satisfies(r -> assertThat(r.getDetails()).containsEntry("source.status", "rate_limited")
                        .containsKey("source.rate_limited_until"));
        assertThat(HealthCheckHelper.invokeReadiness(context, "full").toString()).doesNotContain(ONE).doesNotContain(TWO);

        long runs = count("SELECT COUNT(*) FROM syncwarden.sync_run");
        SyncTrigger.Result early = fire("it-calcom", "schedule");

        assertThat(early.status()).isEqualTo("rate_limited");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run")).as("no run before the reset").isEqualTo(runs);
        assertThat(requestsWith(ONE) + requestsWith(TWO)).isEqualTo(2);
    }

    @Test
    void should_not_open_the_breaker_on_rate_limits_alone() throws Exception {
        limited(ONE, 3600);
        limited(TWO, 1800);

        for (int i = 0; i < 3; i++) {
            assertThat(fire("it-calcom", "manual").status()).isEqualTo("rate_limited");
        }

        assertThat(context.getRegistry().findSingleByType(io.syncwarden.heal.Breakers.class).ofSource("it-calcom").getState())
                .as("the upstream answered every time, if only to say wait")
                .isEqualTo(io.github.resilience4j.circuitbreaker.CircuitBreaker.State.CLOSED);
        assertThat(requestsWith(ONE) + requestsWith(TWO)).as("every run asked (none skipped by a breaker)").isGreaterThanOrEqualTo(4);
    }
}
