package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.absent;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.syncwarden.sync.SyncTrigger;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The calcom-bookings kind on Cal.com's current bookings list, {@code cal-api-version: 2026-05-01}: cursor paging
 * ({@code cursor}, {@code pagination.nextCursor}, {@code pagination.hasMore}), {@code limit}, at most one
 * {@code status}. WireMock answers with the documented shapes (the booking objects are 2024-08-13's); the 400 body
 * follows the API's error filter ({@code error.code} is the exception's name).
 */
class CalcomCursorPagingTest extends UpstreamStubTestSupport {
    private static final String KEY = "cal_test_0123456789abcdef";
    private static final String BOOKINGS = "/cursor/v2/bookings";
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

    private static String cursorOf(String page) throws Exception {
        return JSON.readTree(fixture(page)).path("pagination").path("nextCursor").asText();
    }

    /** A request as our client must send it: key, the 2026-05-01 version, limit, and the cursor (none on a pass's first page). */
    private static MappingBuilder page(String cursor) {
        return get(urlPathEqualTo(BOOKINGS)).withHeader("Authorization", equalTo("Bearer " + KEY))
                .withHeader("cal-api-version", equalTo("2026-05-01")).withQueryParam("limit", equalTo("3"))
                .withQueryParam("cursor", cursor == null ? absent() : equalTo(cursor));
    }

    private static ResponseDefinitionBuilder json(int status, String body) {
        return aResponse().withStatus(status).withHeader("Content-Type", "application/json").withBody(body);
    }

    private void serveAllPages() throws Exception {
        upstream.stubFor(page(null).willReturn(json(200, fixture("cursor_page1.json"))));
        upstream.stubFor(page(cursorOf("cursor_page1.json")).willReturn(json(200, fixture("cursor_page2.json"))));
        upstream.stubFor(page(cursorOf("cursor_page2.json")).willReturn(json(200, fixture("cursor_page3.json"))));
    }

    private List<LoggedRequest> requests() {
        return upstream.findAll(getRequestedFor(urlPathEqualTo(BOOKINGS))).stream()
                .sorted(Comparator.comparing(LoggedRequest::getLoggedDate)).toList();
    }

    private static String cursorSent(LoggedRequest r) {
        return r.queryParameter("cursor").isPresent() ? r.queryParameter("cursor").firstValue() : "-";
    }

    private JsonNode checkpoint(String source) throws Exception {
        return JSON.readTree(text("SELECT cursor_value FROM syncwarden.sync_checkpoint WHERE source_id = '" + source + "'"));
    }

    @Test
    void should_follow_next_cursor_until_has_more_is_false() throws Exception {
        serveAllPages();

        SyncTrigger.Result result = fire("it-calcom-cursor");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("read", 8L).containsEntry("inserted", 8L);
        assertThat(requests()).extracting(CalcomCursorPagingTest::cursorSent)
                .containsExactly("-", cursorOf("cursor_page1.json"), cursorOf("cursor_page2.json"));
        assertThat(requests()).allSatisfy(r -> {
            assertThat(r.queryParameter("take").isPresent()).as("2026-05-01 pages with limit, not take/skip").isFalse();
            assertThat(r.queryParameter("skip").isPresent()).isFalse();
            assertThat(r.queryParameter("afterCreatedAt").isPresent()).as("the first run reads everything").isFalse();
        });
        assertThat(text("SELECT attendee_email || '|' || start_time FROM bookings_cursor WHERE uid = 'k3VqT9wLmN2pXa7RcB4sYd'"))
                .isEqualTo("anais.dubois@example.fr|2025-06-02 08:00:00");
        assertThat(text("SELECT phase FROM syncwarden.sync_checkpoint WHERE source_id = 'it-calcom-cursor'")).isEqualTo("complete");
    }

