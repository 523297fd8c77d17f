package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.syncwarden.sync.SyncTrigger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The calcom-bookings kind against WireMock serving Cal.com API v2 (2024-08-13 bookings) on loopback. */
class CalcomBookingsSyncTest extends UpstreamStubTestSupport {
    private static final String KEY = "cal_test_0123456789abcdef";
    private static final String BOOKINGS = "/v2/bookings";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    protected String testRoutes() {
        return "test-calcom-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        p.put("test.calcom.base", upstream.baseUrl());
        p.put("test.calcom.key", KEY);
        p.put("camel.component.google-sheets.serviceAccountKey", serviceAccountKey(upstream.baseUrl() + "/token"));
        p.put("syncwarden.google.root-url", upstream.baseUrl() + "/");
    }

    private static String fixture(String name) throws Exception {
        return io.syncwarden.Fixtures.read("calcom/" + name);
    }

    /** A page request as our client must send it: key, API version, and the page's skip. */
    private static MappingBuilder page(String path, int skip) {
        return get(urlPathEqualTo(path)).withHeader("Authorization", equalTo("Bearer " + KEY))
                .withHeader("cal-api-version", equalTo("2024-08-13")).withQueryParam("skip", equalTo(String.valueOf(skip)));
    }

    /** The new-bookings pass: ascending createdAt, after the createdAt watermark (none on the first run). */
    private static MappingBuilder createdPage(String after, int skip) {
        return page(BOOKINGS, skip).withQueryParam("sortCreated", equalTo("asc"))
                .withQueryParam("afterCreatedAt", after == null ? absent() : equalTo(after));
    }

    /** The changed-bookings pass: ascending updatedAt, after the updatedAt watermark. */
    private static MappingBuilder updatedPage(String after, int skip) {
        return page(BOOKINGS, skip).withQueryParam("sortUpdatedAt", equalTo("asc")).withQueryParam("afterUpdatedAt", equalTo(after));
    }

    /** Page 2 is asked for after page 1's newest createdAt (2025-05-30T06:48:33.000Z), less 1 ms. */
    private static final String AFTER_PAGE_1 = "2025-05-30T06:48:32.999Z";

    private void serveBothPages(String path) throws Exception {
        upstream.stubFor(createdPage(null, 0).willReturn(json(200, fixture("bookings_page1.json"))));
        upstream.stubFor(createdPage(AFTER_PAGE_1, 0).willReturn(json(200, fixture("bookings_page2.json"))));
    }

    /** A request as "pass:after/skip": C (afterCreatedAt) or U (afterUpdatedAt), "-" when unfiltered. */
    private static String anchorOf(LoggedRequest r) {
        var u = r.queryParameter("afterUpdatedAt");
        var c = r.queryParameter("afterCreatedAt");
        String pass = r.queryParameter("sortUpdatedAt").isPresent() ? "U:" : "C:";
        String after = u.isPresent() ? u.firstValue() : c.isPresent() ? c.firstValue() : "-";
        return pass + after + "/" + r.queryParameter("skip").firstValue();
    }

    private static com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder json(int status, String body) {
        return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
    }

    private List<LoggedRequest> requests(String path) {
        return upstream.findAll(getRequestedFor(urlPathEqualTo(path))).stream()
                .sorted(Comparator.comparing(LoggedRequest::getLoggedDate)).toList();
    }

    @Test
    void should_page_through_all_bookings_and_map_them() throws Exception {
        serveBothPages(BOOKINGS);

        SyncTrigger.Result result = fire("it-calcom");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("read", 8L).containsEntry("inserted", 8L);
        assertThat(requests(BOOKINGS)).extracting(CalcomBookingsSyncTest::anchorOf).containsExactly("C:-/0", "C:" + AFTER_PAGE_1 + "/0");
        assertThat(requests(BOOKINGS)).allSatisfy(r -> assertThat(r.queryParameter("take").firstValue()).isEqualTo("5"));
        assertThat(text("SELECT attendee_email || '|' || attendee_time_zone || '|' || event_type_slug || '|' || start_time "
                + "FROM bookings WHERE uid = 'k3VqT9wLmN2pXa7RcB4sYd'"))
                .isEqualTo("anais.dubois@example.fr|Europe/Paris|intro-call|2025-06-02 08:00:00");
        assertThat(text("SELECT title FROM bookings WHERE uid = 'k3VqT9wLmN2pXa7RcB4sYd'"))
                .isEqualTo("Intro call between Maren Holt and Anaïs Dubois");
        assertThat(text("SELECT status || '|' || cancellation_reason FROM bookings WHERE uid = 'Aa9kD3fV7nP1cS5xG2yJ8m'"))
                .isEqualTo("rejected|Outside our service area");
    }

