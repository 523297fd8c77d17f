package io.syncwarden.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.camel.impl.DefaultCamelContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each check of the routes validator on a file with exactly one fault, and the project's own routes passing. */
class RoutesValidatorTest {
    private static DefaultCamelContext context;
    private static RoutesValidator validator;
    private static String templates;
    private static String errorHandling;

    private static final String STOCK = """
            - templatedRoute:
                routeTemplateRef: http-csv
                routeId: stock
                parameters:
                  - name: sourceId
                    value: stock
                  - name: url
                    value: "https://finale.example/report.csv?format=csv"
                  - name: mapping
                    value: "Product ID=product_id"
                  - name: keyColumns
                    value: product_id
                  - name: targetTable
                    value: stock
                  - name: cron
                    value: "0 */5 * * * ?"
            """;

    @BeforeAll
    static void start() throws Exception {
        context = new DefaultCamelContext(false);
        context.getPropertiesComponent().setLocation("file:application.properties");
        context.build();
        validator = RoutesFiles.validator(context);
        templates = Files.readString(Path.of("routes/templates.camel.yaml"));
        errorHandling = Files.readString(Path.of("routes/error-handling.camel.yaml"));
    }

    @AfterAll
    static void stop() throws Exception {
        context.close();
    }

    private static List<String> check(String file) {
        Map<String, String> files = new LinkedHashMap<>();
        files.put("routes/templates.camel.yaml", templates);
        files.put("routes/error-handling.camel.yaml", errorHandling);
        files.put("routes/stock.camel.yaml", file);
        return validator.validate(files).stream().map(RoutesValidator.Problem::toString).toList();
    }

    @Test
    void should_pass_the_projects_own_routes() throws Exception {
        assertThat(validator.validate(RoutesFiles.read(Path.of("routes")))).isEmpty();
        assertThat(check(STOCK)).isEmpty();
    }

    @Test
    void should_name_line_and_column_of_a_yaml_error() {
        assertThat(check(STOCK.replace("    routeId: stock", "    routeId: [stock"))).singleElement().asString()
                .startsWith("routes/stock.camel.yaml:").contains("YAML error");
        assertThat(check("- route:\n    id: a\n   from: x\n")).singleElement().asString()
                .startsWith("routes/stock.camel.yaml:3:").contains("YAML error");
    }

    @Test
    void should_refuse_what_the_camel_yaml_dsl_schema_refuses() {
        String route = """
                - route:
                    id: tick
                    from:
                      uri: "timer:tick"
                      steps:
                        - log:
                            mesage: hello
                """;
        assertThat(check(route)).singleElement().asString()
                .startsWith("routes/stock.camel.yaml:7:").contains("Camel YAML DSL").contains("mesage");
    }

    @Test
    void should_accept_inherit_error_handler_on_a_circuit_breaker_but_not_on_other_steps() {
        String breaker = """
                - route:
                    id: guarded
                    from:
                      uri: "timer:tick"
                      steps:
                        - circuitBreaker:
                            inheritErrorHandler: true
                            steps:
                              - log: hello
                """;
        assertThat(check(breaker)).isEmpty();
        assertThat(check(breaker.replace("circuitBreaker:", "multicast:"))).isNotEmpty();
    }

    @Test
    void should_name_an_unknown_template() {
        assertThat(check(STOCK.replace("routeTemplateRef: http-csv", "routeTemplateRef: http-cvs"))).singleElement()
                .asString().startsWith("routes/stock.camel.yaml:2:").contains("unknown route template 'http-cvs'")
                .contains("http-csv");
    }

    @Test
    void should_name_an_unknown_parameter_and_a_missing_required_one() {
        assertThat(check(STOCK.replace("name: keyColumns", "name: keyColumn"))).containsExactly(
                "routes/stock.camel.yaml:3:14: missing required parameter 'keyColumns' of template 'http-csv'",
                "routes/stock.camel.yaml:11:15: unknown parameter 'keyColumn' of template 'http-csv' (its parameters: "
                        + "sourceId, url, mapping, keyColumns, targetTable, kind, username, password, columnTypes, deletions, "
                        + "batchSize, cron, freshnessSla, critical, syncOnStartup, lookupColumns, enabled)");
    }

    @Test
    void should_name_an_unresolvable_placeholder() {
        assertThat(check(STOCK.replace("name: sourceId\n        value: stock", "name: sourceId\n        value: \"{{syncwarden.no-such-key}}\"")))
                .singleElement().asString().startsWith("routes/stock.camel.yaml:6:")
                .contains("unresolvable placeholder {{syncwarden.no-such-key}}");
    }

