package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.http.Fault;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.syncwarden.sync.SyncTrigger;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every HTTP source kind against every fault an upstream produces, each with the outcome it must have. WireMock plays
 * the upstream: the fault on the first request(s) of a run, then a good answer (with changed data where the kind
 * already holds rows). After each run: the run's status and attempts, the target (complete with the new data, or
 * exactly as before), the keys against the upstream's (no duplicates, none missing), {@code source_health}, the
 * incident and the retry queue.
 */
class FaultMatrixTest extends UpstreamStubTestSupport {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String REPORT = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String SHEET = "/v4/spreadsheets/1hRk7mQx2VtB9cYw4LpZ0sNd3FgJ6aEu8KoT5iWqHy1M/values/.*";
    private static final String TOKEN = "ya29.TEST-not-a-real-token-7f3c9a1e";
    private static final String CAL_KEY = "cal_test_0123456789abcdef";
    private static final String BOOKINGS = "/v2/bookings";
    private static final String AFTER_PAGE_1 = "2025-05-30T06:48:32.999Z";

    /** What the service must make of a fault. */
    enum Outcome {
        /** retried in-route (twice), then the good answer applied in the same run */
        REDELIVERED_THEN_SUCCEEDED,
        /** one request, the run failed as non-recoverable, an incident, the target as it was */
        NOT_RETRIED_INCIDENT,
        /** refused before anything was applied, an incident, the target as it was */
        REFUSED,
        /**
         * the answer is in hand and broken (a redelivery of the step would read the same bytes): no in-route retry, the
         * run is queued at once; the queue's run asks again and finishes the work
         */
        QUEUED_THEN_SUCCEEDED
    }

    enum FaultKind { CONNECTION_RESET, SLOWER_THAN_TIMEOUT, HTTP_500, HTTP_503, HTTP_429_WITH_RESET, HTTP_401, MALFORMED_BODY, EMPTY_BODY }

    /** A source kind as the matrix drives it. */
    enum Kind {
        CSV("fm-csv", "fm_csv", "product_id"),
        SHEET("fm-sheet", "fm_sheet", "lead_id"),
        CALCOM("fm-calcom", "fm_calcom", "uid");

        final String source;
        final String table;
        final String key;

        Kind(String source, String table, String key) {
            this.source = source;
            this.table = table;
            this.key = key;
        }
    }

    static Stream<Arguments> matrix() {
        List<Arguments> out = new ArrayList<>();
        for (Kind kind : Kind.values()) {
            for (FaultKind fault : FaultKind.values()) {
                out.add(Arguments.of(kind, fault, expected(kind, fault)));
            }
        }
        return out.stream();
    }

    private static Outcome expected(Kind kind, FaultKind fault) {
        return switch (fault) {
            case HTTP_401 -> Outcome.NOT_RETRIED_INCIDENT;
            // a report whose quoting never closes is the same report on a retry; a JSON API's cut answer is a transport fault
            // (the Google client reads the body in the request step: redelivered; Cal.com's reader finds it after: queued)
            case MALFORMED_BODY -> kind == Kind.CSV ? Outcome.NOT_RETRIED_INCIDENT
                    : kind == Kind.CALCOM ? Outcome.QUEUED_THEN_SUCCEEDED : Outcome.REDELIVERED_THEN_SUCCEEDED;
            // an empty report after a good one is refused; an empty body from a JSON API is no answer at all
            case EMPTY_BODY -> kind == Kind.CSV ? Outcome.REFUSED
                    : kind == Kind.CALCOM ? Outcome.QUEUED_THEN_SUCCEEDED : Outcome.REDELIVERED_THEN_SUCCEEDED;
            default -> Outcome.REDELIVERED_THEN_SUCCEEDED;
        };
    }

    @Override
    protected String testRoutes() {
        return "test-fault-matrix.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        calcomProperties(p, CAL_KEY);
        p.put("syncwarden.upstream.read-timeout-ms", "700");
    }

