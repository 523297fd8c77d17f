package io.syncwarden;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The image's contract (no Docker engine here to build it): liveness probe only, application files read-only. */
class DockerfileTest {
    private final String dockerfile = read();

    private static String read() {
        try {
            return Files.readString(Path.of("Dockerfile"));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void should_probe_liveness_only_so_a_failing_upstream_never_restarts_the_container() {
        String probe = dockerfile.lines().dropWhile(l -> !l.startsWith("HEALTHCHECK")).limit(2).reduce("", String::concat);
        assertThat(probe).contains("/observe/health/live").doesNotContain("/observe/health HTTP").doesNotContain("/ready");
    }

    @Test
    void should_leave_only_the_data_folder_writable_to_the_service_user() {
        assertThat(dockerfile).contains("chown -R root:root /app").contains("chmod 0444 /app/syncwarden.jar /app/application.properties /app/routes/*")
                .contains("chown syncwarden:syncwarden /app/data").containsPattern("USER syncwarden\\s");
    }
}