    @Test
    void should_resume_a_failed_run_at_the_last_committed_cursor() throws Exception {
        String afterPage1 = cursorOf("cursor_page1.json");
        upstream.stubFor(page(null).willReturn(json(200, fixture("cursor_page1.json"))));
        upstream.stubFor(page(afterPage1).willReturn(json(503, "{\"status\":\"error\",\"error\":{\"code\":\"ServiceUnavailable\"}}")));

        SyncTrigger.Result broken = fire("it-calcom-cursor");

        assertThat(run(broken.runId())).containsEntry("status", "failed").containsEntry("error_class", "recoverable")
                .containsEntry("inserted", 3L);
        assertThat(checkpoint("it-calcom-cursor").path("cursor").asText()).isEqualTo(afterPage1);

        upstream.resetAll();
        upstream.stubFor(page(afterPage1).willReturn(json(200, fixture("cursor_page2.json"))));
        upstream.stubFor(page(cursorOf("cursor_page2.json")).willReturn(json(200, fixture("cursor_page3.json"))));
        SyncTrigger.Result resumed = fire("it-calcom-cursor");

        assertThat(run(resumed.runId())).containsEntry("status", "success").containsEntry("read", 5L).containsEntry("inserted", 5L);
        assertThat(requests()).extracting(CalcomCursorPagingTest::cursorSent).first().isEqualTo(afterPage1);
        assertThat(count("SELECT COUNT(*) FROM bookings_cursor")).isEqualTo(8);
    }

    @Test
    void should_walk_the_pass_again_when_cal_com_refuses_an_inherited_cursor() throws Exception {
        String afterPage1 = cursorOf("cursor_page1.json");
        upstream.stubFor(page(null).willReturn(json(200, fixture("cursor_page1.json"))));
        upstream.stubFor(page(afterPage1).willReturn(json(503, "{\"status\":\"error\"}")));
        fire("it-calcom-cursor");
        upstream.resetAll();
        upstream.stubFor(page(afterPage1).willReturn(json(400, fixture("error_400_cursor.json"))));

        SyncTrigger.Result refused = fire("it-calcom-cursor");

        assertThat(run(refused.runId())).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run(refused.runId()).get("error")).contains("HTTP 400").contains("BadRequestException");

        upstream.resetAll();
        serveAllPages();
        SyncTrigger.Result again = fire("it-calcom-cursor");

