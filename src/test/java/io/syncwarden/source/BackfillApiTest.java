package io.syncwarden.source;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * Backfill through the API on a replica source (its watermark has dates), with /api/health closed to callers
 * without a token (syncwarden.api.health-public=false).
 */
class BackfillApiTest extends UpstreamStubTestSupport {
    private static final String OPERATOR = "backfill-operator-token-5d2e";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private int port;

    @Override
    protected String testRoutes() {
        return "test-status-page-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        String replicaUrl = ordersReplica();
        port = freePort();
        p.put("test.replica.url", replicaUrl);
        p.put("camel.server.enabled", "true");
        p.put("camel.server.port", String.valueOf(port));
        p.put("syncwarden.api.health-public", "false");
        p.put("syncwarden.api.tokens", "bf-ops:operator:" + sha256(OPERATOR));
    }

    private HttpResponse<String> call(String method, String path, String token, String body) throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode status() throws Exception {
        return JSON.readTree(call("GET", "/api/sources/page-orders/backfill/status", OPERATOR, null).body());
    }

    @Test
    void should_backfill_through_the_api_one_at_a_time_and_close_health_when_asked() throws Exception {
        assertThat(call("GET", "/api/health", null, null).statusCode()).as("health-public=false").isEqualTo(401);
        assertThat(call("GET", "/api/health", OPERATOR, null).statusCode()).isEqualTo(200);
        assertThat(fire("page-orders").status()).isEqualTo("success");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("DELETE FROM page_orders WHERE id BETWEEN 24 AND 47"); // 2 March lost in the target
        }

        HttpResponse<String> started = call("POST", "/api/sources/page-orders/backfill", OPERATOR, "{\"from\":\"2026-03-02\",\"to\":\"2026-03-02\"}");

        assertThat(started.statusCode()).as(started.body()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(20)).until(() -> "done".equals(status().path("status").asText()));
        JsonNode done = status();
        assertThat(done.get("rows_read").asLong()).isEqualTo(24);
        assertThat(done.get("rows_written").asLong()).isEqualTo(24);
        assertThat(count("SELECT COUNT(*) FROM page_orders")).isEqualTo(240);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.audit_log WHERE action = 'backfill' AND outcome = 'done'")).isEqualTo(1);

        try (Connection c = target(); Statement s = c.createStatement()) {
            // another node's backfill of the source is running
            s.executeUpdate("INSERT INTO syncwarden.backfill_job (source_id, active_source, from_day, to_day, status, requested_by, "
                    + "created_at, started_at) VALUES ('page-orders', 'page-orders', DATE '2026-03-01', DATE '2026-03-01', 'running', "
                    + "'other', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)");
        }
        HttpResponse<String> second = call("POST", "/api/sources/page-orders/backfill", OPERATOR, "{\"from\":\"2026-03-03\",\"to\":\"2026-03-03\"}");
        assertThat(second.statusCode()).isEqualTo(409);
        assertThat(second.body()).contains("is active already");
    }

    @Test
    void should_read_everything_again_on_a_restart_and_only_the_changes_otherwise() throws Exception {
        assertThat(fire("page-orders").status()).isEqualTo("success");
        assertThat(fire("page-orders").status()).isEqualTo("success");
        long incremental = count("SELECT rows_read FROM syncwarden.sync_run ORDER BY run_id DESC FETCH FIRST 1 ROWS ONLY");

        HttpResponse<String> restart = call("POST", "/api/sources/page-orders/sync", OPERATOR, "{\"restart\": true}");

        assertThat(restart.statusCode()).as(restart.body()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(20)).until(() -> count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE status = 'success'") == 3);
        assertThat(incremental).as("an incremental run reads the lookback window only").isLessThan(240);
        assertThat(count("SELECT rows_read FROM syncwarden.sync_run ORDER BY run_id DESC FETCH FIRST 1 ROWS ONLY"))
                .as("the restart read all").isEqualTo(240);
    }
}
