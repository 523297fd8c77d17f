package io.syncwarden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.camel.CamelContext;
import org.apache.camel.impl.DefaultCamelContext;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Guards ops edits: every file in routes/ must parse, and a broken one fails naming the file and line. */
class RoutesFilesTest {

    /** Loads the files in order into one context, as the service does (templates before the routes using them). */
    static void load(List<Path> files) throws Exception {
        try (CamelContext context = new DefaultCamelContext()) {
            // the service's own properties: the shared route configuration matches source endpoints, placeholders resolved
            context.getPropertiesComponent().setLocation("file:application.properties");
            for (Path file : files) {
                try {
                    PluginHelper.getRoutesLoader(context).loadRoutes(ResourceHelper.resolveResource(context, "file:" + file));
                } catch (Exception e) {
                    StringBuilder why = new StringBuilder();
                    for (Throwable t = e; t != null; t = t.getCause()) {
                        why.append(" <- ").append(t.getMessage());
                    }
                    throw new AssertionError("Routes file " + file + " is broken:" + why, e);
                }
            }
        }
    }

    @Test
    void should_load_every_routes_file() throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(Path.of("routes"))) {
            files = s.filter(p -> p.toString().endsWith(".camel.yaml"))
                    .sorted(Comparator.comparing((Path p) -> !p.endsWith("error-handling.camel.yaml"))
                            .thenComparing(p -> !p.endsWith("templates.camel.yaml")).thenComparing(Path::toString))
                    .toList();
        }
        assertThat(files).extracting(p -> p.getFileName().toString())
                .contains("error-handling.camel.yaml", "templates.camel.yaml", "demo-replica.camel.yaml");
        load(files);
        // the dead-letter channel is declared once, in the shared route configuration; flows never declare their own
        assertThat(Files.readString(Path.of("routes/error-handling.camel.yaml"))).contains("deadLetterChannel:");
        for (Path file : files) {
            if (!file.endsWith("error-handling.camel.yaml")) {
                assertThat(Files.readString(file)).as("%s: flows never declare their own error handler", file)
                        .doesNotContain("errorHandler:");
            }
        }
    }

    @Test
    void should_name_the_file_and_line_of_a_broken_routes_file(@TempDir Path dir) throws IOException {
        Path broken = dir.resolve("broken.camel.yaml");
        Files.writeString(broken, "- route:\n    id: x\n    from:\n      uri: quartz:x\n      steps:\n        - bean: [unclosed\n");

        assertThatThrownBy(() -> load(List.of(broken))).hasMessageContaining("broken.camel.yaml").hasMessageContaining("line");
    }
}