    @Test
    void should_fetch_only_changed_and_new_bookings_on_the_next_run() throws Exception {
        serveBothPages(BOOKINGS);
        fire("it-calcom");
        // first run: newest updatedAt 2025-06-04T15:27:36.950Z, newest createdAt 2025-06-03T10:10:10.100Z (page 2)
        ObjectNode changed = (ObjectNode) JSON.readTree(fixture("bookings_page2.json"));
        ObjectNode booking = ((ObjectNode) changed.get("data").get(1)).deepCopy();
        booking.put("status", "cancelled").put("cancellationReason", "Client asked to move it").put("updatedAt", "2025-06-05T09:00:00.000Z");
        ObjectNode created = ((ObjectNode) changed.get("data").get(2)).deepCopy();
        created.put("uid", "Nw7newBookingNoUpdate01").put("createdAt", "2025-06-05T08:00:00.000Z").putNull("updatedAt");
        String last = "{\"totalItems\":1,\"remainingItems\":0,\"returnedItems\":1,\"itemsPerPage\":5,"
                + "\"currentPage\":1,\"totalPages\":1,\"hasNextPage\":false,\"hasPreviousPage\":false}";
        changed.set("pagination", JSON.readTree(last));
        ObjectNode fresh = changed.deepCopy();
        changed.set("data", JSON.createArrayNode().add(booking));
        fresh.set("data", JSON.createArrayNode().add(created));
        upstream.resetRequests();
        // each pass starts 10 minutes (the lookback) and 1 ms before its watermark
        upstream.stubFor(updatedPage("2025-06-04T15:17:36.949Z", 0).willReturn(json(200, changed.toString())));
        upstream.stubFor(createdPage("2025-06-03T10:00:10.099Z", 0).willReturn(json(200, fresh.toString())));

        SyncTrigger.Result second = fire("it-calcom");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("read", 2L)
                .containsEntry("updated", 1L).containsEntry("inserted", 1L);
        assertThat(requests(BOOKINGS)).extracting(CalcomBookingsSyncTest::anchorOf)
                .containsExactly("U:2025-06-04T15:17:36.949Z/0", "C:2025-06-03T10:00:10.099Z/0");
        assertThat(text("SELECT status || '|' || cancellation_reason FROM bookings WHERE uid = '" + booking.get("uid").asText() + "'"))
                .isEqualTo("cancelled|Client asked to move it");
        // a booking never changed has no updatedAt: only the createdAt pass can find it
        assertThat(text("SELECT CAST(created_at AS VARCHAR) FROM bookings WHERE uid = 'Nw7newBookingNoUpdate01' AND updated_at IS NULL"))
                .startsWith("2025-06-05 08:00:00");
        assertThat(count("SELECT COUNT(*) FROM bookings")).isEqualTo(9);
    }