    @ParameterizedTest(name = "{0} x {1} -> {2}")
    @MethodSource("matrix")
    void each_fault_of_each_kind_ends_in_its_defined_outcome(Kind kind, FaultKind fault, Outcome expected) throws Exception {
        List<String> before = baseline(kind);
        int faults = expected == Outcome.REDELIVERED_THEN_SUCCEEDED ? 2 : 1;
        faultThenGood(kind, fault, faults);

        SyncTrigger.Result result = fire(kind.source, "schedule");

        var run = run(result.runId());
        switch (expected) {
            case REDELIVERED_THEN_SUCCEEDED -> {
                assertThat(run).containsEntry("status", "success");
                assertThat(requests(kind)).as("both faults met, then the good answer").isEqualTo(faults + 1);
                // (the JDK's HTTP client, under the Google client, repeats a GET on a reset keep-alive connection once
                // by itself: two requests can be one attempt)
                long failedAttempts = count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE run_id = " + result.runId());
                assertThat(failedAttempts).isBetween(1L, (long) faults);
                assertThat(count("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + result.runId()))
                        .isEqualTo(failedAttempts + 1);
                assertThat(keys(kind)).as("every upstream row once").isEqualTo(upstreamKeys(kind));
                assertThat(rows(kind)).as("the good answer applied").isNotEqualTo(before);
                assertThat(health(kind)).isEqualTo("healthy");
                assertThat(openIncidents(kind)).isEmpty();
            }
            case NOT_RETRIED_INCIDENT -> {
                assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
                assertThat(requests(kind)).as("not retried").isEqualTo(1);
                assertThat(rows(kind)).as("the target as it was").isEqualTo(before);
                assertThat(health(kind)).isEqualTo("unhealthy");
                assertThat(openIncidents(kind)).containsExactly("non_recoverable");
            }
            case REFUSED -> {
                assertThat(run).containsEntry("status", "refused_empty").containsEntry("error_class", "refused");
                assertThat(rows(kind)).as("the target as it was").isEqualTo(before);
                assertThat(health(kind)).as("a refusal is not a failure").isEqualTo("healthy");
                assertThat(openIncidents(kind)).containsExactly("refused_empty");
            }
            case QUEUED_THEN_SUCCEEDED -> {
                assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "recoverable");
                assertThat(requests(kind)).as("no in-route retry of the same bytes").isEqualTo(1);
                finishFromTheQueue(kind);
                return;
            }
            default -> throw new IllegalStateException(expected.name());
        }
        assertThat(count("SELECT COUNT(*) FROM syncwarden.retry_queue")).as("nothing queued").isZero();
    }

    @ParameterizedTest(name = "{0}: down past the in-route retries -> queued, then finished by the queue")
    @EnumSource(Kind.class)
    void a_fault_that_outlasts_the_in_route_retries_is_queued_and_the_queue_finishes_the_work(Kind kind) throws Exception {
        baseline(kind);
        faultThenGood(kind, FaultKind.HTTP_503, 3);

        SyncTrigger.Result failed = fire(kind.source, "schedule");

        assertThat(run(failed.runId())).containsEntry("status", "failed").containsEntry("error_class", "recoverable");
        assertThat(requests(kind)).as("1 attempt + 2 in-route redeliveries").isEqualTo(3);
        finishFromTheQueue(kind);
    }

    @ParameterizedTest(name = "{0}: probed while down, synced at the probe's first answer")
    @EnumSource(Kind.class)
    void a_failing_source_is_probed_with_one_cheap_request_and_synced_when_its_upstream_answers(Kind kind) throws Exception {
        baseline(kind);
        upstream.stubFor(any(anyUrl()).atPriority(10).willReturn(json(503, "{}")));
        serveToken();
        SyncTrigger.Result failed = fire(kind.source, "schedule");
        assertThat(failed.status()).isEqualTo("failed");
        long before = upstream.getAllServeEvents().size();

        fire("recovery-probe", "schedule");

        await().atMost(Duration.ofSeconds(10)).until(() -> upstream.getAllServeEvents().size() > before);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE run_trigger = 'recovery'"))
                .as("no run while the upstream does not answer").isZero();
        assertThat(text("SELECT status FROM syncwarden.retry_queue")).isEqualTo("pending");

        upstream.resetAll();
        serveToken();
        upstream.stubFor(request(kind).willReturn(good(kind, true)));
        upstream.stubFor(any(anyUrl()).atPriority(10).willReturn(good(kind, true))); // the probe's own small request
        if (kind == Kind.CALCOM) {
            upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withQueryParam("afterCreatedAt", equalTo(AFTER_PAGE_1))
                    .willReturn(json(200, Fixtures.calcom("bookings_page2.json"))));
        }
        fire("recovery-probe", "schedule");

        await().atMost(Duration.ofSeconds(20)).until(() -> "done".equals(text("SELECT status FROM syncwarden.retry_queue")));
        assertThat(text("SELECT status FROM syncwarden.sync_run WHERE run_trigger = 'recovery'")).isEqualTo("success");
        assertThat(keys(kind)).isEqualTo(upstreamKeys(kind));
    }