        assertThat(run(again.runId())).containsEntry("status", "success").containsEntry("read", 8L).containsEntry("unchanged", 3L);
        assertThat(requests()).extracting(CalcomCursorPagingTest::cursorSent).first().isEqualTo("-");
        assertThat(count("SELECT COUNT(*) FROM bookings_cursor")).isEqualTo(8);
    }

    @Test
    void should_read_changed_then_new_bookings_through_the_pass_filters_on_the_next_run() throws Exception {
        serveAllPages();
        Instant before = Instant.now();
        fire("it-calcom-cursor");
        Instant after = Instant.now();
        // the next run's watermarks: the walk's start less 5 minutes of clock skew; its filters: that less the 10 minute lookback
        Instant watermark = Instant.parse(checkpoint("it-calcom-cursor").path("updated").asText());
        assertThat(watermark).isBetween(before.minus(Duration.ofMinutes(5)), after.minus(Duration.ofMinutes(5)));
        String anchor = watermark.minus(Duration.ofMinutes(10)).minusMillis(1).toString();

        ObjectNode changed = (ObjectNode) JSON.readTree(fixture("cursor_page1.json"));
        ArrayNode bookings = (ArrayNode) changed.get("data");
        ((ObjectNode) bookings.get(0)).put("title", "Moved to Thursday").put("updatedAt", Instant.now().toString());
        while (bookings.size() > 1) {
            bookings.remove(1);
        }
        changed.set("pagination", JSON.readTree("{\"nextCursor\":null,\"hasMore\":false}"));
        ObjectNode created = changed.deepCopy();
        ((ObjectNode) created.get("data").get(0)).put("uid", "Zz0newBookingUid0000001").put("id", 990001)
                .put("createdAt", Instant.now().toString());
        upstream.resetAll();
        upstream.stubFor(page(null).withQueryParam("afterUpdatedAt", equalTo(anchor)).willReturn(json(200, changed.toString())));
        upstream.stubFor(page(null).withQueryParam("afterCreatedAt", equalTo(anchor)).willReturn(json(200, created.toString())));

        SyncTrigger.Result next = fire("it-calcom-cursor");

        assertThat(run(next.runId())).containsEntry("status", "success").containsEntry("updated", 1L).containsEntry("inserted", 1L);
        assertThat(requests()).extracting(r -> r.queryParameter("afterUpdatedAt").isPresent() ? "U" : "C").containsExactly("U", "C");
        assertThat(text("SELECT title FROM bookings_cursor WHERE uid = 'k3VqT9wLmN2pXa7RcB4sYd'")).isEqualTo("Moved to Thursday");
        assertThat(count("SELECT COUNT(*) FROM bookings_cursor")).isEqualTo(9);
    }

    @Test
    void should_refuse_two_statuses_before_asking_cal_com() throws Exception {
        SyncTrigger.Result result = fire("it-calcom-cursor-status");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run.get("error")).contains("at most one status").contains("upcoming,past");
        assertThat(upstream.getAllServeEvents()).as("nothing was sent").isEmpty();
    }

    @Test
    void should_send_a_single_status_and_the_limit_and_check_the_status_names() {
        CalcomBookingsSource source = new CalcomBookingsSource();
        source.setSourceId("unit");
        source.setApiVersion("2026-05-01");
        source.setStatus(" upcoming ");
        source.setTake(50);
        CalcomBookingsSource.Paging first = CalcomBookingsSource.Paging.from(null, null);
        assertThat(source.query(first)).isEqualTo("status=upcoming&limit=50");
        first.pageCursor = "eyJ2IjoxfQ==";
        assertThat(source.query(first)).isEqualTo("status=upcoming&limit=50&cursor=eyJ2IjoxfQ%3D%3D");
        assertThatThrownBy(() -> source.setApiVersion("2025-01-01"))
                .hasMessageContaining("2024-08-13").hasMessageContaining("2026-05-01");
    }

    @Test
    void should_say_so_when_cal_com_answers_the_current_version_with_offset_paging() throws Exception {
        upstream.stubFor(page(null).willReturn(json(200, fixture("bookings_page1.json"))));

        SyncTrigger.Result result = fire("it-calcom-cursor");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable").containsEntry("inserted", 0L);
        assertThat((String) run.get("error")).contains("offset paging").contains("apiVersion to 2024-08-13");
    }

    @Test
    void should_fail_when_has_more_comes_without_a_next_cursor() throws Exception {
        ObjectNode page = (ObjectNode) JSON.readTree(fixture("cursor_page1.json"));
        page.set("pagination", JSON.readTree("{\"nextCursor\":null,\"hasMore\":true}"));
        upstream.stubFor(page(null).willReturn(json(200, page.toString())));

        SyncTrigger.Result result = fire("it-calcom-cursor");

        assertThat(run(result.runId())).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable")
                .containsEntry("inserted", 0L);
        assertThat((String) run(result.runId()).get("error")).contains("hasMore=true without a nextCursor");
    }

    @Test
    void should_walk_the_pass_again_when_an_inherited_cursor_leads_nowhere() throws Exception {
        String stale = "eyJ2IjoxLCJzb3J0VXVpZCI6IjAxOGVmZmZmLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDAwMCJ9";
        ObjectNode first = (ObjectNode) JSON.readTree(fixture("cursor_page1.json"));
        ((ObjectNode) first.get("pagination")).put("nextCursor", stale);
        upstream.stubFor(page(null).willReturn(json(200, first.toString())));
        upstream.stubFor(page(stale).willReturn(json(503, "{\"status\":\"error\"}")));
        fire("it-calcom-cursor");
        upstream.resetAll();
        serveAllPages();
        // a cursor Cal.com no longer knows might be answered as an empty last page instead of a 400
        upstream.stubFor(page(stale).willReturn(json(200, "{\"status\":\"success\",\"data\":[],"
                + "\"pagination\":{\"nextCursor\":null,\"hasMore\":false}}")));

        SyncTrigger.Result next = fire("it-calcom-cursor");

        assertThat(run(next.runId())).containsEntry("status", "success").containsEntry("read", 8L);
        assertThat(requests()).extracting(CalcomCursorPagingTest::cursorSent)
                .containsExactly(stale, "-", cursorOf("cursor_page1.json"), cursorOf("cursor_page2.json"));
    }

    @Test
    void should_stop_a_walk_that_goes_round_in_circles() throws Exception {
        String afterPage1 = cursorOf("cursor_page1.json");
        upstream.stubFor(page(null).willReturn(json(200, fixture("cursor_page1.json"))));
        ObjectNode loop = (ObjectNode) JSON.readTree(fixture("cursor_page2.json"));
        loop.set("pagination", JSON.readTree("{\"nextCursor\":\"" + afterPage1 + "\",\"hasMore\":true}"));
        upstream.stubFor(page(afterPage1).willReturn(json(200, loop.toString())));

        SyncTrigger.Result result = fire("it-calcom-cursor");

        assertThat(run(result.runId())).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable")
                .containsEntry("inserted", 3L);
        assertThat((String) run(result.runId()).get("error")).contains("round in circles");
        assertThat(requests()).hasSize(2);
    }
}
