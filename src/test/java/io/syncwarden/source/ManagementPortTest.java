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
        finaleProperties(p);
    }

    private HttpResponse<String> jolokia(String body, String origin) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/observe/jolokia/"))
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body));
        if (origin != null) {
            request.header("Origin", origin);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** A Jolokia request from a page on localhost (as Hawtio's would be); the JSON answer. */
    private JsonNode ask(String body) throws Exception {
        HttpResponse<String> answer = jolokia(body, "http://localhost:8080");
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

        JsonNode send = ask("{\"type\":\"exec\",\"mbean\":" + quoted(context) + ",\"operation\":\"sendBody(java.lang.String,java.lang.Object)\","
                + "\"arguments\":[\"log:jolokia\",\"hello\"]}");
        JsonNode stop = ask("{\"type\":\"exec\",\"mbean\":" + quoted(routeMBean("it-finale-stock")) + ",\"operation\":\"stop()\"}");
        JsonNode write = ask("{\"type\":\"write\",\"mbean\":" + quoted(context) + ",\"attribute\":\"Tracing\",\"value\":true}");

        assertThat(send.get("status").asInt()).isEqualTo(403);
        assertThat(stop.get("status").asInt()).isEqualTo(403);
        assertThat(write.get("status").asInt()).isEqualTo(403);
        assertThat(context().getRouteController().getRouteStatus("it-finale-stock").isStarted()).isTrue();
    }

    @Test
    void should_not_show_endpoint_uris_or_resolved_placeholders() throws Exception {
        String route = routeMBean("it-finale-stock");

        JsonNode uri = ask("{\"type\":\"read\",\"mbean\":" + quoted(route) + ",\"attribute\":\"EndpointUri\"}");
        JsonNode getter = ask("{\"type\":\"exec\",\"mbean\":" + quoted(route) + ",\"operation\":\"getEndpointUri()\"}");
        JsonNode endpoints = ask("{\"type\":\"search\",\"mbean\":\"org.apache.camel:type=endpoints,*\"}");
        JsonNode resolvedDump = ask("{\"type\":\"exec\",\"mbean\":" + quoted(contextMBean()) + ",\"operation\":\"dumpRoutesAsXml(boolean)\","
                + "\"arguments\":[true]}");

        assertThat(uri.get("status").asInt()).isEqualTo(403);
        assertThat(getter.get("status").asInt()).isEqualTo(403);
        assertThat(endpoints.get("value")).isEmpty();
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
