package io.syncwarden.source;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Properties;
import org.apache.camel.test.junit5.TestExecutionConfiguration;
import org.junit.jupiter.api.Test;

/** Jolokia with syncwarden.jolokia.writes-enabled=true: an admin may stop and start a route (audited), nobody else. */
class JolokiaWritesTest extends UpstreamStubTestSupport {
    private static final String VIEWER = "writes-viewer-token-0123456789abcdef";
    private static final String OPERATOR = "writes-operator-token-0123456789abcd";
    private static final String ADMIN = "writes-admin-token-0123456789abcdefg";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private int port;

    @Override
    protected String testRoutes() {
        return "test-csv-sources.camel.yaml";
    }

    @Override
    public void configureTest(TestExecutionConfiguration configuration) {
        super.configureTest(configuration);
        configuration.withEnableJMX();
    }

    @Override
    protected void properties(Properties p) {
        port = freePort();
        p.put("camel.management.enabled", "true");
        p.put("camel.management.port", String.valueOf(port));
        p.put("syncwarden.jolokia.writes-enabled", "true");
        p.put("syncwarden.api.tokens", "v:viewer:" + sha256(VIEWER) + ",o:operator:" + sha256(OPERATOR) + ",a:admin:" + sha256(ADMIN));
        finaleProperties(p);
    }

    private JsonNode jolokia(String body, String token) throws Exception {
        return JSON.readTree(send(body, token, "http://localhost:8080").body());
    }

    private HttpResponse<String> send(String body, String token, String origin) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/jolokia/"))
                .timeout(Duration.ofSeconds(10)).header("Origin", origin).header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void should_refuse_a_route_stop_from_a_page_of_another_site_even_with_an_admin_credential() throws Exception {
        String stop = "{\"type\":\"exec\",\"mbean\":" + JSON.valueToTree(routeMBean("it-finale-stock")) + ",\"operation\":\"stop()\"}";

        HttpResponse<String> forged = send(stop, ADMIN, "https://attacker.example");

        assertThat(forged.statusCode()).isEqualTo(403);
        assertThat(context().getRouteController().getRouteStatus("it-finale-stock").isStarted()).isTrue();
    }

    private String routeMBean(String routeId) throws Exception {
        return jolokia("{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=routes,name=\\\"" + routeId + "\\\",*\"}", VIEWER)
                .get("value").get(0).asText();
    }

    @Test
    void should_let_only_an_admin_stop_and_start_a_route() throws Exception {
        String route = JSON.valueToTree(routeMBean("it-finale-stock")).toString();
        String stop = "{\"type\":\"exec\",\"mbean\":" + route + ",\"operation\":\"stop()\"}";

        assertThat(jolokia(stop, VIEWER).get("status").asInt()).isEqualTo(403);
        assertThat(jolokia(stop, OPERATOR).get("status").asInt()).isEqualTo(403);
        assertThat(context().getRouteController().getRouteStatus("it-finale-stock").isStarted()).isTrue();

        assertThat(jolokia(stop, ADMIN).get("status").asInt()).isEqualTo(200);
        assertThat(context().getRouteController().getRouteStatus("it-finale-stock").isStopped()).isTrue();
        assertThat(jolokia("{\"type\":\"exec\",\"mbean\":" + route + ",\"operation\":\"start()\"}", ADMIN).get("status").asInt())
                .isEqualTo(200);
        assertThat(context().getRouteController().getRouteStatus("it-finale-stock").isStarted()).isTrue();
        assertThat(count("SELECT COUNT(*) FROM syncwarden.audit_log WHERE action IN ('jolokia_stop', 'jolokia_start') AND actor = 'a' "
                + "AND outcome = 'done' AND target = 'it-finale-stock'")).isEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.audit_log WHERE action = 'jolokia_stop' AND outcome = 'denied'"))
                .isEqualTo(2);
    }

    @Test
    void should_keep_attribute_writes_and_sending_messages_closed_even_to_an_admin() throws Exception {
        String context = JSON.valueToTree(jolokia("{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=context,*\"}", VIEWER)
                .get("value").get(0).asText()).toString();

        JsonNode write = jolokia("{\"type\":\"write\",\"mbean\":" + context + ",\"attribute\":\"Tracing\",\"value\":true}", ADMIN);
        JsonNode send = jolokia("{\"type\":\"exec\",\"mbean\":" + context + ",\"operation\":\"sendBody(java.lang.String,java.lang.Object)\","
                + "\"arguments\":[\"log:jolokia\",\"hello\"]}", ADMIN);

        assertThat(write.get("status").asInt()).isEqualTo(403);
        assertThat(send.get("status").asInt()).isEqualTo(403);
        assertThat(context().isTracing()).isFalse();
    }
}
