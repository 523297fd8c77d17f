package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.micrometer.core.instrument.MeterRegistry;
import io.syncwarden.heal.Breakers;
import io.syncwarden.sync.SyncTrigger;
import java.time.Duration;
import java.util.Properties;
import org.apache.camel.health.HealthCheckHelper;
import org.junit.jupiter.api.Test;

/**
 * The source's circuit breaker (Camel's circuitBreaker EIP, resilience4j) on the real http-csv route: it opens after
 * N failed calls, a failure inside it still reaches the dead-letter channel and the retry queue, a run while it is
 * open is skipped without a request, and a success in half-open closes it. State in source_health, health and metrics.
 */
class CircuitBreakerHttpTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String SOURCE = "it-finale-stock";
    private static final String KEY = FINALE_KEY;
    private static final String SECRET = FINALE_SECRET;

    @Override
    protected String testRoutes() {
        return "test-csv-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        // one attempt and two in-route redeliveries: three failed calls open the breaker
        p.put("syncwarden.breaker.failures", "3");
        p.put("syncwarden.breaker.open-s", "2");
    }

    private long requests() {
        return upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK))).size();
    }

    private CircuitBreaker breaker() {
        return context.getRegistry().findSingleByType(Breakers.class).ofSource(SOURCE);
    }

    @Test
    void should_open_after_n_failed_calls_skip_runs_while_open_and_close_after_a_success_in_half_open() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).atPriority(1).willReturn(aResponse().withStatus(503)));

        SyncTrigger.Result failed = fire(SOURCE, "schedule");

        assertThat(failed.status()).isEqualTo("failed");
        assertThat(requests()).isEqualTo(3);
        assertThat(breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(text("SELECT status || ' ' || error_class FROM syncwarden.retry_queue"))
                .as("a failure inside the breaker still reaches the dead-letter channel and the queue")
                .isEqualTo("pending recoverable");
        assertThat(text("SELECT circuit_state FROM syncwarden.source_health WHERE source_id = '" + SOURCE + "'")).isEqualTo("open");
        MeterRegistry meters = context.getRegistry().findSingleByType(MeterRegistry.class);
        assertThat(meters.get("syncwarden.circuit.state").tag("breaker", SOURCE).gauge().value()).isEqualTo(2.0);
        assertThat(HealthCheckHelper.invokeReadiness(context, "full"))
                .filteredOn(r -> r.getCheck().getId().equals("source-" + SOURCE)).singleElement()
                .satisfies(r -> assertThat(r.getDetails()).containsEntry("source.circuit", "open"));

        SyncTrigger.Result skipped = fire(SOURCE, "schedule");

        assertThat(skipped.status()).isEqualTo("skipped");
        assertThat(requests()).as("no request while open").isEqualTo(3);
        assertThat(text("SELECT status || ' ' || error_class FROM syncwarden.sync_run WHERE run_id = " + skipped.runId()))
                .isEqualTo("skipped circuit_open");
        assertThat(text("SELECT error_message FROM syncwarden.sync_run WHERE run_id = " + skipped.runId()))
                .contains("circuit breaker " + SOURCE + "-breaker is open");
        assertThat(text("SELECT consecutive_failures FROM syncwarden.source_health WHERE source_id = '" + SOURCE + "'"))
                .as("a skipped run is not a failure").isEqualTo("1");

        upstream.stubFor(get(urlPathEqualTo(STOCK)).atPriority(1).withBasicAuth(KEY, SECRET)
                .willReturn(aResponse().withStatus(200).withBody(io.syncwarden.Fixtures.read("finale/products_stock_report.csv"))));
        await().atMost(Duration.ofSeconds(10)).until(() -> breaker().getState() == CircuitBreaker.State.HALF_OPEN);
        assertThat(text("SELECT circuit_state FROM syncwarden.source_health WHERE source_id = '" + SOURCE + "'")).isEqualTo("half_open");

        SyncTrigger.Result ok = fire(SOURCE, "schedule");

        assertThat(ok.status()).isEqualTo("success");
        assertThat(breaker().getState()).isEqualTo(CircuitBreaker.State.CLOSED);
        assertThat(text("SELECT circuit_state FROM syncwarden.source_health WHERE source_id = '" + SOURCE + "'")).isEqualTo("closed");
        assertThat(text("SELECT status FROM syncwarden.retry_queue")).as("the good run closed the queue entry").isEqualTo("done");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(30);
    }

    @Test
    void should_not_count_a_retry_the_open_breaker_skipped_as_an_attempt() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).atPriority(1).willReturn(aResponse().withStatus(500)));
        fire(SOURCE, "schedule");
        assertThat(breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        try (var c = target(); var s = c.createStatement()) {
            s.executeUpdate("UPDATE syncwarden.retry_queue SET next_retry_at = CURRENT_TIMESTAMP - INTERVAL '1' SECOND");
        }

        fire("retry-queue", "schedule");

        await().atMost(Duration.ofSeconds(10)).until(() -> "pending".equals(text("SELECT status FROM syncwarden.retry_queue"))
                && count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_trigger = 'retry'") == 1);
        assertThat(text("SELECT attempts || ' ' || outcome FROM syncwarden.retry_queue")).isEqualTo("0 circuit breaker open");
        assertThat(requests()).isEqualTo(3);
    }

    @Test
    void should_record_a_run_whose_own_failures_opened_the_breaker_as_failed_and_queue_it() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).atPriority(1).willReturn(aResponse().withStatus(503)));
        SyncTrigger.Result first = fire(SOURCE, "schedule");
        assertThat(first.status()).isEqualTo("failed");
        // the breaker (3 failed calls open it) closed again with one failure on record: the next run's second call opens it
        breaker().reset();
        breaker().onError(0, java.util.concurrent.TimeUnit.MILLISECONDS, new RuntimeException("an earlier failure"));

        SyncTrigger.Result run = fire(SOURCE, "schedule");

        assertThat(requests()).as("two calls, then the open breaker stops the run").isEqualTo(5);
        assertThat(breaker().getState()).isEqualTo(CircuitBreaker.State.OPEN);
        assertThat(run.status()).as("it sent requests and failed: not a skip").isEqualTo("failed");
        assertThat(text("SELECT error_class || ' ' || error_message FROM syncwarden.sync_run WHERE run_id = " + run.runId()))
                .startsWith("recoverable HTTP 503");
        assertThat(text("SELECT status || ' ' || last_run_id FROM syncwarden.retry_queue")).isEqualTo("pending " + run.runId());
    }
}