    /** The source has its pending retry entry; when it is due the queue's run finishes the work. */
    private void finishFromTheQueue(Kind kind) throws Exception {
        assertThat(text("SELECT status FROM syncwarden.retry_queue WHERE source_id = '" + kind.source + "'")).isEqualTo("pending");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE syncwarden.retry_queue SET next_retry_at = CURRENT_TIMESTAMP - INTERVAL '1' SECOND");
        }
        fire("retry-queue", "schedule");

        await().atMost(Duration.ofSeconds(20)).until(() ->
                "done".equals(text("SELECT status FROM syncwarden.retry_queue WHERE source_id = '" + kind.source + "'")));
        assertThat(text("SELECT status FROM syncwarden.sync_run WHERE run_trigger = 'retry' AND source_id = '" + kind.source + "'"))
                .isEqualTo("success");
        assertThat(keys(kind)).isEqualTo(upstreamKeys(kind));
        assertThat(health(kind)).isEqualTo("healthy");
    }

    // ---- the upstreams

    /** CSV and sheet sources first hold the upstream's rows (a good run); Cal.com starts empty. Returns the rows. */
    private List<String> baseline(Kind kind) throws Exception {
        serveToken();
        if (kind != Kind.CALCOM) {
            upstream.stubFor(request(kind).willReturn(good(kind, false)));
            assertThat(fire(kind.source).status()).isEqualTo("success");
            upstream.resetAll();
            serveToken();
        }
        return rows(kind);
    }

    private void serveToken() throws Exception {
        upstream.stubFor(post(urlPathEqualTo("/token")).willReturn(json(200, Fixtures.sheets("token_response.json"))));
    }

    /** The run's first request answers with the fault {@code times} times, then a good answer (changed data). */
    private void faultThenGood(Kind kind, FaultKind fault, int times) throws Exception {
        String state = Scenario.STARTED;
        for (int i = 1; i <= times; i++) {
            String next = "fault " + i;
            upstream.stubFor(request(kind).inScenario("fm").whenScenarioStateIs(state).willReturn(fault(kind, fault)).willSetStateTo(next));
            state = next;
        }
        upstream.stubFor(request(kind).inScenario("fm").whenScenarioStateIs(state).willReturn(good(kind, true)));
        if (kind == Kind.CALCOM) {
            upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withQueryParam("afterCreatedAt", equalTo(AFTER_PAGE_1))
                    .willReturn(json(200, Fixtures.calcom("bookings_page2.json"))));
        }
    }

    /** The request a run starts with: the report, the sheet's values, Cal.com's first page. */
    private static MappingBuilder request(Kind kind) {
        return switch (kind) {
            case CSV -> get(urlPathEqualTo(REPORT));
            case SHEET -> get(urlPathMatching(SHEET));
            case CALCOM -> get(urlPathEqualTo(BOOKINGS)).withQueryParam("afterCreatedAt", absent());
        };
    }

    private long requests(Kind kind) {
        return upstream.findAll(switch (kind) {
            case CSV -> getRequestedFor(urlPathEqualTo(REPORT));
            case SHEET -> getRequestedFor(urlPathMatching(SHEET));
            case CALCOM -> getRequestedFor(urlPathEqualTo(BOOKINGS)).withQueryParam("afterCreatedAt", absent());
        }).size();
    }

    private static ResponseDefinitionBuilder good(Kind kind, boolean changed) throws Exception {
        return switch (kind) {
            case CSV -> aResponse().withStatus(200).withHeader("Content-Type", "text/csv")
                    .withBody(changed ? Fixtures.report().replace("Hex bolt", "Hex bolt v2") : Fixtures.report());
            case SHEET -> json(200, changed ? Fixtures.sheets("values_get_leads.json").replace("+14155550132", "+10000000000")
                    : Fixtures.sheets("values_get_leads.json"));
            case CALCOM -> json(200, Fixtures.calcom("bookings_page1.json"));
        };
    }

    private static ResponseDefinitionBuilder fault(Kind kind, FaultKind fault) {
        return switch (fault) {
            case CONNECTION_RESET -> aResponse().withFault(Fault.CONNECTION_RESET_BY_PEER);
            case SLOWER_THAN_TIMEOUT -> aResponse().withStatus(200).withBody("late").withFixedDelay(1500);
            case HTTP_500 -> json(500, "{\"error\":{\"code\":500,\"message\":\"Internal error\"}}");
            case HTTP_503 -> json(503, "{\"error\":{\"code\":503,\"message\":\"The service is currently unavailable.\"}}");
            case HTTP_429_WITH_RESET -> json(429, "{\"error\":{\"code\":429,\"message\":\"Too many requests\"}}")
                    .withHeader("Retry-After", "1").withHeader("X-RateLimit-Reset-Default", "1");
            case HTTP_401 -> json(401, "{\"error\":{\"code\":401,\"message\":\"Request had invalid authentication credentials.\"}}");
            case MALFORMED_BODY -> kind == Kind.CSV
                    ? aResponse().withStatus(200).withBody("Product ID,Description,Units QoH\r\nA-1,\"never closed,3\r\n")
                    : json(200, "{\"range\":\"Leads!A1:H30\",\"values\":[[\"Lead ID\",\"Full");
            case EMPTY_BODY -> aResponse().withStatus(200).withBody("");
        };
    }

    private static ResponseDefinitionBuilder json(int status, String body) {
        return aResponse().withStatus(status).withHeader("Content-Type", "application/json; charset=UTF-8").withBody(body);
    }

    /** The keys the upstream's good answer holds, in order. */
    private static List<String> upstreamKeys(Kind kind) throws Exception {
        List<String> out = new ArrayList<>();
        switch (kind) {
            case CSV -> {
                for (String line : Fixtures.report().split("\r?\n")) {
                    if (line.startsWith("NW-")) {
                        out.add(line.substring(0, line.indexOf(',')));
                    }
                }
            }
            case SHEET -> {
                ArrayNode values = (ArrayNode) JSON.readTree(Fixtures.sheets("values_get_leads.json")).get("values");
                for (int i = 1; i < values.size(); i++) {
                    // rows without a key are rejected by every read, blank rows skipped: not upstream rows
                    var key = values.get(i).get(0);
                    if (key != null && !key.asText().isBlank()) {
                        out.add(key.asText());
                    }
                }
            }
            case CALCOM -> {
                for (String page : List.of("bookings_page1.json", "bookings_page2.json")) {
                    ((ObjectNode) JSON.readTree(Fixtures.calcom(page))).withArray("data").forEach(b -> out.add(b.get("uid").asText()));
                }
            }
        }
        return out.stream().sorted().toList();
    }

    private List<String> keys(Kind kind) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = target(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT " + kind.key + " FROM " + kind.table + " ORDER BY " + kind.key)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** The target's rows as text (every column but synced_at), in key order; empty when the table does not exist. */
    private List<String> rows(Kind kind) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = target(); Statement s = c.createStatement()) {
            try (ResultSet t = c.getMetaData().getTables(null, null, kind.table.toUpperCase(), null)) {
                if (!t.next()) {
                    return out;
                }
            }
            try (ResultSet rs = s.executeQuery("SELECT * FROM " + kind.table + " ORDER BY " + kind.key)) {
                var md = rs.getMetaData();
                while (rs.next()) {
                    StringBuilder row = new StringBuilder();
                    for (int i = 1; i <= md.getColumnCount(); i++) {
                        if (!md.getColumnName(i).equalsIgnoreCase("synced_at")) {
                            row.append(rs.getString(i)).append('|');
                        }
                    }
                    out.add(row.toString());
                }
            }
        }
        return out;
    }

    private String health(Kind kind) throws Exception {
        return text("SELECT status FROM syncwarden.source_health WHERE source_id = '" + kind.source + "'");
    }

    private List<String> openIncidents(Kind kind) throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = target(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT kind FROM syncwarden.incident WHERE status = 'open' AND source_id = '" + kind.source + "' ORDER BY kind")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    /** The upstream fixtures this test serves. */
    private static final class Fixtures {
        static String report() throws Exception {
            return io.syncwarden.Fixtures.read("finale/products_stock_report.csv");
        }

        static String sheets(String name) throws Exception {
            return io.syncwarden.Fixtures.read("sheets/" + name);
        }

        static String calcom(String name) throws Exception {
            return io.syncwarden.Fixtures.read("calcom/" + name);
        }
    }
}
