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
        Files.copy(Path.of("application.properties"), home.resolve("application.properties"));
        Files.createDirectories(home.resolve("routes"));
        try (Stream<Path> routes = Files.list(Path.of("routes"))) {
            for (Path r : routes.toList()) {
                Files.copy(r, home.resolve("routes").resolve(r.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        int port = freePort();
        int managementPort = freePort();
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-Dcamel.server.port=" + port, "-Dcamel.management.port=" + managementPort, "-jar", jar.toString()).directory(home.toFile())
                .redirectErrorStream(true).redirectOutput(home.resolve("out.log").toFile());
        Process process = pb.start();
        try {
            String base = "http://localhost:" + managementPort;
            await("health UP with the demo synced").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(500))
                    .ignoreExceptions().untilAsserted(() -> {
                        HttpResponse<String> health = get(base + "/observe/health");
                        assertThat(health.statusCode()).isEqualTo(200);
                        assertThat(health.body()).contains("\"status\":\"UP\"").contains("source-demo-replica-leads");
                        assertThat(get(base + "/observe/metrics").body())
                                .contains("syncwarden_rows_total{outcome=\"inserted\",source=\"demo-replica-leads\"} 500.0");
                    });
            assertThat(get(base + "/observe/jolokia/version").body()).contains("\"agent\"");
            assertThat(home.resolve("data")).isDirectoryContaining(p -> p.getFileName().toString().startsWith("syncwarden"));
        } finally {
            process.destroy();
            if (!process.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
            System.out.println(Files.readString(home.resolve("out.log")));
        }
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
