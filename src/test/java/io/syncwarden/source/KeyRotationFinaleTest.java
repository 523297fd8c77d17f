package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import io.syncwarden.sync.SyncTrigger;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** An http-csv source with two Finale key/secret pairs (Basic auth): a pair the report server rate-limits rests. */
class KeyRotationFinaleTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String KEY_2 = "fin-key-2";
    private static final String SECRET_2 = "fin-secret-2";

    @Override
    protected String testRoutes() {
        return "test-csv-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        p.put("syncwarden.retry.max-rate-limit-wait-ms", "2000");
    }

    private void limited(String key, String secret, int retryAfterSeconds) {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).withBasicAuth(key, secret)
                .willReturn(aResponse().withStatus(429).withHeader("Retry-After", String.valueOf(retryAfterSeconds))));
    }

    private long requestsWith(String key, String secret) {
        return upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK)).withBasicAuth(
                new com.github.tomakehurst.wiremock.client.BasicCredentials(key, secret))).size();
    }

    @Test
    void should_rest_a_rate_limited_pair_and_go_on_at_once_with_the_next() throws Exception {
        limited(FINALE_KEY, FINALE_SECRET, 60);
        upstream.stubFor(get(urlPathEqualTo(STOCK)).withBasicAuth(KEY_2, SECRET_2).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "text/csv").withBody(io.syncwarden.Fixtures.read("finale/products_stock_report.csv"))));

        SyncTrigger.Result first = fire("it-finale-keys", "schedule");
        SyncTrigger.Result second = fire("it-finale-keys", "schedule");

        assertThat(run(first.runId())).containsEntry("status", "success").containsEntry("inserted", 30L);
        assertThat(text("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + first.runId())).isEqualTo("2");
        assertThat(run(second.runId())).containsEntry("status", "success");
        assertThat(requestsWith(FINALE_KEY, FINALE_SECRET)).as("the limited pair rests across runs: asked once").isEqualTo(1);
        assertThat(requestsWith(KEY_2, SECRET_2)).isEqualTo(2);
        assertThat(text("SELECT not_before FROM syncwarden.source_health WHERE source_id = 'it-finale-keys'"))
                .as("another pair was free: the source is not held").isNull();
        assertThat(text("SELECT error_message FROM syncwarden.failure_log")).contains("429")
                .doesNotContain(FINALE_SECRET).doesNotContain(SECRET_2);
    }

    @Test
    void should_wait_for_the_earliest_reset_when_every_pair_rests_and_start_no_run_before_it() throws Exception {
        limited(FINALE_KEY, FINALE_SECRET, 3600);
        limited(KEY_2, SECRET_2, 1800);

        SyncTrigger.Result result = fire("it-finale-keys", "schedule");

        assertThat(result.status()).isEqualTo("rate_limited");
        assertThat(text("SELECT consecutive_failures || ' ' || last_run_status FROM syncwarden.source_health "
                + "WHERE source_id = 'it-finale-keys'")).as("waiting is not failing").isEqualTo("0 rate_limited");
        long runs = count("SELECT COUNT(*) FROM syncwarden.sync_run");

        SyncTrigger.Result early = fire("it-finale-keys", "schedule");

        assertThat(early.status()).isEqualTo("rate_limited");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run")).as("no run before the reset").isEqualTo(runs);
        assertThat(requestsWith(FINALE_KEY, FINALE_SECRET) + requestsWith(KEY_2, SECRET_2)).isEqualTo(2);
    }
}