    @Test
    void should_name_an_invalid_cron_in_a_parameter_and_in_an_endpoint() {
        assertThat(check(STOCK.replace("0 */5 * * * ?", "0 */5 * * *"))).anySatisfy(p -> assertThat(p)
                .startsWith("routes/stock.camel.yaml:16:").contains("invalid cron '0 */5 * * *'"));
        String route = """
                - route:
                    id: nightly
                    from:
                      uri: "quartz:syncwarden/nightly?cron=0+0+25+*+*+?"
                      steps:
                        - log: hello
                """;
        assertThat(check(route)).singleElement().asString().startsWith("routes/stock.camel.yaml:4:")
                .contains("invalid cron '0 0 25 * * ?'");
    }

    @Test
    void should_name_an_unknown_component_and_an_unknown_endpoint_option() {
        String route = """
                - route:
                    id: tick
                    from:
                      uri: "timer:tick?period=1000&perod=5"
                      steps:
                        - to: "nosuchcomponent:x"
                """;
        assertThat(check(route)).containsExactly(
                "routes/stock.camel.yaml:4:12: endpoint timer: unknown option 'perod' (did you mean 'period'?)",
                "routes/stock.camel.yaml:6:15: unknown component 'nosuchcomponent' (not in this build of Syncwarden)");
    }

    @Test
    void should_check_a_templates_endpoints_with_the_instances_values() {
        assertThat(check(STOCK.replace("value: \"0 */5 * * * ?\"", "value: \"0 */5 * * * ? 1999-2000 x\"")))
                .anySatisfy(p -> assertThat(p).contains("invalid cron"));
    }

    @Test
    void should_check_what_a_source_kind_accepts_in_its_parameters() {
        String wrong = STOCK + """
                      - name: freshnessSla
                        value: "30 minutes"
                      - name: deletions
                        value: erase
                      - name: batchSize
                        value: "0"
                """;
        assertThat(check(wrong)).containsExactly(
                "routes/stock.camel.yaml:18:16: parameter 'freshnessSla': '30 minutes' is not a duration (e.g. PT10M, 10m, 90s, 2h)",
                "routes/stock.camel.yaml:20:16: parameter 'deletions': must be mark, delete or keep, was 'erase'",
                "routes/stock.camel.yaml:22:16: parameter 'batchSize': must be a whole number above 0, was 0");
        assertThat(check(STOCK + """
                      - name: freshnessSla
                        value: 30m
                """)).isEmpty();
    }

    @Test
    void should_name_an_unknown_route_configuration() {
        assertThat(check(STOCK + """
                - route:
                    id: tick
                    routeConfigurationId: sync-eror
                    from:
                      uri: "timer:tick"
                      steps:
                        - log: hello
                """)).singleElement().asString().startsWith("routes/stock.camel.yaml:19:")
                .contains("unknown route configuration 'sync-eror' (defined: sync-errors)");
    }

    @Test
    void should_name_a_route_id_used_twice() {
        String twice = STOCK + STOCK.replace("routeId: stock", "routeId: stock2") + """
                - route:
                    id: stock
                    from:
                      uri: "timer:x"
                      steps:
                        - log: hi
                """;
        assertThat(check(twice)).singleElement().asString()
                .startsWith("routes/stock.camel.yaml:34:").contains("duplicate route id 'stock' (also at routes/stock.camel.yaml:3)");
    }

    @Test
    void should_print_ok_per_file_or_each_problem_and_exit_non_zero(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("templates.camel.yaml"), templates);
        Files.writeString(dir.resolve("error-handling.camel.yaml"), errorHandling);
        Files.writeString(dir.resolve("stock.camel.yaml"), STOCK);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int ok = RoutesFiles.validateCommand(List.of(dir.toString()), "application.properties",
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(ok).isZero();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("OK " + dir.resolve("stock.camel.yaml"));

        Files.writeString(dir.resolve("stock.camel.yaml"), STOCK.replace("0 */5 * * * ?", "every 5 minutes"));
        out.reset();
        int bad = RoutesFiles.validateCommand(List.of(dir.toString()), "application.properties",
                new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        assertThat(bad).isEqualTo(1);
        assertThat(out.toString(StandardCharsets.UTF_8)).contains(dir.resolve("stock.camel.yaml") + ":16:")
                .contains("invalid cron 'every 5 minutes'").contains("OK " + dir.resolve("templates.camel.yaml"));
        assertThat(RoutesFiles.validateCommand(List.of(dir.resolve("missing").toString()), "application.properties",
                System.out, new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))).isEqualTo(2);
    }
}
