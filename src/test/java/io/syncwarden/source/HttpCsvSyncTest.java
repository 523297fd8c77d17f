package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.stubbing.Scenario;
import io.syncwarden.sync.SyncTrigger;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/** The http-csv kind against a WireMock stub serving Finale's report protocol (Basic auth, CSV body) on loopback. */
class HttpCsvSyncTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String KEY = FINALE_KEY;
    private static final String SECRET = FINALE_SECRET;

    @Override
    protected String testRoutes() {
        return "test-csv-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
        p.put("syncwarden.upstream.read-timeout-ms", "1000");
        p.put("syncwarden.db.lock-timeout-ms", "2000");
    }

    private void serve(String path, int status, String body) {
        upstream.stubFor(get(urlPathEqualTo(path)).withBasicAuth(KEY, SECRET)
                .willReturn(aResponse().withStatus(status).withHeader("Content-Type", "text/csv").withBody(body)));
    }

    private static String fixture() throws Exception {
        return io.syncwarden.Fixtures.read("finale/products_stock_report.csv");
    }

    @Test
    void should_load_the_finale_report_with_quoting_newlines_and_bom_intact() throws Exception {
        serve(STOCK, 200, fixture());

        SyncTrigger.Result result = fire("it-finale-stock");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("read", 30L).containsEntry("inserted", 30L);
        try (Connection c = target(); Statement s = c.createStatement()) {
            Map<String, String> desc = new HashMap<>();
            try (ResultSet rs = s.executeQuery("SELECT product_id, description, units_qoh FROM finale_stock")) {
                while (rs.next()) {
                    desc.put(rs.getString(1), rs.getString(2));
                    if (rs.getString(1).equals("NW-1001")) {
                        assertThat(rs.getBigDecimal(3)).isEqualByComparingTo(new BigDecimal("1250"));
                    }
                }
            }
            assertThat(desc).containsEntry("NW-1001", "Hex bolt, zinc plated, M8 x 30mm")
                    .containsEntry("NW-1003", "Seed starting tray\n(pack of 10)")
                    .containsEntry("NW-1004", "Nursery pot 4\" square");
        }
        assertThat(upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK)))).singleElement()
                .satisfies(r -> assertThat(r.queryParameter("format").firstValue()).isEqualTo("csv"));
    }

    @Test
    void should_load_a_report_larger_than_the_in_memory_cache_spooled_to_a_file() throws Exception {
        // above 1 MiB the body is cached in a temporary file; it must outlive the circuit breaker's step that fetched it
        StringBuilder csv = new StringBuilder("Product ID,Description,Category,Manufacturer,Std bin ID,Std packing,"
                + "Units QoH,Units Reserved,Units Remaining,Units On order,Units Available\r\n");
        for (int i = 1; i <= 20_000; i++) {
            csv.append("BIG-").append(i).append(",\"Bolt ").append(i).append(", zinc plated, long enough to make this report big\","
                    + "Fasteners,Wurth,A-01-03,100/box,").append(i).append(",0,").append(i).append(",0,").append(i).append("\r\n");
        }
        assertThat(csv.length()).isGreaterThan(2 * 1024 * 1024);
        serve(STOCK, 200, csv.toString());

        SyncTrigger.Result result = fire("it-finale-stock");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 20_000L);
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(20_000);
    }

    @Test
    void should_refuse_a_report_whose_mapped_column_was_renamed_naming_the_column() throws Exception {
        serve(STOCK, 200, fixture());
        assertThat(fire("it-finale-stock").status()).isEqualTo("success");
        upstream.resetAll();
        serve(STOCK, 200, fixture().replace("Units QoH", "Qty on hand"));

        SyncTrigger.Result drifted = fire("it-finale-stock");

        assertThat(run(drifted.runId())).containsEntry("status", "refused_schema").containsEntry("error_class", "refused")
                .containsEntry("inserted", 0L).containsEntry("updated", 0L);
        assertThat((String) run(drifted.runId()).get("error")).containsIgnoringCase("units qoh");
        assertThat(text("SELECT kind || ' ' || status FROM syncwarden.incident")).isEqualTo("refused_schema open");
        assertThat(text("SELECT message FROM syncwarden.incident")).containsIgnoringCase("units qoh");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.retry_queue")).as("not retried").isZero();
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(30);
    }

    @Test
    void should_look_a_product_up_in_the_report_by_name() throws Exception {
        serve(STOCK, 200, fixture());
        SourceLookup lookup = context.getRegistry().lookupByNameAndType("sourceLookup", SourceLookup.class);

        assertThat(lookup.findIn("it-finale-stock", "hex bolt, ZINC plated, M8 x 30mm")).singleElement()
                .satisfies(r -> assertThat(r).containsEntry("product_id", "NW-1001"));
        assertThat(lookup.findIn("it-finale-stock", "no such product")).isEmpty();
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run")).isZero();
    }

    @Test
    void should_add_a_second_report_with_yaml_only() throws Exception {
        serve("/acme/doc/report/pivotTableStream/8/Report.csv", 200, "Product ID,Description,Category\r\nP-1,Widget,Tools\r\nP-2,\"Gadget, large\",Tools\r\n");

        SyncTrigger.Result result = fire("it-finale-products");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 2L);
        assertThat(count("SELECT COUNT(*) FROM finale_products_it WHERE description = 'Gadget, large'")).isEqualTo(1);
    }

    @Test
    void should_refuse_an_empty_report_after_a_good_run_keep_the_table_and_take_it_once_allowed() throws Exception {
        serve(STOCK, 200, fixture());
        fire("it-finale-stock");
        upstream.resetAll();
        serve(STOCK, 200, "\uFEFFProduct ID,Description,Category,Manufacturer,Std bin ID,Std packing,Units QoH,Units Reserved,Units Remaining,Units On order,Units Available\r\n");

        SyncTrigger.Result headerOnly = fire("it-finale-stock");
        upstream.resetAll();
        serve(STOCK, 200, "");
        SyncTrigger.Result blank = fire("it-finale-stock");

        assertThat(run(headerOnly.runId())).containsEntry("status", "refused_empty").containsEntry("read", 0L)
                .containsEntry("error_class", "refused");
        assertThat((String) run(headerOnly.runId()).get("error")).contains("no rows while the last good run read 30");
        assertThat(run(blank.runId())).containsEntry("status", "refused_empty");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(30);
        assertThat(text("SELECT kind || ' ' || status || ' ' || occurrences FROM syncwarden.incident"))
                .isEqualTo("refused_empty open 2");
        assertThat(text("SELECT status || ' ' || consecutive_failures FROM syncwarden.source_health WHERE source_id = 'it-finale-stock'"))
                .as("a refusal is not the source failing").isEqualTo("healthy 0");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.retry_queue")).as("not retried").isZero();

        // the supplier really emptied the report: an operator lets the next run through once
        assertThat(context.getRegistry().lookupByNameAndType("sourcePause", io.syncwarden.heal.SourcePause.class)
                .allowNext("it-finale-stock", "ops-test")).isTrue();
        SyncTrigger.Result allowed = fire("it-finale-stock");
        SyncTrigger.Result after = fire("it-finale-stock");

        assertThat(run(allowed.runId())).containsEntry("status", "empty");
        assertThat(run(after.runId())).as("the last good run is now the empty one").containsEntry("status", "empty");
        assertThat(text("SELECT status FROM syncwarden.incident")).isEqualTo("resolved");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).as("an empty run never removes rows").isEqualTo(30);
    }

    @Test
    void should_fail_without_retry_when_the_credentials_are_rejected() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(401).withBody("Unauthorized")));

        SyncTrigger.Result result = fire("it-finale-stock");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run.get("error")).contains("HTTP 401").contains("credentials").doesNotContain(SECRET);
        assertThat(upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK)))).hasSize(1);
    }

    @Test
    void should_retry_a_server_error_and_succeed() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).inScenario("flaky").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(aResponse().withStatus(503)).willSetStateTo("up"));
        upstream.stubFor(get(urlPathEqualTo(STOCK)).inScenario("flaky").whenScenarioStateIs("up").withBasicAuth(KEY, SECRET)
                .willReturn(aResponse().withStatus(200).withBody(fixture())));

        SyncTrigger.Result result = fire("it-finale-stock");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 30L);
        assertThat(upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK)))).hasSize(2);
    }

    @Test
    void should_fail_on_a_broken_report_and_keep_the_table() throws Exception {
        serve(STOCK, 200, fixture());
        fire("it-finale-stock");
        upstream.resetAll();
        // a quote that never closes: the rest of the body cannot be split into records
        serve(STOCK, 200, "Product ID,Description,Manufacturer,Std packing,Units QoH,Units Available\r\n"
                + "A-1,\"Alpha,Acme,1/box,10,10\r\nA-2,Beta,Acme,1/box,2,2\r\n");

        SyncTrigger.Result broken = fire("it-finale-stock");

        Map<String, Object> run = run(broken.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("inserted", 0L);
        assertThat((String) run.get("error")).contains("not readable CSV");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(30);
        assertThat(count("SELECT COUNT(*) FROM finale_stock WHERE product_id LIKE 'A-%'")).isZero();
    }

    @Test
    void should_reject_a_malformed_line_with_its_number_and_write_the_rest() throws Exception {
        serve(STOCK, 200, "Product ID,Description,Manufacturer,Std packing,Units QoH,Units Available\r\n"
                + "A-1,Alpha,Acme,1/box,10,10\r\n"
                + "A-2,Beta,Acme,1/box\r\n"
                + "A-3,Gamma,Acme,1/box,lots,3\r\n"
                + "A-4,Delta,Acme,1/box,4,4\r\n");

        SyncTrigger.Result result = fire("it-finale-stock");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 2L).containsEntry("rejected", 2L);
        try (Connection c = target(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT row_position, reason FROM syncwarden.rejected_row ORDER BY row_position")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getLong(1)).isEqualTo(3);
            assertThat(rs.getString(2)).contains("line 3 has 4 fields, the header has 6");
            assertThat(rs.next()).isTrue();
            assertThat(rs.getLong(1)).isEqualTo(4);
            assertThat(rs.getString(2)).contains("type mismatch: column units_qoh");
        }
    }

    @Test
    void should_count_every_attempt_of_the_http_step_and_log_each_failure() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).inScenario("flaky").whenScenarioStateIs(Scenario.STARTED)
                .willReturn(aResponse().withStatus(503)).willSetStateTo("still"));
        upstream.stubFor(get(urlPathEqualTo(STOCK)).inScenario("flaky").whenScenarioStateIs("still")
                .willReturn(aResponse().withStatus(502)).willSetStateTo("up"));
        upstream.stubFor(get(urlPathEqualTo(STOCK)).inScenario("flaky").whenScenarioStateIs("up").withBasicAuth(KEY, SECRET)
                .willReturn(aResponse().withStatus(200).withBody(fixture())));

        SyncTrigger.Result result = fire("it-finale-stock");

        assertThat(run(result.runId())).containsEntry("status", "success").containsEntry("inserted", 30L);
        assertThat(upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK)))).hasSize(3);
        assertThat(count("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo(3);
        assertThat(text("SELECT LISTAGG(attempt || ':' || SUBSTRING(error_message, 1, 8), ',') WITHIN GROUP (ORDER BY attempt) "
                + "FROM syncwarden.failure_log WHERE run_id = " + result.runId())).isEqualTo("1:HTTP 503,2:HTTP 502");
    }

    @Test
    void should_apply_a_report_whole_or_not_at_all_across_a_retry() throws Exception {
        serve(STOCK, 200, fixture());
        assertThat(fire("it-finale-batches").status()).isEqualTo("success");
        upstream.resetAll();
        serve(STOCK, 200, fixture().replace("Hex bolt", "Hex BOLT").replaceAll("(?m)^(NW-\\d+),(\"?)", "$1,$2v2 "));
        java.util.concurrent.CompletableFuture<SyncTrigger.Result> second;
        try (Connection holder = target()) {
            holder.setAutoCommit(false);
            try (Statement s = holder.createStatement()) {
                // a lock on a row of the third batch: the first attempt writes two batches, then times out
                s.executeUpdate("UPDATE finale_batches SET description = 'held' WHERE product_id = "
                        + "(SELECT product_id FROM finale_batches ORDER BY product_id LIMIT 1 OFFSET 12)");
            }
            second = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return fire("it-finale-batches");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            org.awaitility.Awaitility.await().pollInterval(java.time.Duration.ofMillis(10)).atMost(java.time.Duration.ofSeconds(30))
                    .until(() -> count("SELECT COUNT(*) FROM syncwarden.failure_log WHERE source_id = 'it-finale-batches'") == 1);
            assertThat(count("SELECT COUNT(*) FROM finale_batches WHERE description LIKE 'v2 %'"))
                    .as("the batches the failed attempt wrote before the lock were not committed").isZero();
            holder.rollback();
        }

        SyncTrigger.Result result = second.get();

        assertThat(run(result.runId())).as("each line counted once across the retry").containsEntry("status", "success")
                .containsEntry("read", 30L).containsEntry("updated", 30L);
        assertThat(count("SELECT attempts FROM syncwarden.sync_run WHERE run_id = " + result.runId())).isEqualTo(2);
        assertThat(count("SELECT COUNT(*) FROM finale_batches WHERE description LIKE 'v2 %'")).isEqualTo(30);
    }

    @Test
    void should_time_out_a_hung_report_at_the_configured_read_timeout() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(STOCK)).willReturn(aResponse().withStatus(200).withBody(fixture()).withFixedDelay(2500)));

        SyncTrigger.Result result = fire("it-finale-stock");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "recoverable");
        assertThat((String) run.get("error")).containsIgnoringCase("timeout");
    }

    @Test
    void should_fail_when_a_mapped_label_repeats_in_the_header() throws Exception {
        serve(STOCK, 200, "Product ID,Description,Manufacturer,Std packing,Units QoH,Units  qoh,Units Available\r\n"
                + "A-1,Alpha,Acme,1/box,10,11,10\r\n");

        SyncTrigger.Result result = fire("it-finale-stock");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run.get("error")).contains("repeats the mapped label(s) 'units qoh' (columns [5, 6])");
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE status = 'running'")).isZero();
    }

    @Test
    void should_reject_a_second_line_with_the_same_key_naming_the_first() throws Exception {
        serve(STOCK, 200, "Product ID,Description,Manufacturer,Std packing,Units QoH,Units Available\r\n"
                + "A-1,Alpha,Acme,1/box,10,10\r\n"
                + "A-2,Beta,Acme,1/box,2,2\r\n"
                + "A-1,Alpha again,Acme,1/box,99,99\r\n");

        SyncTrigger.Result result = fire("it-finale-stock");

        assertThat(run(result.runId())).containsEntry("inserted", 2L).containsEntry("rejected", 1L);
        assertThat(text("SELECT reason FROM syncwarden.rejected_row WHERE row_position = 4"))
                .isEqualTo("duplicate key (product_id=A-1): the same key was read first at line 2 (that row was written, this one was not)");
        assertThat(text("SELECT description FROM finale_stock WHERE product_id = 'A-1'")).isEqualTo("Alpha");
    }

    @Test
    void should_refuse_a_column_type_that_is_not_a_type() throws Exception {
        serve(STOCK, 200, fixture());

        SyncTrigger.Result result = fire("it-finale-badtypes");

        Map<String, Object> run = run(result.runId());
        assertThat(run).containsEntry("status", "failed").containsEntry("error_class", "non_recoverable");
        assertThat((String) run.get("error")).contains("columnTypes: 'INTEGER) -- drop' for column units_qoh is not a SQL type");
        assertThat(count("SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_NAME = 'FINALE_BADTYPES'")).isZero();
    }

    @Test
    void should_keep_the_credentials_out_of_every_endpoint_uri() throws Exception {
        serve(STOCK, 200, fixture());

        assertThat(fire("it-finale-stock").status()).isEqualTo("success");

        assertThat(context.getEndpoints()).allSatisfy(e -> assertThat(e.getEndpointUri()).doesNotContain(SECRET).doesNotContain(KEY));
        assertThat(upstream.findAll(getRequestedFor(urlPathEqualTo(STOCK)))).singleElement()
                .satisfies(r -> assertThat(r.getHeader("Authorization")).startsWith("Basic "));
    }
}
