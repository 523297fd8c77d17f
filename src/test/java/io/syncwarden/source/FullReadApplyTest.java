package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.syncwarden.sync.Snapshots;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncTrigger;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.junit.jupiter.api.Test;

/**
 * A CSV report is a full read that cannot resume: it is applied whole or not at all, rows it no longer has are marked
 * deleted (or removed), and the table's previous rows are kept as a snapshot an operator can roll back to.
 */
public class FullReadApplyTest extends UpstreamStubTestSupport {
    private static final String STOCK = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String PRODUCTS = "/acme/doc/report/pivotTableStream/8/Report.csv";

    @Override
    protected String testRoutes() {
        return "test-csv-sources.camel.yaml";
    }

    @Override
    protected void properties(Properties p) {
        finaleProperties(p);
    }

    private void serve(String path, String body) {
        upstream.resetAll();
        upstream.stubFor(get(urlPathEqualTo(path)).withBasicAuth(FINALE_KEY, FINALE_SECRET)
                .willReturn(aResponse().withStatus(200).withHeader("Content-Type", "text/csv").withBody(body)));
    }

    private static String report() throws Exception {
        return io.syncwarden.Fixtures.read("finale/products_stock_report.csv");
    }

    /** The report without the (one-line) records of these products. */
    private static String without(String csv, String... ids) {
        for (String id : ids) {
            csv = csv.replaceAll("(?m)^" + id + ",[^\\r\\n]*\\r?\\n", "");
        }
        return csv;
    }

    private SyncRuns runs() {
        return context.getRegistry().findSingleByType(SyncRuns.class);
    }

