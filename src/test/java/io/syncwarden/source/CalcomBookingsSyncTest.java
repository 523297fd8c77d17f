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
        calcomProperties(p, KEY);
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
    void should_backfill_the_bookings_of_a_date_range_without_moving_the_checkpoint() throws Exception {
        serveBothPages(BOOKINGS);
        assertThat(fire("it-calcom").status()).isEqualTo("success");
        String checkpoint = text("SELECT cursor_value FROM syncwarden.sync_checkpoint WHERE source_id = 'it-calcom'");
        // the first three bookings (2-4 June), one retitled upstream without its updatedAt moving
        ObjectNode page = (ObjectNode) JSON.readTree(fixture("bookings_page1.json"));
        com.fasterxml.jackson.databind.node.ArrayNode data = (com.fasterxml.jackson.databind.node.ArrayNode) page.get("data");
        data.remove(4); // the fourth (5 June) stays in the answer: asked a day wider, it is left out by its start
        ((ObjectNode) data.get(0)).put("title", "Intro call (moved room)");
        ((ObjectNode) page.get("pagination")).put("hasNextPage", false);
        upstream.stubFor(page(BOOKINGS, 0).withQueryParam("afterStart", equalTo("2025-06-01T23:59:59.999Z"))
                .withQueryParam("beforeEnd", equalTo("2025-06-06T00:00:00Z")).withQueryParam("sortStart", equalTo("asc"))
                .willReturn(json(200, page.toString())));
        io.syncwarden.source.SyncSource source = io.syncwarden.source.SyncSource.of(context, "it-calcom");
        java.time.LocalDate from = java.time.LocalDate.of(2025, 6, 2);
        java.time.LocalDate to = java.time.LocalDate.of(2025, 6, 4);

        long estimate = source.countRange(context, from, to);
        io.syncwarden.source.SyncSource.BackfillResult result = source.backfill(context, from, to, (run, rows) -> { });

        assertThat(estimate).as("the target's own bookings of the range").isEqualTo(3);
        assertThat(result.read()).isEqualTo(3);
        assertThat(result.written()).as("only the retitled booking changed").isEqualTo(1);
        assertThat(text("SELECT title FROM bookings WHERE uid = 'k3VqT9wLmN2pXa7RcB4sYd'")).isEqualTo("Intro call (moved room)");
        assertThat(text("SELECT run_trigger || ' ' || status FROM syncwarden.sync_run WHERE run_id = " + result.runId()))
                .isEqualTo("backfill success");
        assertThat(text("SELECT cursor_value FROM syncwarden.sync_checkpoint WHERE source_id = 'it-calcom'"))
                .as("the next sync's watermarks stay").isEqualTo(checkpoint);
    }

    @Test
    void should_end_a_backfill_that_meets_a_rate_limit_on_every_key_and_say_until_when() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withQueryParam("afterStart", equalTo("2025-06-01T23:59:59.999Z"))
                .willReturn(json(429, fixture("error_429.json")).withHeader("Retry-After", "120")));
        io.syncwarden.source.SyncSource source = io.syncwarden.source.SyncSource.of(context, "it-calcom");
        java.time.LocalDate day = java.time.LocalDate.of(2025, 6, 2);

        org.assertj.core.api.Assertions.assertThatThrownBy(() -> source.backfill(context, day, day, (run, rows) -> { }))
                .hasMessageContaining("rate-limited every key until");

        assertThat(text("SELECT run_trigger || ' ' || status FROM syncwarden.sync_run")).isEqualTo("backfill failed");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_lock")).as("lock released").isZero();
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_health WHERE source_id = 'it-calcom' AND consecutive_failures > 0"))
                .as("not the source's failure").isZero();
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
        assertThat((String) failed.get("error")).startsWith("Malformed answer from Cal.com: not JSON")
                .contains("it begins with '{\"status\":\"success\",\"data\":[{\"uid\":\"x\"'");
        assertThat(failed).containsEntry("error_class", "recoverable");
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

    private static final String SHEET = "/v4/spreadsheets/1hRk7mQx2VtB9cYw4LpZ0sNd3FgJ6aEu8KoT5iWqHy1M";
    private static final String TAG = "syncwarden:email";

    /** The leads sheet as spreadsheets.get answers with grid data: displayed values, and a tag per row index given. */
    private static ObjectNode grid(Map<Integer, String> tags, int onlyColumn) throws Exception {
        var values = JSON.readTree(io.syncwarden.Fixtures.read("sheets/values_get_leads.json")).get("values");
        ObjectNode data = JSON.createObjectNode().put("startRow", 0).put("startColumn", onlyColumn < 0 ? 0 : onlyColumn);
        ArrayNode rowData = data.putArray("rowData");
        ArrayNode rowMetadata = data.putArray("rowMetadata");
        for (int i = 0; i < values.size(); i++) {
            ArrayNode cells = rowData.addObject().putArray("values");
            for (int c = 0; c < values.get(i).size(); c++) {
                if (onlyColumn < 0 || c == onlyColumn) {
                    cells.addObject().put("formattedValue", values.get(i).get(c).asText());
                }
            }
            ObjectNode meta = rowMetadata.addObject().put("pixelSize", 21);
            if (tags.containsKey(i)) {
                meta.putArray("developerMetadata").addObject().put("metadataId", 500 + i).put("metadataKey", TAG)
                        .put("metadataValue", tags.get(i));
            }
        }
        ObjectNode sheet = JSON.createObjectNode();
        ObjectNode tab = sheet.putArray("sheets").addObject();
        tab.putObject("properties").put("sheetId", 0).put("title", "Leads");
        tab.putArray("data").add(data);
        return sheet;
    }

    /** The sheet stub: grid read, tagging (answering with the e-mail column as tagged), writes by tag, appends. */
    private void serveLeadsSheet(Map<Integer, String> tagsBefore, Map<Integer, String> tagsAfter) throws Exception {
        upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(urlPathEqualTo("/token"))
                .willReturn(json(200, io.syncwarden.Fixtures.read("sheets/token_response.json"))));
        upstream.stubFor(get(urlPathEqualTo(SHEET)).withQueryParam("includeGridData", equalTo("true"))
                .willReturn(json(200, grid(tagsBefore, -1).toString())));
        ObjectNode tagged = JSON.createObjectNode().put("spreadsheetId", "1hRk7mQx2VtB9cYw4LpZ0sNd3FgJ6aEu8KoT5iWqHy1M");
        tagged.putArray("replies");
        tagged.set("updatedSpreadsheet", grid(tagsAfter, 2));
        upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(urlPathEqualTo(SHEET + ":batchUpdate"))
                .willReturn(json(200, tagged.toString())));
        upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(urlPathEqualTo(SHEET + "/values:batchUpdateByDataFilter"))
                .willReturn(json(200, "{\"totalUpdatedRows\": 1, \"totalUpdatedCells\": 2}")));
        upstream.stubFor(com.github.tomakehurst.wiremock.client.WireMock.post(com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(SHEET + "/values/Leads.*:append"))
                .willReturn(json(200, io.syncwarden.Fixtures.read("sheets/values_append_response.json"))));
    }

    private List<com.fasterxml.jackson.databind.JsonNode> bodies(String path) {
        return upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
                com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(path))).stream().map(r -> {
            try {
                return JSON.readTree(r.getBodyAsString());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }).toList();
    }

    private static String lastPage(String fixtureBody) {
        return fixtureBody.replace("\"hasNextPage\": true", "\"hasNextPage\": false");
    }

    @Test
    void should_write_new_and_changed_bookings_back_to_the_row_found_by_its_tag() throws Exception {
        // Siobhán O'Brien is lead L-1007, sheet row 8 (row index 7): untagged yet; the tagging answer shows her tag there
        upstream.stubFor(get(urlPathEqualTo("/wb" + BOOKINGS)).willReturn(json(200, lastPage(fixture("bookings_page2.json")))));
        serveLeadsSheet(Map.of(), Map.of(7, "siobhan.obrien@example.ie"));

        SyncTrigger.Result result = fire("it-calcom-writeback");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 3L);
        var tagging = bodies(SHEET + ":batchUpdate");
        assertThat(tagging).singleElement().satisfies(t -> {
            assertThat(t.get("includeSpreadsheetInResponse").asBoolean()).as("checked in the same request").isTrue();
            assertThat(t.get("responseRanges").get(0).asText()).isEqualTo("Leads!C1:C");
            var meta = t.get("requests").get(0).get("createDeveloperMetadata").get("developerMetadata");
            assertThat(meta.get("metadataKey").asText()).isEqualTo(TAG);
            assertThat(meta.get("metadataValue").asText()).isEqualTo("siobhan.obrien@example.ie");
            assertThat(meta.get("location").get("dimensionRange").get("startIndex").asInt()).isEqualTo(7);
        });
        // the write names the row by its tag, never by position, and touches only the cells that differ
        var writes = bodies(SHEET + "/values:batchUpdateByDataFilter");
        assertThat(writes).singleElement().satisfies(w -> {
            assertThat(w.get("valueInputOption").asText()).isEqualTo("RAW");
            var data = w.get("data").get(0);
            assertThat(data.get("dataFilter").get("developerMetadataLookup").get("metadataValue").asText()).isEqualTo("siobhan.obrien@example.ie");
            assertThat(data.get("dataFilter").has("a1Range")).isFalse();
            assertThat(data.get("values").get(0).toString())
                    .isEqualTo("[null,null,null,null,null,\"Cal.com\",null,\"Intro call between Maren Holt and O'Brien, Siobhán\"]");
        });
        // the two attendees with no lead row are appended, in the sheet's column order
        var appends = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor(
                com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching(SHEET + "/values/Leads.*:append")));
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
    void should_not_write_when_the_tag_landed_on_a_row_that_moved() throws Exception {
        upstream.stubFor(get(urlPathEqualTo("/wb" + BOOKINGS)).willReturn(json(200, lastPage(fixture("bookings_page2.json")))));
        // between the read and the tagging a row was inserted above: the tag now sits on the row holding another e-mail
        serveLeadsSheet(Map.of(), Map.of(6, "siobhan.obrien@example.ie"));

        SyncTrigger.Result result = fire("it-calcom-writeback");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed");
        assertThat((String) run.get("error")).contains("rows of the write-back sheet moved");
        assertThat(bodies(SHEET + "/values:batchUpdateByDataFilter")).as("nothing written to the wrong row").isEmpty();
        assertThat(bodies(SHEET + ":batchUpdate")).anySatisfy(b -> assertThat(b.path("requests").path(0).path("deleteDeveloperMetadata")
                .path("dataFilter").path("developerMetadataLookup").path("metadataId").asInt()).isEqualTo(506));
        // the attendees are still owed their write-back: the next run writes them, though no booking changed
        assertThat(count("SELECT COUNT(*) FROM syncwarden.write_back_pending WHERE source_id = 'it-calcom-writeback'")).isEqualTo(3);
        upstream.resetAll();
        upstream.stubFor(get(urlPathEqualTo("/wb" + BOOKINGS)).willReturn(json(200, lastPage(fixture("bookings_page2.json")))));
        serveLeadsSheet(Map.of(), Map.of(7, "siobhan.obrien@example.ie"));

        SyncTrigger.Result next = fire("it-calcom-writeback");

        assertThat(run(next.runId())).containsEntry("status", "success").containsEntry("inserted", 0L).containsEntry("updated", 0L);
        assertThat(bodies(SHEET + "/values:batchUpdateByDataFilter")).singleElement().satisfies(w -> assertThat(w.get("data").get(0)
                .get("dataFilter").get("developerMetadataLookup").get("metadataValue").asText()).isEqualTo("siobhan.obrien@example.ie"));
        assertThat(count("SELECT COUNT(*) FROM syncwarden.write_back_pending")).isZero();
    }

    @Test
    void should_write_back_only_bookings_a_run_inserted_or_changed() throws Exception {
        upstream.stubFor(get(urlPathEqualTo("/wb" + BOOKINGS)).willReturn(json(200, lastPage(fixture("bookings_page2.json")))));
        serveLeadsSheet(Map.of(7, "siobhan.obrien@example.ie"), Map.of(7, "siobhan.obrien@example.ie"));
        assertThat(fire("it-calcom-writeback").status()).isEqualTo("success");
        upstream.resetRequests();

        SyncTrigger.Result again = fire("it-calcom-writeback");

        assertThat(run(again.runId())).containsEntry("status", "success").containsEntry("inserted", 0L).containsEntry("updated", 0L);
        assertThat(upstream.findAll(getRequestedFor(urlPathEqualTo(SHEET)))).as("unchanged bookings: the sheet is not even read").isEmpty();
        assertThat(bodies(SHEET + ".*")).isEmpty();
    }

    @Test
    void should_write_the_latest_booking_of_an_attendee_so_a_cell_never_flips() throws Exception {
        // two bookings of Siobhán: the older one changes later, yet the cell keeps the latest booking's title
        ObjectNode page = (ObjectNode) JSON.readTree(lastPage(fixture("bookings_page2.json")));
        ObjectNode older = ((ObjectNode) page.get("data").get(1)).deepCopy();
        older.put("uid", "OlderBookingOfSiobhan01").put("title", "Older call").put("createdAt", "2025-05-01T09:00:00.000Z")
                .put("updatedAt", "2025-05-01T09:00:00.000Z");
        ((ArrayNode) page.get("data")).add(older);
        upstream.stubFor(get(urlPathEqualTo("/wb" + BOOKINGS)).inScenario("runs").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(200, page.toString())));
        serveLeadsSheet(Map.of(7, "siobhan.obrien@example.ie"), Map.of(7, "siobhan.obrien@example.ie"));
        assertThat(fire("it-calcom-writeback").status()).isEqualTo("success");
        ObjectNode changed = (ObjectNode) JSON.readTree(lastPage(fixture("bookings_page2.json")));
        older.put("title", "Older call, moved").put("updatedAt", "2025-06-06T09:00:00.000Z");
        changed.set("data", JSON.createArrayNode().add(older));
        upstream.resetAll();
        upstream.stubFor(get(urlPathEqualTo("/wb" + BOOKINGS)).willReturn(json(200, changed.toString())));
        serveLeadsSheet(Map.of(7, "siobhan.obrien@example.ie"), Map.of(7, "siobhan.obrien@example.ie"));

        SyncTrigger.Result second = fire("it-calcom-writeback");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("updated", 1L);
        assertThat(bodies(SHEET + "/values:batchUpdateByDataFilter")).singleElement()
                .satisfies(w -> assertThat(w.get("data").get(0).get("values").get(0).get(7).asText())
                        .isEqualTo("Intro call between Maren Holt and O'Brien, Siobhán"));
    }

    @Test
    void should_start_the_updated_at_pass_even_when_the_first_run_saw_no_updated_at() throws Exception {
        ObjectNode page = (ObjectNode) JSON.readTree(lastPage(fixture("bookings_page2.json")));
        page.get("data").forEach(b -> ((ObjectNode) b).putNull("updatedAt"));
        upstream.stubFor(createdPage(null, 0).willReturn(json(200, page.toString())));
        assertThat(fire("it-calcom").status()).isEqualTo("success");
        ObjectNode cancelled = page.deepCopy();
        ObjectNode booking = (ObjectNode) cancelled.get("data").get(0);
        booking.put("status", "cancelled").put("updatedAt", java.time.Instant.now().toString());
        cancelled.set("data", JSON.createArrayNode().add(booking));
        upstream.resetAll();
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withQueryParam("sortUpdatedAt", equalTo("asc")).willReturn(json(200, cancelled.toString())));
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).withQueryParam("sortCreated", equalTo("asc"))
                .willReturn(json(200, "{\"status\":\"success\",\"data\":[],\"pagination\":{\"hasNextPage\":false}}")));

        SyncTrigger.Result second = fire("it-calcom");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("updated", 1L);
        assertThat(requests(BOOKINGS)).extracting(r -> r.queryParameter("sortUpdatedAt").isPresent()).containsExactly(true, false);
        assertThat(text("SELECT status FROM bookings WHERE uid = '" + booking.get("uid").asText() + "'")).isEqualTo("cancelled");
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

    /** A run that reads every booking again, into a bookings table whose titles must be shorter than 60 characters. */
    private SyncTrigger.Result runWithShortTitlesOnly() throws Exception {
        serveBothPages(BOOKINGS);
        fire("it-calcom");
        try (var c = target(); var s = c.createStatement()) {
            s.execute("DELETE FROM bookings");
            s.execute("DELETE FROM syncwarden.sync_checkpoint WHERE source_id = 'it-calcom'");
            s.execute("ALTER TABLE bookings ADD CONSTRAINT short_title CHECK (LENGTH(title) < 60)");
        }
        SyncTrigger.Result result = fire("it-calcom");
        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 7L).containsEntry("rejected", 1L);
        try (var c = target(); var s = c.createStatement()) {
            s.execute("ALTER TABLE bookings DROP CONSTRAINT short_title"); // the cause fixed
        }
        return result;
    }

    @Test
    void should_replay_a_booking_the_database_refused_once_the_cause_is_fixed() throws Exception {
        SyncTrigger.Result refused = runWithShortTitlesOnly();

        io.syncwarden.sync.RejectedReplay.Result replay = SyncSource.of(context, "it-calcom").replayRejected(context, refused.runId(), 0);

        assertThat(replay.replayed()).isEqualTo(1);
        assertThat(replay.rejectedAgain()).isZero();
        assertThat(text("SELECT title FROM bookings WHERE uid = 'Aa9kD3fV7nP1cS5xG2yJ8m'")).hasSize(61);
        assertThat(count("SELECT COUNT(*) FROM bookings")).isEqualTo(8);
        assertThat(text("SELECT CAST(replayed_at IS NOT NULL AS VARCHAR) FROM syncwarden.rejected_row")).isEqualToIgnoringCase("true");
    }

    @Test
    void should_not_replay_a_refused_booking_a_later_run_wrote_again() throws Exception {
        SyncTrigger.Result refused = runWithShortTitlesOnly();
        ObjectNode changed = (ObjectNode) JSON.readTree(fixture("bookings_page2.json"));
        ObjectNode booking = ((ObjectNode) changed.get("data").get(0)).deepCopy();
        booking.put("title", "Product demo, rescheduled").put("updatedAt", "2025-06-06T09:00:00.000Z");
        changed.set("data", JSON.createArrayNode().add(booking));
        changed.set("pagination", JSON.readTree("{\"totalItems\":1,\"remainingItems\":0,\"returnedItems\":1,\"itemsPerPage\":5,"
                + "\"currentPage\":1,\"totalPages\":1,\"hasNextPage\":false,\"hasPreviousPage\":false}"));
        ObjectNode none = changed.deepCopy();
        none.set("data", JSON.createArrayNode());
        // the next run's passes: the booking changed (and now fits), nothing new
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).atPriority(1).withQueryParam("sortUpdatedAt", equalTo("asc"))
                .willReturn(json(200, changed.toString())));
        upstream.stubFor(get(urlPathEqualTo(BOOKINGS)).atPriority(1).withQueryParam("sortCreated", equalTo("asc"))
                .willReturn(json(200, none.toString())));
        assertThat(fire("it-calcom").status()).isEqualTo("success");

        io.syncwarden.sync.RejectedReplay.Result replay = SyncSource.of(context, "it-calcom").replayRejected(context, refused.runId(), 0);

        assertThat(replay.replayed()).isZero();
        assertThat(replay.left()).as("superseded by the later run's write").isEqualTo(1);
        assertThat(text("SELECT title FROM bookings WHERE uid = 'Aa9kD3fV7nP1cS5xG2yJ8m'")).isEqualTo("Product demo, rescheduled");
    }
}
