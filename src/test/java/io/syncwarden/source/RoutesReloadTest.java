package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.urlPathEqualTo;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.syncwarden.ops.RoutesReloader;
import io.syncwarden.sync.SourceRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import org.apache.camel.Route;
import org.apache.camel.component.quartz.QuartzComponent;
import org.apache.camel.model.ModelCamelContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.quartz.CronTrigger;
import org.quartz.TriggerKey;

/**
 * The live reload on the real service: a copy of routes/ plus one CSV source ({@code rl-stock}) in a folder of its own,
 * edited while the service runs. Every case checks both what changed and what did not.
 */
class RoutesReloadTest extends UpstreamStubTestSupport {
    private static final String REPORT = "/acme/doc/report/pivotTableStream/7/Report.csv";
    private static final String VIEWER = "reload-viewer-token-0123456789";
    private Path dir;
    private int port;

    @Override
    protected String testRoutes() {
        return "none";
    }

    @Override
    protected void properties(Properties p) {
        dir = copyOfRoutes("syncwarden-reload");
        try {
            Files.writeString(dir.resolve("rl-stock.camel.yaml"), source("0 0 0 1 1 ? 2099"));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        port = freePort();
        p.put("camel.main.routesIncludePattern", "file:" + dir + "/*.camel.yaml");
        p.put("syncwarden.reload.enabled", "true");
        p.put("syncwarden.reload.dir", dir.toString());
        p.put("syncwarden.reload.poll-ms", "100");
        p.put("syncwarden.reload.quiet-ms", "400");
        p.put("camel.server.enabled", "true");
        p.put("camel.server.port", String.valueOf(port));
        p.put("syncwarden.api.tokens", "ci-viewer:viewer:" + sha256(VIEWER));
        finaleProperties(p);
    }

    @AfterEach
    void removeFolder() throws IOException {
        deleteFolder(dir);
    }

    private static String source(String cron) {
        return """
                # a CSV report source, edited by the reload tests
                - templatedRoute:
                    routeTemplateRef: http-csv
                    routeId: rl-stock
                    parameters:
                      - name: sourceId
                        value: rl-stock
                      - name: url
                        value: "{{test.finale.base}}/acme/doc/report/pivotTableStream/7/Report.csv?format=csv"
                      - name: username
                        value: "{{test.finale.key}}"
                      - name: password
                        value: "{{test.finale.secret}}"
                      - name: mapping
                        value: "Product ID=product_id; Description=description"
                      - name: keyColumns
                        value: product_id
                      - name: targetTable
                        value: rl_stock
                      - name: cron
                        value: "%s"
                """.formatted(cron);
    }

    private RoutesReloader reloader() {
        return context().getRegistry().lookupByNameAndType("routesReloader", RoutesReloader.class);
    }

    private Object definition(String routeId) {
        return ((ModelCamelContext) context()).getRouteDefinition(routeId);
    }

    private String cron(String sourceId) throws Exception {
        var trigger = context().getComponent("quartz", QuartzComponent.class).getScheduler()
                .getTrigger(TriggerKey.triggerKey(sourceId, "syncwarden"));
        return trigger == null ? null : ((CronTrigger) trigger).getCronExpression();
    }

    private RoutesReloader.Event awaitEvent(String file, String outcome, int before) {
        await().atMost(Duration.ofSeconds(30)).until(() -> reloader().events().stream().skip(before)
                .anyMatch(e -> e.file().endsWith(file) && e.outcome().equals(outcome)));
        return reloader().events().stream().skip(before).filter(e -> e.file().endsWith(file) && e.outcome().equals(outcome))
                .findFirst().orElseThrow();
    }

    private void edit(String file, String text) throws IOException {
        Files.writeString(dir.resolve(file), text);
    }

    @Test
    void should_apply_a_valid_edit_to_that_route_only() throws Exception {
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2099");
        Route watchdog = context().getRoute("watchdog");
        int before = reloader().events().size();

        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2098"));

        RoutesReloader.Event applied = awaitEvent("rl-stock.camel.yaml", "applied", before);
        assertThat(applied.routes()).containsExactly("rl-stock");
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2098");
        assertThat(context().getRouteController().getRouteStatus("rl-stock").isStarted()).isTrue();
        assertThat(context().getRoute("watchdog")).isSameAs(watchdog);
        assertThat(context().getRegistry().findSingleByType(SourceRegistry.class).sources())
                .anySatisfy(s -> assertThat(s.id()).isEqualTo("rl-stock"));
        // the reloaded source still syncs
        upstream.stubFor(get(urlPathEqualTo(REPORT)).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "text/csv").withBody("Product ID,Description\nP1,One\nP2,Two\n")));
        assertThat(fire("rl-stock").status()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM rl_stock")).isEqualTo(2);
    }