    /** Every row of the stock table, all columns but synced_at, in key order. */
    private List<String> stockRows() throws Exception {
        List<String> out = new ArrayList<>();
        try (Connection c = target(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT product_id, description, manufacturer, std_packing, units_qoh, units_available, deleted_at "
                        + "FROM finale_stock ORDER BY product_id")) {
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= 7; i++) {
                    row.append(rs.getString(i)).append('|');
                }
                out.add(row.toString());
            }
        }
        return out;
    }

    @Test
    void should_mark_rows_missing_from_a_complete_report_deleted_and_clear_the_mark_when_they_are_back() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        serve(STOCK, without(report(), "NW-1010", "NW-1011"));

        SyncTrigger.Result second = fire("it-finale-stock");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("read", 28L)
                .containsEntry("deleted", 2L).containsEntry("unchanged", 28L);
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).as("marked, not removed").isEqualTo(30);
        assertThat(stockRows().stream().filter(r -> !r.endsWith("|null|")).map(r -> r.substring(0, r.indexOf('|'))))
                .containsExactly("NW-1010", "NW-1011");

        serve(STOCK, report());
        SyncTrigger.Result third = fire("it-finale-stock");

        assertThat(run(third.runId())).containsEntry("status", "success").containsEntry("deleted", 0L);
        assertThat(count("SELECT COUNT(*) FROM finale_stock WHERE deleted_at IS NOT NULL")).isZero();
    }

    @Test
    void should_remove_missing_rows_where_the_source_says_deletions_delete() throws Exception {
        serve(PRODUCTS, report());
        fire("it-finale-deleting");
        serve(PRODUCTS, without(report(), "NW-1020"));

        SyncTrigger.Result second = fire("it-finale-deleting");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("deleted", 1L);
        assertThat(count("SELECT COUNT(*) FROM finale_deleting")).isEqualTo(29);
        assertThat(count("SELECT COUNT(*) FROM finale_deleting WHERE product_id = 'NW-1020'")).isZero();
    }

    @Test
    void should_not_judge_deletions_when_a_line_of_the_report_cannot_be_read() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        // NW-1012's line lost its last fields: it is rejected, and its row must not count as gone from the report
        serve(STOCK, without(report(), "NW-1010").replaceAll("(?m)^(NW-1012,[^,]*),[^\\r\\n]*", "$1"));

        SyncTrigger.Result second = fire("it-finale-stock");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("rejected", 1L)
                .containsEntry("deleted", 0L);
        assertThat(count("SELECT COUNT(*) FROM finale_stock WHERE deleted_at IS NOT NULL")).isZero();
    }

    @Test
    void should_not_judge_deletions_when_a_line_has_no_key() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        // NW-1012's id cell emptied: that line could be any product, so no product counts as gone this time
        serve(STOCK, without(report(), "NW-1010").replace("NW-1012,", ","));

        SyncTrigger.Result second = fire("it-finale-stock");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("rejected", 1L)
                .containsEntry("deleted", 0L);
        assertThat(count("SELECT COUNT(*) FROM finale_stock WHERE deleted_at IS NOT NULL")).isZero();
    }

    @Test
    void should_refuse_a_report_that_would_mark_most_of_the_table_deleted_and_change_nothing() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        List<String> before = stockRows();
        // as many lines as before, but under other keys (a report filtered differently upstream)
        serve(STOCK, report().replaceAll("(?m)^NW-10", "ZZ-20"));

        SyncTrigger.Result second = fire("it-finale-stock");

        assertThat(run(second.runId())).containsEntry("status", "refused_shrink").containsEntry("inserted", 0L)
                .containsEntry("deleted", 0L);
        assertThat((String) run(second.runId()).get("error")).contains("no longer has 30 of the table's 30 rows");
        assertThat(stockRows()).as("not one new row, not one mark").isEqualTo(before);
    }

    @Test
    void should_refuse_a_report_whose_row_count_is_far_from_its_recent_good_runs() throws Exception {
        serve(STOCK, report());
        for (int i = 0; i < 5; i++) {
            assertThat(fire("it-finale-stock").status()).isEqualTo("success");
        }
        List<String> before = stockRows();
        // twice the products at once: the 30 and 30 more under other keys (a report joined wrongly upstream)
        serve(STOCK, report() + report().replaceAll("(?s)^[^\\r\\n]*\\r?\\n", "").replaceAll("(?m)^NW-10", "ZZ-20"));

        SyncTrigger.Result doubled = fire("it-finale-stock");

        assertThat(run(doubled.runId())).containsEntry("status", "refused_anomaly").containsEntry("inserted", 0L);
        assertThat((String) run(doubled.runId()).get("error"))
                .contains("read 60 rows while the last 5 good runs read a median of 30").contains("robust z-score");
        assertThat(stockRows()).as("nothing applied").isEqualTo(before);
        assertThat(text("SELECT kind || ' ' || severity FROM syncwarden.incident WHERE open_key IS NOT NULL"))
                .isEqualTo("refused_anomaly high");

        runs().allowNext("it-finale-stock");
        assertThat(fire("it-finale-stock").status()).as("an operator let it through once").isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(60);
        assertThat(text("SELECT status FROM syncwarden.incident WHERE kind = 'refused_anomaly'")).isEqualTo("resolved");
        assertThat(fire("it-finale-stock").status()).as("the accepted size is the new baseline, not refused again")
                .isEqualTo("success");
    }

    @Test
    void should_not_judge_a_row_count_before_five_good_runs() throws Exception {
        serve(STOCK, report());
        for (int i = 0; i < 4; i++) {
            fire("it-finale-stock");
        }
        serve(STOCK, report() + report().replaceAll("(?s)^[^\\r\\n]*\\r?\\n", "").replaceAll("(?m)^NW-10", "ZZ-20"));

        assertThat(fire("it-finale-stock").status()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM finale_stock")).isEqualTo(60);
    }

    @Test
    void should_refuse_a_report_that_shrank_by_more_than_half_before_applying_a_row() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        List<String> before = stockRows();
        // 20 of the 30 one-line records gone
        String shrunk = report().replaceAll("(?m)^NW-10(0[4-9]|1[0-9]|2[0-3]),[^\\r\\n]*\\r?\\n", "");

        serve(STOCK, shrunk);
        SyncTrigger.Result second = fire("it-finale-stock");

        assertThat(run(second.runId())).containsEntry("status", "refused_shrink");
        assertThat((String) run(second.runId()).get("error")).contains("more than 50% fewer than the 30");
        assertThat(stockRows()).isEqualTo(before);
    }

    @Test
    void should_apply_nothing_of_a_report_that_breaks_half_way() throws Exception {
        serve(STOCK, report());
        fire("it-finale-batches");
        // batches of 5: the first ones are written before the parser meets a quote that never closes
        String broken = report().replaceAll("(?m)^(NW-\\d+),(\"?)", "$1,$2v2 ").replace("NW-1025,", "NW-1025,\"unclosed ");

        serve(STOCK, broken);
        SyncTrigger.Result second = fire("it-finale-batches");

        assertThat(run(second.runId())).containsEntry("status", "failed").containsEntry("updated", 0L);
        assertThat(count("SELECT COUNT(*) FROM finale_batches WHERE description LIKE 'v2 %'")).as("no batch of it committed").isZero();
        assertThat(count("SELECT COUNT(*) FROM finale_batches")).isEqualTo(30);
    }

    @Test
    void should_reject_a_row_the_database_refuses_and_apply_the_rest_in_the_one_commit() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.execute("ALTER TABLE finale_stock ADD CONSTRAINT short_description CHECK (LENGTH(description) < 60)");
        }
        serve(STOCK, report().replace("Hex bolt", "Hex bolt v2").replace("Neem cake 5 kg", "Neem cake 5 kg " + "x".repeat(60)));

        SyncTrigger.Result second = fire("it-finale-stock");

        assertThat(run(second.runId())).containsEntry("status", "success").containsEntry("rejected", 1L)
                .containsEntry("updated", 1L).containsEntry("unchanged", 28L);
        assertThat(text("SELECT reason FROM syncwarden.rejected_row")).startsWith("database refused the row");
        assertThat(text("SELECT description FROM finale_stock WHERE product_id = 'NW-1010'")).isEqualTo("Neem cake 5 kg");
        assertThat(text("SELECT description FROM finale_stock WHERE product_id = 'NW-1001'")).startsWith("Hex bolt v2");
        assertThat(count("SELECT COUNT(*) FROM finale_stock WHERE deleted_at IS NOT NULL")).as("a refused row is not gone").isZero();
    }

    @Test
    void should_roll_the_table_back_to_the_snapshot_taken_before_a_run() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        List<String> good = stockRows();
        serve(STOCK, without(report(), "NW-1029").replace("Hex bolt", "Hex bolt (wrong)"));
        SyncTrigger.Result bad = fire("it-finale-stock");
        assertThat(stockRows()).isNotEqualTo(good);
        SyncSource source = SyncSource.of(context, "it-finale-stock");

        Snapshots.Restored restored = source.rollback(context, bad.runId());

        assertThat(stockRows()).as("row by row as before the bad run").isEqualTo(good);
        assertThat(restored.rowsRestored()).isEqualTo(30);
        assertThat(text("SELECT run_trigger || ' ' || status || ' ' || mode FROM syncwarden.sync_run WHERE run_id = "
                + restored.runId())).isEqualTo("rollback success full");
        assertThat(count("SELECT last_row_count FROM syncwarden.source_health WHERE source_id = 'it-finale-stock'")).isEqualTo(30);
        assertThat(count("SELECT COUNT(*) FROM syncwarden.source_snapshot WHERE restored_at IS NOT NULL")).isEqualTo(1);
        assertThatThrownBy(() -> source.rollback(context, 999_999)).hasMessageContaining("no snapshot taken before run 999999");

        // the rollback kept the table as it found it: rolled back to the wrong snapshot, it can be undone
        source.rollback(context, restored.runId());
        assertThat(stockRows()).isNotEqualTo(good).hasSize(30).anyMatch(r -> r.contains("Hex bolt (wrong)"));
    }

    @Test
    void should_refuse_to_roll_back_a_table_other_tables_reference() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        serve(STOCK, report().replace("Hex bolt", "Hex bolt (wrong)"));
        SyncTrigger.Result bad = fire("it-finale-stock");
        try (Connection c = target(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE stock_notes (product_id VARCHAR(100) REFERENCES finale_stock (product_id) ON DELETE CASCADE, note TEXT)");
            s.execute("INSERT INTO stock_notes VALUES ('NW-1001', 'reorder soon')");
        }

        assertThatThrownBy(() -> SyncSource.of(context, "it-finale-stock").rollback(context, bad.runId()))
                .hasMessageContaining("is referenced by").hasMessageContaining("roll back by hand");
        assertThat(count("SELECT COUNT(*) FROM stock_notes")).as("nothing cascaded").isEqualTo(1);
        assertThat(stockRows()).anyMatch(r -> r.contains("Hex bolt (wrong)"));
    }

    @Test
    void should_keep_the_last_three_snapshots_and_none_for_a_run_that_changed_nothing() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        List<Long> changing = new ArrayList<>();
        for (int i = 1; i <= 4; i++) {
            serve(STOCK, report().replace("Hex bolt", "Hex bolt v" + i));
            changing.add(fire("it-finale-stock").runId());
        }
        SyncTrigger.Result same = fire("it-finale-stock");

        assertThat(run(same.runId())).containsEntry("status", "success").containsEntry("unchanged", 30L);
        List<Long> kept = runs().snapshots().list("it-finale-stock").stream().map(Snapshots.Snapshot::runId).toList();
        assertThat(kept).containsExactly(changing.get(3), changing.get(2), changing.get(1));
        assertThat(count("SELECT COUNT(*) FROM INFORMATION_SCHEMA.TABLES WHERE UPPER(TABLE_NAME) LIKE 'SYNCWARDEN_SNAP_%'"))
                .as("dropped snapshots leave no copy table behind").isEqualTo(3);
    }

    @Test
    void should_report_a_new_report_column_in_the_run_record() throws Exception {
        serve(STOCK, report());
        fire("it-finale-stock");
        // a column put in front of the others; every record gets its value
        serve(STOCK, report().replace("\uFEFFProduct ID,", "\uFEFFReorder point,Product ID,").replaceAll("(?m)^NW-", "5,NW-"));

        SyncTrigger.Result second = fire("it-finale-stock");

        assertThat(run(second.runId())).containsEntry("new_columns", "reorder point");
    }
}