    @Test
    void should_step_over_a_page_of_identical_times_with_skip() throws Exception {
        // an import gave five bookings the same createdAt: asking "after it" again returns the same five
        ObjectNode tied = (ObjectNode) JSON.readTree(fixture("bookings_page1.json"));
        tied.get("data").forEach(b -> ((ObjectNode) b).put("createdAt", "2025-06-01T00:00:00.000Z"));
        String sameFive = tied.toString();
        upstream.stubFor(createdPage(null, 0).willReturn(json(200, sameFive)));
        upstream.stubFor(createdPage("2025-05-31T23:59:59.999Z", 0).willReturn(json(200, sameFive)));
        upstream.stubFor(createdPage("2025-05-31T23:59:59.999Z", 5).willReturn(json(200, fixture("bookings_page2.json"))));

        SyncTrigger.Result result = fire("it-calcom");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 8L);
        assertThat(requests(BOOKINGS)).extracting(CalcomBookingsSyncTest::anchorOf)
                .containsExactly("C:-/0", "C:2025-05-31T23:59:59.999Z/0", "C:2025-05-31T23:59:59.999Z/5");
        assertThat(count("SELECT COUNT(*) FROM bookings")).isEqualTo(8);
    }

    @Test
    void should_not_retry_a_rejected_api_key_and_say_so() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).willReturn(json(401, fixture("error_401.json"))));

        SyncTrigger.Result result = fire("it-calcom");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run.get("error")).contains("HTTP 401").contains("credentials").contains("UnauthorizedException")
                .doesNotContain(KEY);
        assertThat(requests(BOOKINGS)).hasSize(1);
    }

    @ParameterizedTest(name = "HTTP {0} -> {1} after {2} request(s)")
    @CsvSource({"400, non_recoverable, 1", "403, non_recoverable, 1", "404, non_recoverable, 1",
            "500, recoverable, 3", "502, recoverable, 3"})
    void should_classify_each_error_status_and_name_it_in_the_run_error(int status, String errorClass, int requests) throws Exception {
        String body = "{\"status\":\"error\",\"timestamp\":\"2025-06-04T09:15:22.481Z\",\"path\":\"/v2/bookings\","
                + "\"error\":{\"code\":\"Status" + status + "Exception\",\"message\":\"upstream said no\"}}";
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).willReturn(json(status, body)));

        SyncTrigger.Result result = fire("it-calcom");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", errorClass);
        assertThat((String) run.get("error")).contains("HTTP " + status).contains("Status" + status + "Exception");
        assertThat(requests(BOOKINGS)).hasSize(requests);
    }

    @Test
    void should_wait_as_long_as_the_rate_limit_reset_header_says() throws Exception {
        Map<String, Object> headers = JSON.readValue(fixture("error_429.headers.json"), Map.class);
        @SuppressWarnings("unchecked")
        Map<String, String> h = (Map<String, String>) headers.get("headers");
        var limited = aResponse().withStatus(429).withBody(fixture("error_429.json"));
        h.forEach((k, v) -> limited.withHeader(k, k.equals("X-RateLimit-Reset-Default") ? "2" : v));
        upstream.stubFor(createdPage(null, 0).inScenario("limit").whenScenarioStateIs(Scenario.STARTED).willReturn(limited).willSetStateTo("open"));
        upstream.stubFor(createdPage(null, 0).inScenario("limit").whenScenarioStateIs("open").willReturn(json(200, fixture("bookings_page1.json"))));
        upstream.stubFor(createdPage(AFTER_PAGE_1, 0).willReturn(json(200, fixture("bookings_page2.json"))));

        SyncTrigger.Result result = fire("it-calcom");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 8L);
        List<LoggedRequest> first = requests(BOOKINGS).stream().filter(r -> !r.queryParameter("afterCreatedAt").isPresent()).toList();
        assertThat(first).hasSize(2);
        // blind back-off here would retry after 10 ms; the header asked for 2 s
        assertThat(first.get(1).getLoggedDate().getTime() - first.get(0).getLoggedDate().getTime()).isGreaterThanOrEqualTo(1900);
    }

    @Test
    void should_fail_on_a_malformed_page_keep_committed_pages_and_resume_there() throws Exception {
        upstream.stubFor(createdPage(null, 0).willReturn(json(200, fixture("bookings_page1.json"))));
        upstream.stubFor(createdPage(AFTER_PAGE_1, 0).willReturn(json(200, "{\"status\":\"success\",\"data\":[{\"uid\":\"x\"")));

        SyncTrigger.Result broken = fire("it-calcom");

        Map<String, Object> failed = run(broken.runId());
        assertThat(failed).containsEntry("status", "failed").containsEntry("inserted", 5L);
        assertThat((String) failed.get("error")).contains("malformed JSON");
        assertThat(count("SELECT COUNT(*) FROM bookings")).isEqualTo(5);

        upstream.resetAll();
        upstream.stubFor(createdPage(AFTER_PAGE_1, 0).willReturn(json(200, fixture("bookings_page2.json"))));
        SyncTrigger.Result resumed = fire("it-calcom");

        assertThat(run(resumed.runId())).containsEntry("status", "success").containsEntry("read", 3L).containsEntry("inserted", 3L);
        assertThat(requests(BOOKINGS)).singleElement();
        assertThat(count("SELECT COUNT(*) FROM bookings")).isEqualTo(8);
    }

    @Test
    void should_reject_a_booking_without_uid_and_write_the_others() throws Exception {
        ObjectNode page = (ObjectNode) JSON.readTree(fixture("bookings_page2.json"));
        ((ObjectNode) page.get("data").get(0)).remove("uid");
        ((ObjectNode) page.get("data").get(2)).put("start", "next tuesday");
        page.set("pagination", JSON.readTree("{\"hasNextPage\":false}"));
        upstream.stubFor(page(BOOKINGS, 0).willReturn(json(200, page.toString())));

        SyncTrigger.Result result = fire("it-calcom");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 1L).containsEntry("rejected", 2L);
        assertThat(text("SELECT LISTAGG(reason, ' / ') WITHIN GROUP (ORDER BY row_position) FROM syncwarden.rejected_row"))
                .isEqualTo("booking has no uid / field start is not an ISO-8601 time: 'next tuesday'");
    }

    @Test
    void should_look_bookings_up_by_attendee_email_or_name() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withHeader("Authorization", equalTo("Bearer " + KEY))
                .willReturn(json(200, fixture("bookings_page1.json"))));
        SourceLookup lookup = context.getRegistry().lookupByNameAndType("sourceLookup", SourceLookup.class);

        List<Map<String, Object>> byEmail = lookup.findIn("it-calcom", "Anais.Dubois@example.fr");
        List<Map<String, Object>> byName = lookup.findIn("it-calcom", "Anaïs Dubois");

        assertThat(byEmail).singleElement().satisfies(r -> assertThat(r).containsEntry("uid", "k3VqT9wLmN2pXa7RcB4sYd"));
        assertThat(byName).singleElement().satisfies(r -> assertThat(r).containsEntry("attendee_email", "anais.dubois@example.fr"));
        List<LoggedRequest> asked = requests(BOOKINGS);
        assertThat(asked).hasSize(2);
        assertThat(asked.get(0).queryParameter("attendeeEmail").firstValue()).isEqualTo("Anais.Dubois@example.fr");
        assertThat(asked.get(1).queryParameter("attendeeName").firstValue()).isEqualTo("Anaïs Dubois");
    }

    @Test
    void should_write_new_and_changed_bookings_back_to_the_leads_sheet() throws Exception {
        String sheet = "/v4/spreadsheets/1hRk7mQx2VtB9cYw4LpZ0sNd3FgJ6aEu8KoT5iWqHy1M/values";
        upstream.stubFor(get(urlPathEqualTo("/wb" + BOOKINGS))
                .willReturn(json(200, fixture("bookings_page2.json").replace("\"hasNextPage\": true", "\"hasNextPage\": false"))));
        upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(urlPathEqualTo("/token"))
                .willReturn(json(200, io.syncwarden.Fixtures.read("sheets/token_response.json"))));
        upstream.stubFor(get(com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(sheet + "/Leads.*"))
                .willReturn(json(200, io.syncwarden.Fixtures.read("sheets/values_get_leads.json"))));
        upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(urlPathEqualTo(sheet + ":batchUpdate"))
                .willReturn(json(200, "{\"totalUpdatedCells\": 2}")));
        upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(sheet + "/Leads.*:append"))
                .willReturn(json(200, io.syncwarden.Fixtures.read("sheets/values_append_response.json"))));

        SyncTrigger.Result result = fire("it-calcom-writeback");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 3L);
        // Siobhán O'Brien is lead L-1007 on sheet row 8: her Source and Notes cells are updated in place
        var updates = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(urlPathEqualTo(sheet + ":batchUpdate")));
        assertThat(updates).hasSize(1);
        var update = JSON.readTree(updates.get(0).getBodyAsString());
        assertThat(update.get("valueInputOption").asText()).isEqualTo("RAW");
        assertThat(update.get("data")).extracting(d -> d.get("range").asText() + "=" + d.get("values").get(0).get(0).asText())
                .containsExactlyInAnyOrder("Leads!F8=Cal.com", "Leads!H8=Intro call between Maren Holt and O'Brien, Siobhán");
        // the two attendees with no lead row are appended, in the sheet's column order
        var appends = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
                com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(sheet + "/Leads.*:append")));
        assertThat(appends).singleElement().satisfies(r -> {
            assertThat(r.queryParameter("valueInputOption").firstValue()).isEqualTo("RAW");
            assertThat(r.queryParameter("insertDataOption").firstValue()).isEqualTo("INSERT_ROWS");
        });
        var rows = JSON.readTree(appends.get(0).getBodyAsString()).get("values");
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0)).extracting(com.fasterxml.jackson.databind.JsonNode::asText).containsExactly(
                "Aa9kD3fV7nP1cS5xG2yJ8m", "María José Fernández-López", "mj.fernandez@example.es", "", "", "Cal.com", "6/1/2025",
                "Product demo between Dev Raman and María José Fernández-López");
        assertThat(rows.get(1).get(2).asText()).isEqualTo("a.smirnov@example.ru");
    }

    @Test
    void should_run_a_second_calendar_added_with_yaml_only() throws Exception {
        upstream.stubFor(get(urlPathEqualTo("/eu" + BOOKINGS)).withHeader("Authorization", equalTo("Bearer " + KEY))
                .willReturn(json(200, fixture("bookings_page2.json").replace("\"hasNextPage\": true", "\"hasNextPage\": false"))));

        SyncTrigger.Result result = fire("it-calcom-eu");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 3L);
        assertThat(count("SELECT COUNT(*) FROM bookings_eu")).isEqualTo(3);
        assertThat(requests("/eu" + BOOKINGS)).singleElement()
                .satisfies(r -> assertThat(r.queryParameter("take").firstValue()).isEqualTo("100"));
    }
}