    @Test
    void should_refuse_a_yaml_error_keep_the_running_version_and_take_a_later_valid_edit() throws Exception {
        int before = reloader().events().size();
        Route running = context().getRoute("rl-stock");

        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2098").replace("    routeId: rl-stock", "    routeId: [rl-stock"));

        RoutesReloader.Event refused = awaitEvent("rl-stock.camel.yaml", "refused", before);
        assertThat(refused.problems()).singleElement().asString().contains("rl-stock.camel.yaml:").contains("YAML error");
        assertThat(context().getRoute("rl-stock")).isSameAs(running);
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2099");
        // the API and the status page see the refusal
        HttpResponse<String> answer = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/api/reloads")).header("Authorization", "Bearer " + VIEWER).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.body()).contains("\"outcome\":\"refused\"").contains("rl-stock.camel.yaml:").contains("YAML error");

        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2097"));

        awaitEvent("rl-stock.camel.yaml", "applied", before);
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2097");
        assertThat(reloader().report().get("refused")).asList().isEmpty();
    }

    @Test
    void should_refuse_an_unknown_parameter_and_an_invalid_cron() throws Exception {
        int before = reloader().events().size();

        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2099").replace("name: keyColumns", "name: keyColumn"));
        RoutesReloader.Event unknown = awaitEvent("rl-stock.camel.yaml", "refused", before);
        assertThat(unknown.problems()).anySatisfy(p -> assertThat(p).contains("unknown parameter 'keyColumn'"));

        int next = reloader().events().size();
        edit("rl-stock.camel.yaml", source("every five minutes"));
        RoutesReloader.Event cron = awaitEvent("rl-stock.camel.yaml", "refused", next);
        assertThat(cron.problems()).anySatisfy(p -> assertThat(p).contains("rl-stock.camel.yaml:21:").contains("invalid cron"));

        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2099");
        assertThat(context().getRouteController().getRouteStatus("rl-stock").isStarted()).isTrue();
    }

    @Test
    void should_stop_and_remove_the_routes_of_a_deleted_file() throws Exception {
        int before = reloader().events().size();

        Files.delete(dir.resolve("rl-stock.camel.yaml"));

        RoutesReloader.Event removed = awaitEvent("rl-stock.camel.yaml", "removed", before);
        assertThat(removed.routes()).containsExactly("rl-stock");
        assertThat(context().getRoute("rl-stock")).isNull();
        assertThat(cron("rl-stock")).isNull();
        assertThat(context().getRegistry().findSingleByType(SourceRegistry.class).sources())
                .noneSatisfy(s -> assertThat(s.id()).isEqualTo("rl-stock"));
    }

    @Test
    void should_recreate_the_routes_built_from_an_edited_template_and_no_others() throws Exception {
        Route csv = context().getRoute("rl-stock");
        Object jdbc = definition("demo-replica-leads");
        assertThat(jdbc).isNotNull();
        String templates = Files.readString(dir.resolve("templates.camel.yaml"));
        int before = reloader().events().size();

        // the http-csv template's default batch size changes
        int at = templates.indexOf("id: http-csv");
        int batch = templates.indexOf("defaultValue: \"1000\"", at);
        edit("templates.camel.yaml", templates.substring(0, batch) + "defaultValue: \"500\"" + templates.substring(batch + 20));

        RoutesReloader.Event applied = awaitEvent("templates.camel.yaml", "applied", before);
        assertThat(applied.routes()).contains("rl-stock", "finale-stock").doesNotContain("demo-replica-leads", "replica-orders");
        assertThat(context().getRoute("rl-stock")).isNotSameAs(csv);
        assertThat(definition("demo-replica-leads")).isSameAs(jdbc);
        assertThat(((ModelCamelContext) context()).getRouteDefinition("rl-stock").getTemplateParameters())
                .containsEntry("batchSize", "500");
    }

