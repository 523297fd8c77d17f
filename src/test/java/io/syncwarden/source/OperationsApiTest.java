package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncwarden.Fixtures;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The operations API over HTTP on the business port, against the real routes: roles and their refusals, the JSON
 * shapes, the audit log, and that no answer ever carries a configured secret.
 */
class OperationsApiTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String VIEWER = "viewer-token-1f2e3d";
    private static final String OPERATOR = "operator-token-4c5b6a";
    private static final String ADMIN = "admin-token-7a8b9c";
    private static final String DB_PASSWORD = "Db-S3cret-Pa55";
    private static final String SLACK = "https://hooks.slack.com/services/T0000/B0000/xoxWebhookS3cret";
    private static final String ROUTING_KEY = "R0UT1NGKEY0000000000000000000099";
    private static final String QSTASH_KEY = "sig_TESTcurrentKey0000000000000000";
    private static final String HMAC_SECRET = "hmac-S3cret-for-schedulers-0123456789abcdef";
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private int port;

    @Override
    protected String testRoutes() {
        return "test-watchdog-sources.camel.yaml";
    }

    @Override
    protected void targetDatabase() {
        super.targetDatabase();
        targetPassword = DB_PASSWORD; // an in-memory H2 database takes the password of its first connection
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        port = freePort();
        p.put("camel.server.enabled", "true");
        p.put("camel.server.port", String.valueOf(port));
        p.put("syncwarden.api.tokens", "ci-viewer:viewer:" + sha256(VIEWER) + ",ci-operator:operator:" + sha256(OPERATOR)
                + "; ci-admin:admin:" + sha256(ADMIN));
        p.put("syncwarden.alerts.slack.webhook-url", SLACK);
        p.put("syncwarden.alerts.pagerduty.routing-key", ROUTING_KEY);
        p.put("syncwarden.api.public-url", "https://sync.example.com");
        p.put("syncwarden.triggers.qstash.current-key", QSTASH_KEY);
        p.put("syncwarden.triggers.hmac-secret", HMAC_SECRET);
    }



    private void serve(int status) throws Exception {
        upstream.resetAll();
        upstream.stubFor(any(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(status).withHeader("Content-Type", "text/csv")
                .withBody(status == 200 ? Fixtures.read("finale/products_stock_report.csv") : "")));
    }

    private record Answer(int status, JsonNode json, String body) {
    }

    private Answer call(String method, String path, String token, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        JsonNode json = null;
        try {
            json = JSON.readTree(response.body());
        } catch (Exception e) {
            // not JSON: left null, the assertions say so
        }
        return new Answer(response.statusCode(), json, response.body());
    }

    private Answer get(String path, String token) throws Exception {
        return call("GET", path, token, null);
    }

    @Test
    void should_answer_health_without_a_token_in_its_documented_shape() throws Exception {
        serve(200);
        fire("wd-stock");

        Answer health = get("/api/health", null);

        assertThat(health.status()).isEqualTo(200);
        JsonNode json = health.json();
        assertThat(json.get("overall").asText()).isEqualTo("healthy");
        JsonNode stock = json.get("services").get("wd-stock");
        assertThat(stock.get("status").asText()).isEqualTo("healthy");
        assertThat(stock.get("totalRows").asLong()).isEqualTo(30);
        assertThat(stock.get("latency").asText()).matches("\\d+ms");
        JsonNode database = json.get("services").get("database");
        assertThat(database.get("status").asText()).isEqualTo("up");
        assertThat(database.get("circuitBreakerOpen").asBoolean()).isFalse();
        assertThat(database.get("consecutiveFailures").asInt()).isZero();
        assertThat(json.get("syncHealth").get("status").asText()).isEqualTo("recent");
        assertThat(json.get("syncHealth").get("minutesAgo").asLong()).isZero();
        assertThat(json.get("blocked").asBoolean()).isFalse();
    }

    @Test
    void should_refuse_every_other_call_without_a_token_and_a_role_too_low() throws Exception {
        List<String[]> calls = List.of(new String[] {"GET", "/api/sources"}, new String[] {"GET", "/api/sources/wd-stock"},
                new String[] {"GET", "/api/sources/wd-stock/runs"}, new String[] {"GET", "/api/sources/wd-stock/rejected"},
                new String[] {"GET", "/api/watchdog"}, new String[] {"GET", "/api/retries"}, new String[] {"GET", "/api/incidents"},
                new String[] {"GET", "/api/blocking"}, new String[] {"GET", "/api/audit"}, new String[] {"POST", "/api/watchdog"},
                new String[] {"POST", "/api/sources/wd-stock/sync"}, new String[] {"DELETE", "/api/sources/wd-stock/sync"},
                new String[] {"POST", "/api/sources/wd-stock/pause"}, new String[] {"POST", "/api/sources/wd-stock/resume"},
                new String[] {"POST", "/api/sources/wd-stock/allow-next"}, new String[] {"POST", "/api/sources/wd-stock/rollback"},
                new String[] {"POST", "/api/sources/wd-stock/rejected/replay"}, new String[] {"POST", "/api/retries/1/retry-now"},
                new String[] {"DELETE", "/api/retries/1"}, new String[] {"POST", "/api/incidents/1/acknowledge"},
                new String[] {"POST", "/api/incidents/1/resolve"});
        for (String[] c : calls) {
            Answer anonymous = call(c[0], c[1], null, null);
            assertThat(anonymous.status()).as("%s %s without a token", c[0], c[1]).isEqualTo(401);
            assertThat(anonymous.json().get("error").asText()).isEqualTo("unauthorized");
            assertThat(call(c[0], c[1], "not-a-token", null).status()).as("%s %s with an unknown token", c[0], c[1]).isEqualTo(401);
        }
        assertThat(call("POST", "/api/sources/wd-stock/sync", VIEWER, null).status()).isEqualTo(403);
        assertThat(call("POST", "/api/sources/wd-stock/allow-next", OPERATOR, null).status()).isEqualTo(403);
        assertThat(call("DELETE", "/api/retries/1", OPERATOR, null).status()).isEqualTo(403);
        Answer forbidden = get("/api/audit", OPERATOR);
        assertThat(forbidden.status()).isEqualTo(403);
        assertThat(forbidden.json().get("message").asText()).isEqualTo("this needs the role admin; token ci-operator has operator");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.audit_log WHERE outcome = 'denied' AND actor = 'anonymous'"))
                .as("every refused change is audited").isEqualTo(2L * 12);
        assertThat(text("SELECT actor || ' ' || action || ' ' || outcome FROM syncwarden.audit_log WHERE actor = 'ci-viewer'"))
                .isEqualTo("ci-viewer sync denied");
    }

    @Test
    void should_run_a_sync_on_request_refuse_a_second_while_one_is_active_and_audit_both() throws Exception {
        serve(200);

        Answer started = call("POST", "/api/sources/wd-stock/sync", OPERATOR, null);

        assertThat(started.status()).isEqualTo(202);
        assertThat(started.json().get("accepted").asBoolean()).isTrue();
        await().atMost(Duration.ofSeconds(20)).until(() -> count("SELECT COUNT(*) FROM syncwarden.sync_run "
                + "WHERE run_trigger = 'manual' AND status = 'success'") == 1);
        try (Connection c = target(); java.sql.PreparedStatement ps = c.prepareStatement("INSERT INTO syncwarden.source_lock "
                + "(source_id, run_id, node_id, acquired_at, heartbeat_at, lease_until) VALUES ('wd-stock', 999, 'other-node', ?, ?, ?)")) {
            // a run of another node holds the source
            java.time.OffsetDateTime now = java.time.OffsetDateTime.now(java.time.ZoneOffset.UTC);
            ps.setObject(1, now);
            ps.setObject(2, now);
            ps.setObject(3, now.plusMinutes(5));
            ps.executeUpdate();
        }
        Answer busy = call("POST", "/api/sources/wd-stock/sync", OPERATOR, null);
        assertThat(busy.status()).isEqualTo(409);
        assertThat(busy.json().get("message").asText()).contains("run 999");
        Answer stop = call("DELETE", "/api/sources/wd-stock/sync", OPERATOR, null);
        assertThat(stop.status()).as("another node's run: asked through its lock").isEqualTo(202);
        assertThat(stop.json().get("runId").asLong()).isEqualTo(999);
        assertThat(text("SELECT stop_requested_by FROM syncwarden.source_lock")).isEqualTo("ci-operator");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.audit_log WHERE actor = 'ci-operator' AND action = 'sync'")).isEqualTo(2);
        assertThat(text("SELECT outcome FROM syncwarden.audit_log WHERE action = 'sync' ORDER BY audit_id DESC FETCH FIRST 1 ROWS ONLY"))
                .isEqualTo("refused");
    }

    @Test
    void should_describe_sources_with_their_freshness_rows_and_last_run_and_page_their_runs() throws Exception {
        serve(200);
        fire("wd-stock");
        fire("wd-stock");

        JsonNode list = get("/api/sources", VIEWER).json();
        JsonNode one = get("/api/sources/wd-stock", VIEWER).json();
        JsonNode runs = get("/api/sources/wd-stock/runs?size=1", VIEWER).json();

        List<String> ids = new ArrayList<>();
        list.get("sources").forEach(s -> ids.add(s.get("id").asText() + (s.get("enabled").asBoolean() ? "" : " (off)")));
        assertThat(ids).as("every configured source, switched off ones too").contains("wd-stock", "finale-stock (off)");
        assertThat(one.get("health").get("last_row_count").isIntegralNumber()).isTrue();
        assertThat(one.get("kind").asText()).isEqualTo("http-csv");
        assertThat(one.get("status").asText()).isEqualTo("healthy");
        assertThat(one.get("freshness").get("severity").asText()).isEqualTo("ok");
        assertThat(one.get("rows").get("target").asLong()).isEqualTo(30);
        assertThat(one.get("lastRun").get("status").asText()).isEqualTo("success");
        assertThat(one.get("why").get("breaker").asText()).isEqualTo("closed");
        assertThat(runs.get("total").asLong()).isEqualTo(2);
        assertThat(runs.get("items")).hasSize(1);
        assertThat(get("/api/sources/nope", VIEWER).status()).isEqualTo(404);
        assertThat(get("/api/sources/wd-stock/runs?page=x", VIEWER).status()).isEqualTo(400);
    }

    @Test
    void should_pause_and_resume_a_source_and_show_it() throws Exception {
        serve(200);
        fire("wd-stock");

        assertThat(call("POST", "/api/sources/wd-stock/pause", OPERATOR, "{\"reason\":\"upstream migration\"}").status()).isEqualTo(200);
        assertThat(get("/api/sources/wd-stock", VIEWER).json().get("status").asText()).isEqualTo("paused");
        assertThat(text("SELECT paused_reason FROM syncwarden.source_health WHERE source_id = 'wd-stock'"))
                .isEqualTo("upstream migration (by ci-operator)");

        assertThat(call("POST", "/api/sources/wd-stock/resume", OPERATOR, null).status()).isEqualTo(200);
        assertThat(get("/api/sources/wd-stock", VIEWER).json().get("status").asText()).isNotEqualTo("paused");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.audit_log WHERE actor = 'ci-operator' AND outcome = 'done'")).isEqualTo(2);
    }

    @Test
    void should_list_acknowledge_and_resolve_incidents_and_retries() throws Exception {
        serve(200);
        fire("wd-stock");
        serve(503);
        fire("wd-stock"); // fails, queued
        long retry = count("SELECT retry_id FROM syncwarden.retry_queue");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("INSERT INTO syncwarden.incident (source_id, kind, severity, status, open_key, message, opened_at, updated_at) "
                    + "VALUES ('wd-stock', 'stale', 'high', 'open', 'wd-stock|stale', 'late', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)");
        }
        long incident = count("SELECT incident_id FROM syncwarden.incident");

        assertThat(get("/api/retries", VIEWER).json().get("live")).hasSize(1);
        assertThat(call("POST", "/api/retries/" + retry + "/retry-now", OPERATOR, null).status()).isEqualTo(200);
        assertThat(call("DELETE", "/api/retries/" + retry, ADMIN, null).status()).isEqualTo(200);
        assertThat(text("SELECT status FROM syncwarden.retry_queue")).isEqualTo("cancelled");
        assertThat(get("/api/incidents", VIEWER).json().get("incidents")).hasSize(1);
        assertThat(call("POST", "/api/incidents/" + incident + "/acknowledge", OPERATOR, "{\"note\":\"on it\"}").status()).isEqualTo(200);
        assertThat(text("SELECT acknowledged_by FROM syncwarden.incident")).isEqualTo("ci-operator");
        assertThat(call("POST", "/api/incidents/" + incident + "/resolve", OPERATOR, null).status()).isEqualTo(200);
        assertThat(text("SELECT status || ' ' || resolved_by FROM syncwarden.incident")).isEqualTo("resolved ci-operator");
        assertThat(get("/api/incidents", VIEWER).json().get("incidents")).isEmpty();
        assertThat(get("/api/incidents?status=all", VIEWER).json().get("incidents")).hasSize(1);
        assertThat(call("POST", "/api/incidents/" + incident + "/resolve", OPERATOR, null).status()).isEqualTo(404);
    }

    @Test
    void should_block_dashboards_while_a_critical_source_is_empty_and_clear_by_itself() throws Exception {
        Answer before = get("/api/blocking", VIEWER);
        assertThat(before.json().get("blocked").asBoolean()).isTrue();
        assertThat(before.json().get("reasons").get(0).get("reason").asText()).isEqualTo("its table is empty");
        assertThat(get("/api/health", null).json().get("blocked").asBoolean()).isTrue();

        serve(200);
        fire("wd-stock");

        assertThat(get("/api/blocking", VIEWER).json().get("blocked").asBoolean()).isFalse();
    }

    @Test
    void should_publish_an_openapi_document_naming_every_path() throws Exception {
        Answer doc = get("/api/openapi.json", null);

        assertThat(doc.status()).isEqualTo(200);
        assertThat(doc.json().get("openapi").asText()).startsWith("3.");
        assertThat(doc.json().get("info").get("title").asText()).isEqualTo("Syncwarden operations API");
        List<String> paths = new ArrayList<>();
        doc.json().get("paths").fieldNames().forEachRemaining(paths::add);
        assertThat(paths).contains("/api/health", "/api/sources", "/api/sources/{id}", "/api/sources/{id}/sync",
                "/api/retries/{id}/retry-now", "/api/incidents/{id}/acknowledge", "/api/audit");
    }

    @Test
    void should_never_answer_a_configured_secret() throws Exception {
        serve(200);
        fire("wd-stock");
        serve(401); // an error whose text is kept with the run
        fire("wd-stock");
        call("POST", "/api/watchdog", OPERATOR, null);
        StringBuilder all = new StringBuilder();
        for (String path : List.of("/api/health", "/api/sources", "/api/sources/wd-stock", "/api/sources/wd-stock/runs",
                "/api/sources/wd-stock/rejected", "/api/watchdog", "/api/retries", "/api/incidents?status=all", "/api/blocking",
                "/api/audit", "/api/openapi.json")) {
            Answer a = get(path, ADMIN);
            assertThat(a.status()).as(path).isEqualTo(200);
            all.append(a.body());
        }
        all.append(call("POST", "/api/sources/wd-stock/rollback", ADMIN, "{\"beforeRun\": 1}").body());
        // and every other endpoint, its answers and its refusals alike
        for (String[] c : List.of(new String[] {"POST", "/api/sources/wd-stock/pause"}, new String[] {"POST", "/api/sources/wd-stock/resume"},
                new String[] {"POST", "/api/sources/wd-stock/allow-next"}, new String[] {"POST", "/api/sources/wd-stock/rejected/replay"},
                new String[] {"POST", "/api/sources/wd-stock/sync"}, new String[] {"DELETE", "/api/sources/wd-stock/sync"},
                new String[] {"POST", "/api/retries/1/retry-now"}, new String[] {"DELETE", "/api/retries/1"},
                new String[] {"POST", "/api/incidents/1/acknowledge"}, new String[] {"POST", "/api/incidents/1/resolve"},
                new String[] {"GET", "/api/diagnostic?name=Flat%20washer%20M8"}, new String[] {"GET", "/api/sources/wd-stock/backfill/status"},
                new String[] {"GET", "/api/sources/wd-stock/backfill/estimate?from=2026-01-01&to=2026-01-02"},
                new String[] {"POST", "/api/sources/wd-stock/backfill"}, new String[] {"POST", "/api/triggers/wd-stock"},
                new String[] {"GET", "/api/sources/wd-stock"})) {
            all.append(call(c[0], c[1], ADMIN, "{\"runId\": 2}").body());
            all.append(call(c[0], c[1], null, null).body());
        }

        for (String secret : List.of(VIEWER, OPERATOR, ADMIN, sha256(ADMIN), DB_PASSWORD, SLACK, "xoxWebhookS3cret", ROUTING_KEY,
                FINALE_SECRET, FINALE_KEY)) {
            assertThat(all.toString()).as("no answer carries %s", secret).doesNotContain(secret);
        }
    }

    private Answer signed(String body, java.util.Map<String, String> headers) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/triggers/wd-stock"))
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body));
        headers.forEach(request::header);
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return new Answer(response.statusCode(), JSON.readTree(response.body()), response.body());
    }

    private static String qstashToken(String url, String body, java.time.Instant now) throws Exception {
        com.nimbusds.jwt.JWTClaimsSet claims = new com.nimbusds.jwt.JWTClaimsSet.Builder().issuer("Upstash").subject(url)
                .expirationTime(java.util.Date.from(now.plusSeconds(300))).notBeforeTime(java.util.Date.from(now.minusSeconds(5)))
                .issueTime(java.util.Date.from(now)).jwtID("jwt_test")
                .claim("body", java.util.Base64.getUrlEncoder().encodeToString(MessageDigest.getInstance("SHA-256")
                        .digest(body.getBytes(StandardCharsets.UTF_8)))).build();
        com.nimbusds.jwt.SignedJWT jwt = new com.nimbusds.jwt.SignedJWT(new com.nimbusds.jose.JWSHeader.Builder(
                com.nimbusds.jose.JWSAlgorithm.HS256).type(com.nimbusds.jose.JOSEObjectType.JWT).build(), claims);
        jwt.sign(new com.nimbusds.jose.crypto.MACSigner(QSTASH_KEY.getBytes(StandardCharsets.UTF_8)));
        return jwt.serialize();
    }

    @Test
    void should_fire_a_source_for_a_scheduler_that_signs_its_request_and_refuse_one_that_does_not() throws Exception {
        serve(200);
        String body = "{\"reason\":\"nightly\"}";

        Answer unsigned = signed(body, java.util.Map.of());
        Answer forged = signed(body, java.util.Map.of("Upstash-Signature",
                qstashToken("https://sync.example.com/api/triggers/other-source", body, java.time.Instant.now())));
        Answer fromQStash = signed(body, java.util.Map.of("Upstash-Signature",
                qstashToken("https://sync.example.com/api/triggers/wd-stock", body, java.time.Instant.now())));

        assertThat(unsigned.status()).isEqualTo(401);
        assertThat(forged.status()).isEqualTo(401);
        assertThat(forged.json().get("message").asText()).contains("another URL");
        assertThat(fromQStash.status()).isEqualTo(202);
        await().atMost(Duration.ofSeconds(20)).until(() -> count("SELECT COUNT(*) FROM syncwarden.sync_run "
                + "WHERE run_trigger = 'webhook' AND status = 'success'") == 1);

        long ts = java.time.Instant.now().getEpochSecond();
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(HMAC_SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((ts + ".").getBytes(StandardCharsets.UTF_8));
        mac.update("/api/triggers/wd-stock.".getBytes(StandardCharsets.UTF_8));
        String signature = "sha256=" + HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
        java.util.Map<String, String> hmac = java.util.Map.of("X-Syncwarden-Timestamp", String.valueOf(ts), "X-Syncwarden-Signature", signature);
        assertThat(signed(body, hmac).status()).isEqualTo(202);
        assertThat(signed(body, hmac).json().get("message").asText()).as("the same signed request again").contains("seen already");
        List<String> audited = new ArrayList<>();
        try (Connection c = target(); Statement s = c.createStatement(); java.sql.ResultSet rs = s.executeQuery("SELECT actor || ' ' "
                + "|| outcome FROM syncwarden.audit_log WHERE action = 'signed_trigger' ORDER BY audit_id")) {
            while (rs.next()) {
                audited.add(rs.getString(1));
            }
        }
        assertThat(audited).containsExactly("unsigned denied", "qstash denied", "qstash done", "hmac done", "hmac denied");
    }

    @Test
    void should_refuse_a_second_request_while_the_first_is_running_and_a_token_in_the_url() throws Exception {
        upstream.resetAll();
        upstream.stubFor(any(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(200).withFixedDelay(3000)
                .withHeader("Content-Type", "text/csv").withBody(Fixtures.read("finale/products_stock_report.csv"))));

        Answer first = call("POST", "/api/sources/wd-stock/sync", OPERATOR, null);
        Answer second = call("POST", "/api/sources/wd-stock/sync", OPERATOR, null);

        assertThat(first.status()).isEqualTo(202);
        assertThat(second.status()).as("requested or running already").isEqualTo(409);
        assertThat(get("/api/sources?authorization=Bearer%20" + VIEWER, null).status()).isEqualTo(400);
        await().atMost(Duration.ofSeconds(20)).until(() -> count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE status = 'success'") == 1);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run")).as("one run, not two").isEqualTo(1);
    }

    @Test
    void should_show_error_text_and_rows_as_read_to_operators_and_plain_words_to_viewers() throws Exception {
        serve(200);
        fire("wd-stock");
        serve(401);
        fire("wd-stock");

        JsonNode asViewer = get("/api/sources/wd-stock", VIEWER).json();
        JsonNode asOperator = get("/api/sources/wd-stock", OPERATOR).json();

        assertThat(asViewer.get("health").has("last_error")).isFalse();
        assertThat(asViewer.get("lastRun").has("error_message")).isFalse();
        assertThat(asViewer.get("why").get("lastError").asText()).startsWith("HTTP 401").doesNotContain("/acme/doc");
        assertThat(asOperator.get("lastRun").get("error_message").asText()).contains("HTTP 401");
        assertThat(get("/api/sources/wd-stock/runs", VIEWER).json().get("items").get(0).has("error_message")).isFalse();
    }

    private void serveCsv(String csv) {
        upstream.resetAll();
        upstream.stubFor(any(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/csv").withBody(csv)));
    }

    private JsonNode diagnose(String name) throws Exception {
        Answer a = get("/api/diagnostic?name=" + java.net.URLEncoder.encode(name, StandardCharsets.UTF_8), OPERATOR);
        assertThat(a.status()).as(a.body()).isEqualTo(200);
        return a.json().get("sources").get("wd-stock").get("records");
    }

    @Test
    void should_say_per_record_whether_upstream_and_target_agree() throws Exception {
        String report = Fixtures.read("finale/products_stock_report.csv");
        serveCsv(report);
        fire("wd-stock");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("DELETE FROM wd_stock WHERE product_id = 'NW-1005'");
        }
        serveCsv(report.replace("Flat washer M8", "Flat washer M8 stainless")
                .replaceAll("(?m)^NW-1001,[^\\r\\n]*\\r?\\n", ""));

        JsonNode lost = diagnose("Coco coir brick 650 g");
        JsonNode changed = diagnose("Flat washer M8 stainless");
        JsonNode gone = diagnose("Hex bolt, zinc plated, M8 x 30mm");
        JsonNode same = diagnose("perlite  COARSE 100 L");

        assertThat(lost).as(get("/api/diagnostic?name=Coco%20coir%20brick%20650%20g", OPERATOR).body()).hasSize(1);
        assertThat(lost.get(0).get("key").asText()).isEqualTo("NW-1005");
        assertThat(lost.get(0).get("status").asText()).isEqualTo("MISSING_IN_TARGET");
        assertThat(changed.get(0).get("status").asText()).isEqualTo("DIFFERENT");
        assertThat(changed.get(0).get("differences").get("description").get("target").asText()).isEqualTo("Flat washer M8");
        assertThat(gone.get(0).get("key").asText()).isEqualTo("NW-1001");
        assertThat(gone.get(0).get("status").asText()).isEqualTo("MISSING_IN_SOURCE");
        assertThat(same).hasSize(1);
        assertThat(same.get(0).get("status").asText()).isEqualTo("IN_SYNC");
        assertThat(get("/api/diagnostic?name=x", VIEWER).status()).isEqualTo(403);
        assertThat(get("/api/diagnostic", OPERATOR).status()).isEqualTo(400);
    }

    @Test
    void should_refuse_a_backfill_where_there_is_no_range_or_the_role_does_not_allow_it() throws Exception {
        Answer fullRead = call("POST", "/api/sources/wd-stock/backfill", OPERATOR, "{\"from\":\"2026-01-01\",\"to\":\"2026-01-31\"}");
        assertThat(fullRead.status()).isEqualTo(409);
        assertThat(fullRead.json().get("message").asText()).contains("no date range to backfill");
        Answer tooLong = call("POST", "/api/sources/wd-stock/backfill", OPERATOR, "{\"from\":\"2025-01-01\",\"to\":\"2025-12-31\"}");
        assertThat(tooLong.status()).isEqualTo(403);
        assertThat(tooLong.json().get("message").asText()).contains("needs an admin token");
        assertThat(call("POST", "/api/sources/wd-stock/backfill", OPERATOR, "{\"from\":\"2026-02-01\",\"to\":\"2026-01-01\"}").status())
                .isEqualTo(400);
        assertThat(get("/api/sources/wd-stock/backfill/estimate?from=2026-01-01&to=2026-01-02", VIEWER).status()).isEqualTo(403);
        assertThat(get("/api/sources/wd-stock/backfill/status", VIEWER).status()).isEqualTo(404);
    }

    @Test
    void should_keep_credentials_out_of_an_error_in_plain_words() {
        assertThat(io.syncwarden.api.Api.plain("refused: Authorization: Bearer abc.def.ghi from https://x.example/p?q=1"))
                .doesNotContain("abc.def").doesNotContain("/p?q").contains("https://x.example");
        assertThat(io.syncwarden.api.Api.plain("bad config {\"password\":\"hunter2\"} at jdbc:postgresql://db/x?password=hunter2"))
                .doesNotContain("hunter2");
    }
}
