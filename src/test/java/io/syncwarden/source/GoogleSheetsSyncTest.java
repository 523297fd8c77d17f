package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.containing;
import static com.github.tomakehurst.wiremock.client.WireMock.equalTo;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.post;
import static com.github.tomakehurst.wiremock.client.WireMock.postRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathMatching;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.tomakehurst.wiremock.client.MappingBuilder;
import com.github.tomakehurst.wiremock.client.ResponseDefinitionBuilder;
import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.syncwarden.sync.SyncTrigger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Date;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * The google-sheets kind: camel-google-sheets and the real Google API client talk to WireMock playing
 * spreadsheets.values.get and the OAuth token endpoint (service-account JWT-bearer grant, token_uri from the key).
 */
class GoogleSheetsSyncTest extends UpstreamStubTestSupport {
    private static final String SHEET = "1hRk7mQx2VtB9cYw4LpZ0sNd3FgJ6aEu8KoT5iWqHy1M";
    private static final String VALUES = "/v4/spreadsheets/" + SHEET + "/values/.*";
    private static final String TOKEN = "ya29.TEST-not-a-real-token-7f3c9a1e";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    protected String testRoutes() {
        return "test-sheets-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        p.put("camel.component.google-sheets.serviceAccountKey", serviceAccountKey(upstream.baseUrl() + "/token"));
        p.put("syncwarden.google.root-url", upstream.baseUrl() + "/");
        p.put("syncwarden.upstream.read-timeout-ms", "1000");
    }

    private static String fixture(String name) throws Exception {
        return io.syncwarden.Fixtures.read("sheets/" + name);
    }

    private void serveToken() throws Exception {
        upstream.stubFor(post(urlPathEqualTo("/token")).willReturn(json(200, fixture("token_response.json"))));
    }

    private static MappingBuilder values(String render) {
        return get(urlPathMatching(VALUES)).withHeader("Authorization", equalTo("Bearer " + TOKEN))
                .withQueryParam("valueRenderOption", equalTo(render));
    }

    private static ResponseDefinitionBuilder json(int status, String body) {
        return aResponse().withStatus(status).withHeader("Content-Type", "application/json; charset=UTF-8").withBody(body);
    }

    @Test
    void should_load_the_leads_sheet_keeping_unicode_and_converting_dates() throws Exception {
        serveToken();
        upstream.stubFor(values("FORMATTED_VALUE").willReturn(json(200, fixture("values_get_leads.json"))));

        SyncTrigger.Result result = fire("it-sheet-leads");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("read", 25L).containsEntry("inserted", 25L);
        assertThat(count("SELECT rows_skipped FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo(1);
        assertThat(text("SELECT full_name FROM leads WHERE lead_id = 'L-1010'")).isEqualTo("Hiroshi Nakamura (中村 博)");
        assertThat(text("SELECT phone FROM leads WHERE lead_id = 'L-1001'")).isEqualTo("+14155550132");
        assertThat(text("SELECT company FROM leads WHERE lead_id = 'L-1004'")).isNull();
        assertThat(text("SELECT notes FROM leads WHERE lead_id = 'L-1003'")).isNull();
        try (var c = target(); var s = c.createStatement(); var rs = s.executeQuery("SELECT created FROM leads WHERE lead_id = 'L-1001'")) {
            rs.next();
            assertThat(rs.getObject(1)).isInstanceOf(Date.class);
            assertThat(rs.getDate(1).toLocalDate()).hasToString("2025-03-03");
        }
        // the real client did the service-account JWT-bearer exchange at the key's token_uri, then used the token
        assertThat(upstream.findAll(postRequestedFor(urlPathEqualTo("/token"))
                .withRequestBody(containing("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")))).hasSize(1);
        assertThat(upstream.findAll(getRequestedFor(urlPathMatching(VALUES)))).singleElement()
                .satisfies(r -> assertThat(r.getUrl()).contains("Leads").contains("A1").contains("H30"));
    }

    @Test
    void should_look_a_lead_up_in_the_sheet_by_email_or_name() throws Exception {
        serveToken();
        upstream.stubFor(values("FORMATTED_VALUE").willReturn(json(200, fixture("values_get_leads.json"))));
        upstream.stubFor(values("UNFORMATTED_VALUE").willReturn(json(200, fixture("values_get_leads_unformatted.json"))));
        SourceLookup lookup = context.getRegistry().lookupByNameAndType("sourceLookup", SourceLookup.class);

        assertThat(lookup.findIn("it-sheet-leads", "  ZOE.Castellanos@example.com ")).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("lead_id", "L-1001").containsEntry("sheet_row", 2));
        assertThat(lookup.findIn("it-sheet-leads", "Hiroshi Nakamura (中村 博)")).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("email", "h.nakamura@example.jp").containsEntry("sheet_row", 11));
        assertThat(lookup.findIn("it-sheet-leads", "nobody@example.com")).isEmpty();
        Map<String, Object> everywhere = lookup.find("chloe.marchand@example.fr");
        assertThat(everywhere).containsOnlyKeys("it-sheet-leads", "it-sheet-raw");
        assertThat((List<?>) everywhere.get("it-sheet-raw")).hasSize(1);
    }