    @Test
    void should_apply_an_error_handling_change_to_every_route() throws Exception {
        Route csv = context().getRoute("rl-stock");
        Object jdbc = definition("demo-replica-leads");
        assertThat(jdbc).isNotNull();
        String errors = Files.readString(dir.resolve("error-handling.camel.yaml"));
        int before = reloader().events().size();

        edit("error-handling.camel.yaml", errors.replace("maximumRedeliveries: \"{{syncwarden.retry.max-redeliveries}}\"",
                "maximumRedeliveries: 0"));

        RoutesReloader.Event applied = awaitEvent("error-handling.camel.yaml", "applied", before);
        assertThat(applied.routes()).contains("rl-stock", "demo-replica-leads", "replica-orders", "syncwarden-dead-letter");
        assertThat(context().getRoute("rl-stock")).isNotSameAs(csv);
        assertThat(definition("demo-replica-leads")).isNotNull().isNotSameAs(jdbc);
        // the new error handling is the one the routes got: no redelivery any more, the 503 fails the run at once
        upstream.stubFor(get(urlPathEqualTo(REPORT)).willReturn(aResponse().withStatus(503)));
        assertThat(fire("rl-stock").status()).isEqualTo("failed");
        assertThat(upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(urlPathEqualTo(REPORT))))
                .hasSize(1);
    }

    @Test
    void should_take_only_the_last_of_a_burst_of_saves() throws Exception {
        int before = reloader().events().size();
        String last = source("0 0 0 1 1 ? 2096");

        // an editor's save: truncate, write in pieces, a backup swap, the final text
        edit("rl-stock.camel.yaml", "");
        edit("rl-stock.camel.yaml", last.substring(0, 120));
        edit("rl-stock.camel.yaml", last.substring(0, last.length() / 2));
        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2095"));
        edit("rl-stock.camel.yaml", last);

        awaitEvent("rl-stock.camel.yaml", "applied", before);
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2096");
        assertThat(reloader().events().stream().skip(before).filter(e -> e.file().endsWith("rl-stock.camel.yaml")).toList())
                .singleElement().extracting(RoutesReloader.Event::outcome).isEqualTo("applied");
    }

    @Test
    void should_replace_a_route_only_after_its_current_run() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(REPORT)).willReturn(aResponse().withStatus(200).withFixedDelay(3000)
                .withHeader("Content-Type", "text/csv").withBody("Product ID,Description\nP1,One\n")));
        int before = reloader().events().size();
        CompletableFuture<String> run = CompletableFuture.supplyAsync(() -> {
            try {
                return fire("rl-stock").status();
            } catch (Exception e) {
                return e.toString();
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(() -> context().getInflightRepository().size("rl-stock") > 0);

        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2094"));

        // while it waits, the report answers and says what it waits for
        await().atMost(Duration.ofSeconds(10)).until(() -> reloader().report().get("waiting") != null);
        assertThat(String.valueOf(reloader().report().get("waiting"))).contains("waiting for route rl-stock");
        RoutesReloader.Event applied = awaitEvent("rl-stock.camel.yaml", "applied", before);
        assertThat(run.get()).isEqualTo("success");
        assertThat(count("SELECT COUNT(*) FROM rl_stock")).isEqualTo(1);
        java.sql.Timestamp ended;
        try (var c = target(); var s = c.createStatement();
             var r = s.executeQuery("SELECT MAX(finished_at) FROM syncwarden.sync_run WHERE source_id = 'rl-stock'")) {
            r.next();
            ended = r.getTimestamp(1);
        }
        assertThat(applied.at()).isAfterOrEqualTo(ended.toInstant());
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2094");
    }

    @Test
    void should_put_everything_back_when_a_valid_looking_edit_cannot_be_built() throws Exception {
        int before = reloader().events().size();
        Route running = context().getRoute("rl-stock");

        // the schedule changes, and a second route calls a bean that does not exist (only building the route finds it)
        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2093") + """
                - route:
                    id: rl-extra
                    description: calls a bean nobody bound
                    from:
                      uri: "timer:rl-extra?delay=3600000"
                      steps:
                        - bean:
                            ref: noSuchBean
                """);

        RoutesReloader.Event failed = awaitEvent("rl-stock.camel.yaml", "failed", before);
        assertThat(failed.problems()).singleElement().asString().contains("noSuchBean");
        assertThat(context().getRoute("rl-extra")).isNull();
        assertThat(context().getRoute("rl-stock")).isNotNull().isNotSameAs(running);
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2099");
        assertThat(context().getRouteController().getRouteStatus("rl-stock").isStarted()).isTrue();
    }

    @Test
    void should_leave_a_route_an_operator_stopped_stopped() throws Exception {
        context().getRouteController().stopRoute("watchdog");
        int before = reloader().events().size();

        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2092"));

        awaitEvent("rl-stock.camel.yaml", "applied", before);
        assertThat(context().getRouteController().getRouteStatus("watchdog").isStopped()).isTrue();

        // a route the change replaces, stopped by an operator before: replaced, and left stopped
        context().getRouteController().stopRoute("rl-stock");
        Route stopped = context().getRoute("rl-stock");
        int next = reloader().events().size();
        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2090"));
        awaitEvent("rl-stock.camel.yaml", "applied", next);
        assertThat(context().getRoute("rl-stock")).isNotSameAs(stopped);
        assertThat(context().getRouteController().getRouteStatus("rl-stock").isStopped()).isTrue();
    }

    @Test
    void should_take_an_edit_refused_because_of_another_file_once_that_file_changes() throws Exception {
        int before = reloader().events().size();

        // the source moves to a file of its own: the new file first (its id is still taken), then the old one goes
        edit("rl-moved.camel.yaml", source("0 0 0 1 1 ? 2091"));
        RoutesReloader.Event refused = awaitEvent("rl-moved.camel.yaml", "refused", before);
        assertThat(refused.problems()).anySatisfy(p -> assertThat(p).contains("duplicate route id 'rl-stock'"));
        Files.delete(dir.resolve("rl-stock.camel.yaml"));

        awaitEvent("rl-stock.camel.yaml", "removed", before);
        awaitEvent("rl-moved.camel.yaml", "applied", before);
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2091");
        assertThat(reloader().report().get("refused")).asList().isEmpty();
    }

    @Test
    void should_start_no_run_of_a_source_while_its_route_is_held_for_a_swap() throws Exception {
        upstream.stubFor(get(urlPathEqualTo(REPORT)).willReturn(aResponse().withStatus(200)
                .withHeader("Content-Type", "text/csv").withBody("Product ID,Description\nP1,One\n")));
        io.syncwarden.sync.SyncRuns runs = context().getRegistry().findSingleByType(io.syncwarden.sync.SyncRuns.class);
        try (AutoCloseable held = runs.hold("rl-stock")) {
            assertThat(fire("rl-stock").status()).isEqualTo("refused");
        }
        assertThat(count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE source_id = 'rl-stock'")).isZero();
        assertThat(fire("rl-stock").status()).isEqualTo("success");
    }

    @Test
    void should_wait_for_a_run_that_does_not_go_through_the_route() throws Exception {
        io.syncwarden.sync.SyncRuns runs = context().getRegistry().findSingleByType(io.syncwarden.sync.SyncRuns.class);
        // a backfill's run: the source's lock and record, on this node, but no exchange of the route
        io.syncwarden.sync.RunContext backfill = runs.begin("rl-stock", "http-csv", "backfill");
        assertThat(backfill).isNotNull();
        Route running = context().getRoute("rl-stock");
        int before = reloader().events().size();

        edit("rl-stock.camel.yaml", source("0 0 0 1 1 ? 2089"));

        await().atMost(Duration.ofSeconds(10)).until(() -> reloader().report().get("waiting") != null);
        assertThat(context().getRoute("rl-stock")).isSameAs(running);
        runs.complete(backfill);
        awaitEvent("rl-stock.camel.yaml", "applied", before);
        assertThat(cron("rl-stock")).isEqualTo("0 0 0 1 1 ? 2089");
    }

    @Test
    void should_leave_rest_definitions_to_the_next_restart() throws Exception {
        int before = reloader().events().size();
        String api = Files.readString(dir.resolve("api.camel.yaml"));

        edit("api.camel.yaml", api.replace("description: The live reload of routes/", "description: The live reload of the routes folder/"));

        RoutesReloader.Event event = awaitEvent("api.camel.yaml", "restart_required", before);
        assertThat(event.problems()).singleElement().asString().contains("take effect at the next restart");
        assertThat(context().getRoute("api-reloads")).isNotNull();
    }

    @Test
    void should_list_nothing_refused_at_start() {
        assertThat(reloader().report()).containsEntry("enabled", true);
        assertThat(reloader().report().get("refused")).asList().isEmpty();
        assertThat(List.of(context().getRouteController().getRouteStatus("rl-stock").isStarted())).containsExactly(true);
    }
}
