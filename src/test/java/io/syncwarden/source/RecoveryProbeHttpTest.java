package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.headRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.syncwarden.heal.Breakers;
import io.syncwarden.sync.SyncTrigger;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The recovery probe on the real routes: while a source is failing (queued, its breaker open for five minutes) a HEAD
 * of its report is sent every second (the test's interval; a minute by default) and no run is started; the first
 * answer runs the sync at once (trigger recovery), which closes the breaker and the retry entry: fresh data within
 * seconds of the upstream's return instead of after the queue's five-minute back-off or the breaker's cool-down.
 */
class RecoveryProbeHttpTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String SOURCE = "it-finale-stock";

    @Override
    protected String testRoutes() {
        return "test-csv-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        p.put("syncwarden.recovery.cron", "0/1 * * * * ?");
        p.put("syncwarden.breaker.failures", "3");
        p.put("syncwarden.breaker.open-s", "300");
    }

    private long probes() {
        return upstream.findAll(headRequestedFor(urlPathEqualTo(STOCK))).size();
    }

    @Test
    void should_probe_a_failing_source_and_sync_it_as_soon_as_its_upstream_answers() throws Exception {
        upstream.stubFor(any(urlPathEqualTo(STOCK)).atPriority(1).willReturn(aResponse().withStatus(503)));
        SyncTrigger.Result failed = fire(SOURCE, "schedule");
        assertThat(failed.status()).isEqualTo("failed");
        CircuitBreaker breaker = context.getRegistry().findSingleByType(Breakers.class).ofSource(SOURCE);
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(text("SELECT status FROM syncwarden.retry_queue")).isEqualTo("pending");

        await().atMost(Duration.ofSeconds(15)).until(() -> probes() >= 2);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_trigger = 'recovery'"))
                .as("no run while the upstream does not answer").isZero();
        assertThat(upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(urlPathEqualTo(STOCK))))
                .as("a probe is a HEAD, never the report").hasSize(3);

        upstream.stubFor(any(urlPathEqualTo(STOCK)).atPriority(1).willReturn(aResponse().withStatus(200)
                .withBody(io.syncwarden.Fixtures.read("finale/products_stock_report.csv"))));

        await().atMost(Duration.ofSeconds(15)).until(() -> "done".equals(text("SELECT status FROM syncwarden.retry_queue")));
        assertThat(text("SELECT status FROM syncwarden.sync_run WHERE run_trigger = 'recovery'")).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(30);
        assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(text("SELECT outcome FROM syncwarden.retry_queue")).contains("(recovery) succeeded");
    }
}