    @Test
    void should_read_a_second_sheet_unformatted_with_yaml_only() throws Exception {
        serveToken();
        upstream.stubFor(values("UNFORMATTED_VALUE").willReturn(json(200, fixture("values_get_leads_unformatted.json"))));

        SyncTrigger.Result result = fire("it-sheet-raw");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 25L);
        assertThat(text("SELECT CAST(created AS VARCHAR) || '|' || full_name || '|' || email FROM leads_raw WHERE lead_id = 'L-1001'"))
                .isEqualTo("2025-03-03|Zoë Castellanos|zoe.castellanos@example.com");
    }

    @Test
    void should_reject_rows_without_key_or_with_bad_dates_naming_the_sheet_row() throws Exception {
        serveToken();
        ObjectNode sheet = (ObjectNode) JSON.readTree(fixture("values_get_leads.json"));
        ArrayNode rows = (ArrayNode) sheet.get("values");
        ((ArrayNode) rows.get(5)).set(0, JSON.getNodeFactory().textNode(""));      // sheet row 6: no Lead ID
        ((ArrayNode) rows.get(8)).set(6, JSON.getNodeFactory().textNode("tomorrow")); // sheet row 9: not a date
        upstream.stubFor(values("FORMATTED_VALUE").willReturn(json(200, sheet.toString())));

        SyncTrigger.Result result = fire("it-sheet-leads");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 23L).containsEntry("rejected", 2L);
        assertThat(text("SELECT LISTAGG(row_position || ': ' || reason, ' / ') WITHIN GROUP (ORDER BY row_position) FROM syncwarden.rejected_row"))
                .isEqualTo("6: key column lead_id is empty / 9: sheet row 9: column created 'tomorrow' is not a date in the configured format or a serial number");
    }

    @Test
    void should_fail_without_retry_when_the_sheet_is_not_shared() throws Exception {
        serveToken();
        upstream.stubFor(get(urlPathMatching(VALUES)).willReturn(json(403, fixture("error_403.json"))));

        SyncTrigger.Result result = fire("it-sheet-leads");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run.get("error")).contains("HTTP 403").contains("PERMISSION_DENIED").doesNotContain(TOKEN);
        assertThat(upstream.findAll(getRequestedFor(urlPathMatching(VALUES)))).hasSize(1);
    }

    @Test
    void should_fail_clearly_when_the_spreadsheet_does_not_exist() throws Exception {
        serveToken();
        upstream.stubFor(get(urlPathMatching(VALUES)).willReturn(json(404, fixture("error_404.json"))));

        SyncTrigger.Result result = fire("it-sheet-leads");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run.get("error")).contains("HTTP 404").contains("NOT_FOUND");
    }

    @Test
    void should_retry_a_truncated_answer_as_malformed_and_keep_the_table() throws Exception {
        serveToken();
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("broken").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(200, fixture("values_get_leads.json"))).willSetStateTo("broken"));
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("broken").whenScenarioStateIs("broken")
                .willReturn(json(200, "{\"range\": \"Leads!A1:H30\", \"values\": [[\"Lead ID\", \"Full\"")));
        fire("it-sheet-leads");

        SyncTrigger.Result broken = fire("it-sheet-leads");

        Map<String, Object> run = run(broken.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("inserted", 0L).containsEntry("error_class", "recoverable");
        assertThat((String) run.get("error")).startsWith("Malformed answer from Google Sheets")
                .contains("begins with '{\"range\": \"Leads!A1:H30\"").doesNotContain("NullPointerException");
        assertThat(count("SELECT COUNT(*) FROM leads")).isEqualTo(25);
    }

    @Test
    void should_call_an_html_page_a_malformed_answer_quoting_its_first_bytes() throws Exception {
        serveToken();
        upstream.stubFor(values("FORMATTED_VALUE").willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/html")
                .withBody("<html><body>Proxy maintenance</body></html>")));

        SyncTrigger.Result result = fire("it-sheet-leads");

        assertThat((String) run(result.runId()).get("error")).contains("Malformed answer from Google Sheets")
                .contains("begins with '<html><body>Proxy maintenance");
        assertThat(upstream.findAll(getRequestedFor(urlPathMatching(VALUES)))).as("retried: a proxy page passes").hasSize(3);
    }

    @Test
    void should_retry_a_token_endpoint_outage_and_say_what_it_was() throws Exception {
        upstream.stubFor(post(urlPathEqualTo("/token")).inScenario("outage").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(503, "{\"error\":\"backendError\"}")).willSetStateTo("still down"));
        upstream.stubFor(post(urlPathEqualTo("/token")).inScenario("outage").whenScenarioStateIs("still down")
                .willReturn(json(503, "{\"error\":\"backendError\"}")).willSetStateTo("up"));
        upstream.stubFor(post(urlPathEqualTo("/token")).inScenario("outage").whenScenarioStateIs("up")
                .willReturn(json(200, fixture("token_response.json"))));
        upstream.stubFor(values("FORMATTED_VALUE").willReturn(json(200, fixture("values_get_leads.json"))));

        SyncTrigger.Result result = fire("it-sheet-leads");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 25L);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE run_id = " + result.runId())).isEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE run_id = " + result.runId() + " AND error_class = 'recoverable' "
                + "AND error_message LIKE 'Google''s token endpoint answered HTTP 503%retried)'")).isEqualTo(2);
        assertThat(count("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo(3);
        assertThat(upstream.findAll(getRequestedFor(urlPathMatching(VALUES)))).as("never sent without a token").hasSize(1);
    }

    @Test
    void should_not_let_the_google_client_retry_a_401_by_itself() throws Exception {
        serveToken();
        upstream.stubFor(get(urlPathMatching(VALUES)).willReturn(json(401, "{\"error\":{\"code\":401,\"message\":"
                + "\"Request had invalid authentication credentials.\",\"status\":\"UNAUTHENTICATED\"}}")));

        SyncTrigger.Result result = fire("it-sheet-leads");

        assertThat(run(result.runId())).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat(upstream.findAll(getRequestedFor(urlPathMatching(VALUES)))).hasSize(1);
        assertThat(upstream.findAll(postRequestedFor(urlPathEqualTo("/token")))).hasSize(1);
    }

    @Test
    void should_time_out_a_hung_read_at_the_configured_read_timeout() throws Exception {
        serveToken();
        upstream.stubFor(values("FORMATTED_VALUE").willReturn(json(200, fixture("values_get_leads.json")).withFixedDelay(2500)));

        SyncTrigger.Result result = fire("it-sheet-leads");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "recoverable");
        assertThat((String) run.get("error")).containsIgnoringCase("timed out");
    }

    @Test
    void should_reject_a_value_beyond_the_header_also_with_a_mapping() throws Exception {
        serveToken();
        ObjectNode sheet = (ObjectNode) JSON.readTree(fixture("values_get_leads.json"));
        ArrayNode row = (ArrayNode) sheet.get("values").get(3);
        while (row.size() < 8) {
            row.add("");
        }
        row.add("stray note");
        upstream.stubFor(values("FORMATTED_VALUE").willReturn(json(200, sheet.toString())));

        SyncTrigger.Result result = fire("it-sheet-leads");

        assertThat(run(result.runId())).containsEntry("inserted", 24L).containsEntry("rejected", 1L);
        assertThat(text("SELECT reason FROM syncwarden.rejected_row WHERE row_position = 4"))
                .isEqualTo("sheet row 4 has a value in column 9, beyond the header's 8 columns");
    }

    @Test
    void should_retry_after_quota_exhaustion() throws Exception {
        serveToken();
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("quota").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(429, fixture("error_429.json"))).willSetStateTo("refilled"));
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("quota").whenScenarioStateIs("refilled")
                .willReturn(json(200, fixture("values_get_leads.json"))));

        SyncTrigger.Result result = fire("it-sheet-leads");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 25L);
        assertThat(upstream.findAll(getRequestedFor(urlPathMatching(VALUES)))).hasSize(2);
    }

    @Test
    void should_refuse_a_sheet_that_shrank_by_more_than_half_before_applying_a_row() throws Exception {
        serveToken();
        ObjectNode full = (ObjectNode) new ObjectMapper().readTree(fixture("values_get_leads.json"));
        ObjectNode shrunk = full.deepCopy();
        ArrayNode rows = (ArrayNode) shrunk.get("values");
        while (rows.size() > 11) { // the header and 10 of the 25 leads
            rows.remove(rows.size() - 1);
        }
        ((ArrayNode) rows.get(1)).set(3, "+10000000000"); // a changed phone, which must not be applied
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("shrinks").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(200, full.toString())).willSetStateTo("shrunk"));
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("shrinks").whenScenarioStateIs("shrunk")
                .willReturn(json(200, shrunk.toString())));
        assertThat(fire("it-sheet-leads").status()).isEqualTo("success");

        SyncTrigger.Result smaller = fire("it-sheet-leads");

        assertThat(run(smaller.runId())).containsEntry("status", "refused_shrink").containsEntry("inserted", 0L)
                .containsEntry("updated", 0L);
        assertThat((String) run(smaller.runId()).get("error")).contains("holds 10 rows").contains("25");
        assertThat(text("SELECT phone FROM leads WHERE lead_id = 'L-1001'")).as("nothing applied").isEqualTo("+14155550132");
        assertThat(text("SELECT kind || ' ' || status FROM syncwarden.incident")).isEqualTo("refused_shrink open");

        context.getRegistry().lookupByNameAndType("sourcePause", io.syncwarden.heal.SourcePause.class).allowNext("it-sheet-leads", "ops");
        assertThat(fire("it-sheet-leads").status()).as("allowed once").isEqualTo("success");
        assertThat(text("SELECT phone FROM leads WHERE lead_id = 'L-1001'")).isEqualTo("+10000000000");
        assertThat(text("SELECT status FROM syncwarden.incident")).isEqualTo("resolved");
    }

    @Test
    void should_refuse_an_emptied_sheet_after_a_good_run_and_keep_the_table() throws Exception {
        serveToken();
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("emptied").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(200, fixture("values_get_leads.json"))).willSetStateTo("header only"));
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("emptied").whenScenarioStateIs("header only")
                .willReturn(json(200, "{\"range\":\"Leads!A1:H30\",\"majorDimension\":\"ROWS\",\"values\":[[\"Lead ID\",\"Full Name\"]]}"))
                .willSetStateTo("blank"));
        upstream.stubFor(values("FORMATTED_VALUE").inScenario("emptied").whenScenarioStateIs("blank")
                .willReturn(json(200, "{\"range\":\"Leads!A1:H30\",\"majorDimension\":\"ROWS\"}")));
        fire("it-sheet-leads");

        SyncTrigger.Result headerOnly = fire("it-sheet-leads");
        SyncTrigger.Result blank = fire("it-sheet-leads");

        assertThat(run(headerOnly.runId())).containsEntry("status", "refused_empty").containsEntry("read", 0L);
        assertThat(run(blank.runId())).containsEntry("status", "refused_empty");
        assertThat(count("SELECT COUNT(*) FROM leads")).isEqualTo(25);
        assertThat(text("SELECT kind || ' ' || status FROM syncwarden.incident")).isEqualTo("refused_empty open");
    }

    @Test
    void should_take_a_new_sheet_column_into_the_table_and_mark_a_removed_lead_deleted() throws Exception {
        serveToken();
        ObjectNode first = (ObjectNode) new ObjectMapper().readTree(fixture("values_get_leads_unformatted.json"));
        ObjectNode second = first.deepCopy();
        ArrayNode rows = (ArrayNode) second.get("values");
        ((ArrayNode) rows.get(0)).add("Owner"); // a column someone added at the sheet's right
        for (int i = 1; i < rows.size(); i++) {
            ArrayNode row = (ArrayNode) rows.get(i);
            while (row.size() < 8) {
                row.add("");
            }
            row.add("owner-" + i);
        }
        rows.remove(2); // L-1002 deleted in the sheet
        // a row without its lead id could be any lead: while the sheet has one, no lead counts as deleted
        for (int i = rows.size() - 1; i >= 1; i--) {
            if (rows.get(i).get(0) == null || rows.get(i).get(0).asText().isBlank()) {
                rows.remove(i);
            }
        }
        upstream.stubFor(values("UNFORMATTED_VALUE").inScenario("grows").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(json(200, first.toString())).willSetStateTo("grown"));
        upstream.stubFor(values("UNFORMATTED_VALUE").inScenario("grows").whenScenarioStateIs("grown")
                .willReturn(json(200, second.toString())));
        assertThat(fire("it-sheet-raw").status()).isEqualTo("success");

        SyncTrigger.Result grown = fire("it-sheet-raw");

        assertThat(run(grown.runId())).containsEntry("status", "success").containsEntry("new_columns", "owner")
                .containsEntry("deleted", 1L);
        assertThat(text("SELECT owner FROM leads_raw WHERE lead_id = 'L-1001'")).isEqualTo("owner-1");
        assertThat(text("SELECT lead_id FROM leads_raw WHERE deleted_at IS NOT NULL")).isEqualTo("L-1002");
    }
}
