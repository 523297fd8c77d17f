package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.syncwarden.sync.SyncTrigger;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Collections;
import java.util.Properties;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.apache.camel.test.junit5.TestExecutionConfiguration;
import org.junit.jupiter.api.Test;

/**
 * The management port as an outsider meets it: Jolokia read-only by allow-list (no sending messages, no writes, no
 * endpoint URIs, no placeholder-resolving dumps, only pages from localhost), health without error text, bound to
 * loopback, and no credential in any route dump.
 */
class ManagementPortTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String KEY = FINALE_KEY;
    private static final String SECRET = FINALE_SECRET;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String VIEWER = "jolokia-viewer-token-0123456789abcdef";
    static final String ADMIN = "jolokia-admin-token-0123456789abcdef";
    int port;

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
        p.put("syncwarden.api.tokens", "hawtio-viewer:viewer:" + sha256(VIEWER) + ",hawtio-admin:admin:" + sha256(ADMIN));
        finaleProperties(p);
    }

    private HttpResponse<String> jolokia(String body, String origin) throws Exception {
        return jolokia(body, origin, "Bearer " + VIEWER);
    }

    HttpResponse<String> jolokia(String body, String origin, String authorization) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/jolokia/"))
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (origin != null) {
            request.header("Origin", origin);
        }
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A Jolokia request from a page on localhost (as Hawtio's would be) with a viewer's token; the JSON answer. */
    private JsonNode ask(String body) throws Exception {
        HttpResponse<String> answer = jolokia(body, "http://localhost:8080");
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        return JSON.readTree(answer.body());
    }

    /** The JSON answer to a token holder's request, whether Syncwarden's guard or Jolokia's policy refused it. */
    private JsonNode attempt(String body, String token) throws Exception {
        HttpResponse<String> answer = jolokia(body, "http://localhost:8080", "Bearer " + token);
        // a refusal is a Jolokia answer (HTTP 200, status 403 inside), as Hawtio expects, never an HTTP error
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        return JSON.readTree(answer.body());
    }

    private String contextMBean() throws Exception {
        JsonNode found = ask("{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=context,*\"}");
        return found.get("value").get(0).asText();
    }

    private String routeMBean(String routeId) throws Exception {
        JsonNode found = ask("{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=routes,name=\\\"" + routeId + "\\\",*\"}");
        return found.get("value").get(0).asText();
    }

    private static String quoted(String s) {
        return JSON.valueToTree(s).toString();
    }

    @Test
    void should_refuse_to_send_a_message_or_change_anything_through_jolokia() throws Exception {
        String context = contextMBean();
        String send = "{\"type\":\"exec\",\"mbean\":" + quoted(context) + ",\"operation\":\"sendBody(java.lang.String,java.lang.Object)\","
                + "\"arguments\":[\"log:jolokia\",\"hello\"]}";
        String stop = "{\"type\":\"exec\",\"mbean\":" + quoted(routeMBean("it-finale-stock")) + ",\"operation\":\"stop()\"}";
        String write = "{\"type\":\"write\",\"mbean\":" + quoted(context) + ",\"attribute\":\"Tracing\",\"value\":true}";

        // a viewer, and an admin while syncwarden.jolokia.writes-enabled is false (the default)
        for (String token : new String[] {VIEWER, ADMIN}) {
            assertThat(attempt(send, token).get("status").asInt()).isEqualTo(403);
            assertThat(attempt(stop, token).get("status").asInt()).isEqualTo(403);
            assertThat(attempt(write, token).get("status").asInt()).isEqualTo(403);
            assertThat(attempt("[" + stop + "]", token).get(0).get("status").asInt()).isEqualTo(403);
        }
        assertThat(context().getRouteController().getRouteStatus("it-finale-stock").isStarted()).isTrue();
        // each refused route stop is audited (the other attempts Jolokia's policy refuses)
        assertThat(count("SELECT COUNT(*) FROM syncwarden.audit_log WHERE action = 'jolokia_stop' AND outcome = 'denied'"))
                .isEqualTo(4);
    }

    @Test
    void should_refuse_jolokia_without_credentials_but_keep_health_open() throws Exception {
        String search = "{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=routes,*\"}";

        HttpResponse<String> none = jolokia(search, "http://localhost:8080", null);
        HttpResponse<String> wrong = jolokia(search, "http://localhost:8080", "Bearer not-a-token");
        HttpResponse<String> basicWrong = jolokia(search, "http://localhost:8080", "Basic "
                + java.util.Base64.getEncoder().encodeToString("hawtio:not-a-token".getBytes()));
        HttpResponse<String> basicToken = jolokia(search, "http://localhost:8080", "Basic "
                + java.util.Base64.getEncoder().encodeToString(("hawtio:" + VIEWER).getBytes()));
        HttpResponse<String> health = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/observe/health")).build(), HttpResponse.BodyHandlers.ofString());

        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("WWW-Authenticate")).contains("Basic realm=\"syncwarden-jolokia\"");
        assertThat(none.body()).doesNotContain("org.apache.camel:");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(basicWrong.statusCode()).isEqualTo(401);
        assertThat(basicToken.statusCode()).isEqualTo(200);
        assertThat(basicToken.body()).contains("it-finale-stock");
        assertThat(health.statusCode()).isEqualTo(200);
    }

    @Test
    void should_list_every_route_with_its_counters_description_and_source() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(200).withBody(io.syncwarden.Fixtures.read("finale/products_stock_report.csv"))));
        assertThat(fire("it-finale-stock").status()).isEqualTo("success");
        JsonNode routes = ask("{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=routes,*\"}");
        java.util.Set<String> listed = new java.util.TreeSet<>();
        for (JsonNode name : routes.get("value")) {
            JsonNode route = ask("{\"type\":\"read\",\"mbean\":" + quoted(name.asText())
                    + ",\"attribute\":[\"RouteId\",\"ExchangesTotal\",\"ExchangesFailed\",\"Description\",\"State\"]}");
            assertThat(route.get("status").asInt()).as(route.toString()).isEqualTo(200);
            JsonNode v = route.get("value");
            assertThat(v.get("ExchangesTotal").isNumber()).as(v.toString()).isTrue();
            assertThat(v.get("Description").asText()).as("description of " + v.get("RouteId")).isNotBlank();
            listed.add(v.get("RouteId").asText());
            if ("it-finale-stock".equals(v.get("RouteId").asText())) {
                assertThat(v.get("ExchangesTotal").asLong()).isPositive();
            }
            JsonNode source = ask("{\"type\":\"exec\",\"mbean\":" + quoted(name.asText()) + ",\"operation\":\"dumpRouteAsXml()\"}");
            assertThat(source.get("value").asText()).as(name.asText()).contains("<route").doesNotContain(SECRET);
            JsonNode processors = ask("{\"type\":\"exec\",\"mbean\":" + quoted(name.asText()) + ",\"operation\":\"dumpRouteStatsAsXml(boolean,boolean)\","
                    + "\"arguments\":[false,true]}");
            assertThat(processors.get("status").asInt()).isEqualTo(200);
        }
        java.util.Set<String> running = new java.util.TreeSet<>();
        context().getRoutes().forEach(r -> running.add(r.getRouteId()));
        assertThat(listed).isEqualTo(running);
        JsonNode endpoints = ask("{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=endpoints,*\"}");
        assertThat(endpoints.get("value")).isNotEmpty();
        assertThat(endpoints.toString()).doesNotContain(SECRET).doesNotContain(KEY);
    }

    @Test
    void should_not_show_endpoint_uris_or_resolved_placeholders() throws Exception {
        String route = routeMBean("it-finale-stock");

        JsonNode uri = ask("{\"type\":\"read\",\"mbean\":" + quoted(route) + ",\"attribute\":\"EndpointUri\"}");
        JsonNode getter = attempt("{\"type\":\"exec\",\"mbean\":" + quoted(route) + ",\"operation\":\"getEndpointUri()\"}", VIEWER);
        JsonNode endpointUris = ask("[" + "{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=endpoints,*\"}]");
        String anEndpoint = endpointUris.get(0).get("value").get(0).asText();
        JsonNode endpointUri = ask("{\"type\":\"read\",\"mbean\":" + quoted(anEndpoint) + ",\"attribute\":\"EndpointUri\"}");
        JsonNode resolvedDump = ask("{\"type\":\"exec\",\"mbean\":" + quoted(contextMBean()) + ",\"operation\":\"dumpRoutesAsXml(boolean)\","
                + "\"arguments\":[true]}");

        assertThat(uri.get("status").asInt()).isEqualTo(403);
        assertThat(getter.get("status").asInt()).isEqualTo(403);
        assertThat(endpointUri.get("status").asInt()).isEqualTo(403);
        assertThat(resolvedDump.get("status").asInt()).isEqualTo(403);
    }

    @Test
    void should_show_route_statistics_and_the_route_dump_without_credentials() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(200).withBody(io.syncwarden.Fixtures.read("finale/products_stock_report.csv"))));
        assertThat(fire("it-finale-stock").status()).isEqualTo("success");

        JsonNode total = ask("{\"type\":\"read\",\"mbean\":" + quoted(routeMBean("it-finale-stock")) + ",\"attribute\":\"ExchangesTotal\"}");
        JsonNode stats = ask("{\"type\":\"exec\",\"mbean\":" + quoted(contextMBean()) + ",\"operation\":\"dumpRoutesStatsAsXml(boolean,boolean)\","
                + "\"arguments\":[true,true]}");
        JsonNode dump = ask("{\"type\":\"exec\",\"mbean\":" + quoted(contextMBean()) + ",\"operation\":\"dumpRoutesAsXml()\"}");

        assertThat(total.get("status").asInt()).isEqualTo(200);
        assertThat(total.get("value").asLong()).isPositive();
        assertThat(stats.get("status").asInt()).isEqualTo(200);
        assertThat(stats.get("value").asText()).contains("it-finale-stock");
        assertThat(dump.get("value").asText()).contains("it-finale-stock").doesNotContain(SECRET).doesNotContain(KEY);
        // even the placeholder-resolving dump, which only in-process JMX offers, carries no credential
        MBeanServer jmx = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = jmx.queryNames(new ObjectName("org.apache.camel:type=context,*"), null).iterator().next();
        String resolved = (String) jmx.invoke(name, "dumpRoutesAsXml", new Object[] {true}, new String[] {"boolean"});
        assertThat(resolved).contains(upstream.baseUrl()).doesNotContain(SECRET).doesNotContain(KEY);
    }

    @Test
    void should_refuse_a_jolokia_request_from_no_page_or_another_site() throws Exception {
        String search = "{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=context,*\"}";

        HttpResponse<String> noOrigin = jolokia(search, null);
        HttpResponse<String> elsewhere = jolokia(search, "https://attacker.example");

        assertThat(noOrigin.statusCode() != 200 || noOrigin.body().contains("\"status\":403")).as(noOrigin.body()).isTrue();
        assertThat(elsewhere.statusCode() != 200 || elsewhere.body().contains("\"status\":403")).as(elsewhere.body()).isTrue();
        assertThat(noOrigin.body()).doesNotContain("org.apache.camel:");
        assertThat(elsewhere.body()).doesNotContain("org.apache.camel:");
    }

    @Test
    void should_report_health_status_only_and_stay_up_while_a_source_fails() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(500).withBody("{\"error\":{\"message\":\"boom\"}}")));
        SyncTrigger.Result failed = fire("it-finale-stock");
        assertThat(failed.status()).isEqualTo("failed");

        HttpResponse<String> health = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/observe/health?exposureLevel=full&stackTrace=true&data=true")).build(), HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> live = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                + "/observe/health/live")).build(), HttpResponse.BodyHandlers.ofString());

        assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
        assertThat(JSON.readTree(health.body()).get("status").asText()).isEqualTo("UP");
        assertThat(health.body()).contains("source-it-finale-stock").contains("degraded")
                .doesNotContain("HTTP 500").doesNotContain("boom").doesNotContain("http:").doesNotContain("127.0.0.1");
        assertThat(live.statusCode()).isEqualTo(200);
    }

    @Test
    void should_listen_on_loopback_only() throws Exception {
        InetAddress outside = Collections.list(NetworkInterface.getNetworkInterfaces()).stream()
                .filter(i -> {
                    try {
                        return i.isUp() && !i.isLoopback();
                    } catch (IOException e) {
                        return false;
                    }
                })
                .flatMap(i -> Collections.list(i.getInetAddresses()).stream())
                .filter(a -> a instanceof java.net.Inet4Address).findFirst().orElse(null);
        org.junit.jupiter.api.Assumptions.assumeTrue(outside != null, "this machine has no non-loopback IPv4 address");

        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(outside, port), 2000);
            org.junit.jupiter.api.Assertions.fail("the management port answered on " + outside);
        } catch (IOException expected) {
            assertThat(expected).isNotNull();
        }
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2000);
            assertThat(s.isConnected()).isTrue();
        }
    }
}
