package io.syncwarden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built fat jar, started as the README says: from a folder holding application.properties and routes/, with
 * no other configuration. Proves the shaded jar keeps its type converters, YAML DSL and HTTP server.
 */
class JarStartIT {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void should_start_from_the_repo_layout_sync_the_demo_and_answer_health_up(@TempDir Path home) throws Exception {
        Path jar = Path.of("target/syncwarden.jar").toAbsolutePath();
        assertThat(jar).exists();
        layOut(home);
        int port = freePort();
        int managementPort = freePort();
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-Dcamel.server.port=" + port, "-Dcamel.management.port=" + managementPort, "-jar", jar.toString()).directory(home.toFile())
                .redirectErrorStream(true).redirectOutput(home.resolve("out.log").toFile());
        // Jolokia's user from the environment (Hawtio's connect dialog sends it as HTTP Basic)
        pb.environment().put("SYNCWARDEN_JOLOKIA_USER", "hawtio");
        pb.environment().put("SYNCWARDEN_JOLOKIA_PASSWORD", "jar-test-password-0123456789");
        Process process = pb.start();
        try {
            String base = "http://localhost:" + managementPort;
            await("health UP with the demo synced").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
                    .ignoreExceptions().untilAsserted(() -> {
                        HttpResponse<String> health = get(base + "/observe/health");
                        assertThat(health.statusCode()).isEqualTo(200);
                        assertThat(health.body()).contains("\"status\":\"UP\"");
                        assertThat(get(base + "/observe/metrics").body())
                                .contains("syncwarden_rows_total{outcome=\"inserted\",source=\"demo-replica-leads\"} 500.0");
                    });
            assertThat(HTTP.send(HttpRequest.newBuilder(URI.create(base + "/observe/jolokia/version")).header("Origin", "http://localhost:8080")
                    .build(), HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(401);
            assertThat(HTTP.send(HttpRequest.newBuilder(URI.create(base + "/observe/jolokia/version")).header("Origin", "http://localhost:8080")
                    .header("Authorization", "Basic " + java.util.Base64.getEncoder().encodeToString(
                            "hawtio:jar-test-password-0123456789".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
                    .build(), HttpResponse.BodyHandlers.ofString()).body()).contains("\"agent\"");
            assertThat(home.resolve("data")).isDirectoryContaining(p -> p.getFileName().toString().startsWith("syncwarden"));
            // a routes edit is taken live in the service's heap (-Xmx256m): the demo's schedule changes
            Path demo = home.resolve("routes/demo-replica.camel.yaml");
            Files.writeString(demo, Files.readString(demo).replace("value: \"{{syncwarden.demo.cron}}\"", "value: \"0 0 */3 * * ?\""));
            await("the edit applied").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(500))
                    .until(() -> Files.readString(home.resolve("out.log")).contains("demo-replica.camel.yaml applied; routes [demo-replica-leads]"));
            assertThat(Files.readString(home.resolve("out.log"))).contains("cron=0 0 */3 * * ?").doesNotContain("OutOfMemoryError");
            // the API and the status page on a business port other than 8080, beside the management server
            HttpResponse<String> api = get("http://localhost:" + port + "/api/health");
            assertThat(api.statusCode()).as(api.body()).isEqualTo(200);
            assertThat(get("http://localhost:" + port + "/").body()).contains("Syncwarden");
        } finally {
            process.destroy();
            if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            System.out.println(Files.readString(home.resolve("out.log")));
        }
    }

    @Test
    void should_validate_the_routes_folder_without_starting_anything(@TempDir Path home) throws Exception {
        layOut(home);
        // in a small heap: the YAML DSL schema is compiled as the files need it, not whole (which took over 256 MB)
        Process ok = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx64m", "-jar",
                Path.of("target/syncwarden.jar").toAbsolutePath().toString(), "validate")
                .directory(home.toFile()).redirectErrorStream(true).start();
        String good = new String(ok.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(ok.waitFor()).as(good).isZero();
        assertThat(good).contains("OK routes/templates.camel.yaml").contains("files valid").doesNotContain("Apache Camel");
        assertThat(home.resolve("data")).doesNotExist(); // no database was touched

        Files.writeString(home.resolve("routes/finale-stock.camel.yaml"), Files.readString(home.resolve("routes/finale-stock.camel.yaml"))
                .replace("routeTemplateRef: http-csv", "routeTemplateRef: http-cvs"));
        Process bad = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                Path.of("target/syncwarden.jar").toAbsolutePath().toString(), "validate", "routes")
                .directory(home.toFile()).redirectErrorStream(true).start();
        String wrong = new String(bad.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(bad.waitFor()).as(wrong).isEqualTo(1);
        assertThat(wrong).contains("routes/finale-stock.camel.yaml:6:23: unknown route template 'http-cvs'");
    }

    @Test
    void should_refuse_to_start_on_a_wrong_setting_naming_the_key_and_the_fix(@TempDir Path home) throws Exception {
        layOut(home);
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dsyncwarden.retry.max-redeliveries=-2", "-Dsyncwarden.watchdog.cron=every 5 minutes",
                "-Dsyncwarden.db.url={{env:SYNCWARDEN_TEST_NO_SUCH_VARIABLE}}", "-jar",
                Path.of("target/syncwarden.jar").toAbsolutePath().toString()).directory(home.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(out).isEqualTo(1);
        assertThat(out).contains("Invalid configuration (3 problems)")
                .contains("syncwarden.db.url cannot be resolved")
                .contains("syncwarden.retry.max-redeliveries must be >= 0, was -2")
                .contains("syncwarden.watchdog.cron must be a Quartz cron");
        assertThat(home.resolve("data/syncwarden.mv.db")).doesNotExist(); // stopped before the database was touched
    }

    /** The service's home: application.properties and routes/ as in the repository. */
    private static void layOut(Path home) throws IOException {
        Files.copy(Path.of("application.properties"), home.resolve("application.properties"), StandardCopyOption.REPLACE_EXISTING);
        Files.createDirectories(home.resolve("routes"));
        try (Stream<Path> routes = Files.list(Path.of("routes"))) {
            for (Path r : routes.toList()) {
                Files.copy(r, home.resolve("routes").resolve(r.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    /** Starts the jar with a demo big enough that its start-up sync is still running seconds later. */
    private static Process startSlowDemo(Path home, String log) throws IOException {
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-Dcamel.server.port=" + freePort(), "-Dcamel.management.port=" + freePort(), "-Dsyncwarden.node-id=jar-node",
                "-Dsyncwarden.demo.rows=200000", "-Dsyncwarden.demo.batch-size=50", "-Dsyncwarden.runs.progress-log-ms=1000", "-jar",
                Path.of("target/syncwarden.jar").toAbsolutePath().toString())
                .directory(home.toFile()).redirectErrorStream(true).redirectOutput(home.resolve(log).toFile()).start();
    }

    private static void awaitLog(Path home, String log, String text) {
        await("log says: " + text).atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(100))
                .until(() -> Files.exists(home.resolve(log)) && Files.readString(home.resolve(log)).contains(text));
    }

    /** The demo's run records, in order: "status|read|resumed?" each. Read-only: the test must not write the file. */
    private static java.util.List<String> demoRuns(Path home) throws Exception {
        java.util.List<String> out = new java.util.ArrayList<>();
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:h2:file:" + home.resolve("data/syncwarden") + ";ACCESS_MODE_DATA=r", "sa", "");
             java.sql.Statement s = c.createStatement();
             java.sql.ResultSet rs = s.executeQuery("SELECT status, rows_read, resumed_from IS NOT NULL FROM syncwarden.sync_run "
                     + "WHERE source_id = 'demo-replica-leads' ORDER BY run_id")) {
            while (rs.next()) {
                out.add(rs.getString(1) + "|" + rs.getLong(2) + "|" + (rs.getBoolean(3) ? "resumed" : "fresh"));
            }
        }
        return out;
    }

    private static long count(Path home, String sql) throws Exception {
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:h2:file:" + home.resolve("data/syncwarden") + ";ACCESS_MODE_DATA=r", "sa", "");
             java.sql.Statement s = c.createStatement(); java.sql.ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void should_stop_gracefully_on_sigterm_mid_sync_and_resume_after_a_restart(@TempDir Path home) throws Exception {
        try {
            sigtermThenRestart(home);
        } finally {
            for (String log : new String[] {"first.log", "second.log"}) {
                if (Files.exists(home.resolve(log))) {
                    System.out.println("----- " + log + "\n" + Files.readString(home.resolve(log)));
                }
            }
        }
    }

    private void sigtermThenRestart(Path home) throws Exception {
        layOut(home);
        Process first = startSlowDemo(home, "first.log");
        // mid-sync: after a progress line (batches committed), so there is a checkpoint to resume from
        awaitLog(home, "first.log", "Sync demo-replica-leads run 1: ");

        first.destroy(); // SIGTERM, as docker stop sends

        boolean ended = first.waitFor(15, java.util.concurrent.TimeUnit.SECONDS);
        if (!ended) {
            first.destroyForcibly();
        }
        String log = Files.readString(home.resolve("first.log"));
        assertThat(ended).as("stopped within docker's grace:%n%s", log).isTrue();
        assertThat(log).doesNotContain("Database is already closed");
        assertThat(demoRuns(home)).singleElement().satisfies(r -> assertThat(r).startsWith("interrupted|"));
        assertThat(count(home, "SELECT COUNT(*) FROM syncwarden.source_lock")).as("no lock left behind").isZero();

        Process second = startSlowDemo(home, "second.log");
        try {
            awaitLog(home, "second.log", "Sync demo-replica-leads run 2 success");
        } finally {
            second.destroy();
            second.waitFor(15, java.util.concurrent.TimeUnit.SECONDS);
        }
        assertThat(Files.readString(home.resolve("second.log"))).doesNotContain("holds the lock");
        assertThat(demoRuns(home)).hasSize(2).element(1).satisfies(r -> assertThat(r).startsWith("success|").endsWith("|resumed"));
        assertThat(count(home, "SELECT COUNT(*) FROM PUBLIC.demo_leads")).isEqualTo(200_000);
    }

    @Test
    void should_take_its_source_back_at_once_after_a_kill_and_keep_the_record(@TempDir Path home) throws Exception {
        layOut(home);
        Process first = startSlowDemo(home, "first.log");
        // a progress line comes a second after the run began: H2 has written the run record to disk by then
        awaitLog(home, "first.log", "Sync demo-replica-leads run 1: ");

        first.destroyForcibly(); // kill -9: no shutdown hook runs
        first.waitFor(15, java.util.concurrent.TimeUnit.SECONDS);

        Process second = startSlowDemo(home, "second.log");
        try {
            // after a kill the database's identity cache is lost: the next run's id is not necessarily 2
            awaitLog(home, "second.log", "success: trigger=startup");
        } finally {
            second.destroy();
            second.waitFor(15, java.util.concurrent.TimeUnit.SECONDS);
        }
        String log = Files.readString(home.resolve("second.log"));
        assertThat(log).contains("was left running by this node's previous process").doesNotContain("holds the lock");
        assertThat(demoRuns(home)).hasSize(2).satisfies(runs -> {
            assertThat(runs.get(0)).startsWith("abandoned|");
            // the incremental sync resumed from the checkpoint the killed run committed: it read only the rest
            assertThat(runs.get(1)).startsWith("success|").endsWith("|resumed");
            assertThat(Long.parseLong(runs.get(1).split("\\|")[1])).isLessThan(200_000);
        });
        assertThat(count(home, "SELECT COUNT(*) FROM syncwarden.failure_log WHERE error_class = 'abandoned'")).isEqualTo(1);
        assertThat(count(home, "SELECT COUNT(*) FROM PUBLIC.demo_leads")).isEqualTo(200_000);
        assertThat(count(home, "SELECT COUNT(*) - COUNT(DISTINCT id) FROM PUBLIC.demo_leads")).isZero();
        // the target equals the replica row by row
        assertThat(rows("jdbc:h2:file:" + home.resolve("data/syncwarden"), home))
                .isEqualTo(rows("jdbc:h2:file:" + home.resolve("data/demo-replica"), home));
    }

    /** Every row of the demo table as text, in key order, over the replica's columns. Read-only. */
    private static java.util.List<String> rows(String url, Path home) throws Exception {
        String columns;
        try (java.sql.Connection c = java.sql.DriverManager.getConnection("jdbc:h2:file:" + home.resolve("data/demo-replica")
                + ";ACCESS_MODE_DATA=r", "sa", "");
             java.sql.ResultSet rs = c.createStatement().executeQuery("SELECT * FROM PUBLIC.demo_leads WHERE 1 = 0")) {
            java.util.List<String> names = new java.util.ArrayList<>();
            for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                names.add(rs.getMetaData().getColumnName(i));
            }
            columns = String.join(", ", names);
        }
        java.util.List<String> out = new java.util.ArrayList<>();
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(url + ";ACCESS_MODE_DATA=r", "sa", "");
             java.sql.ResultSet rs = c.createStatement().executeQuery("SELECT " + columns + " FROM PUBLIC.demo_leads ORDER BY id")) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= n; i++) {
                    row.append(rs.getObject(i)).append('|');
                }
                out.add(row.toString());
            }
        }
        return out;
    }

    private static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
