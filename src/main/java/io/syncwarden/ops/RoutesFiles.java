package io.syncwarden.ops;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.camel.CamelContext;
import org.apache.camel.catalog.impl.DefaultRuntimeCamelCatalog;
import org.apache.camel.impl.DefaultCamelContext;

/**
 * The routes files of a folder ({@code *.camel.yaml}) and the {@code validate} command: every file checked by
 * {@link RoutesValidator} with this service's configuration, {@code OK <file>} or one line per problem.
 */
public final class RoutesFiles {
    public static final String SUFFIX = ".camel.yaml";
    /** Components Syncwarden registers in code under a name of its own (SyncwardenConfiguration). */
    public static final Map<String, String> COMPONENT_ALIASES = Map.of("alert-http", "http");

    private RoutesFiles() {
    }

    /** What the source kinds' templates accept in their parameters (the runtime would refuse the rest at a run). */
    static final Map<String, java.util.function.Function<String, String>> PARAMETER_CHECKS = Map.of(
            "freshnessSla", v -> failure(() -> io.syncwarden.heal.Watchdog.configuredSla(v)),
            // a duration, or a plain number for a numeric watermark
            "watermarkLookback", v -> v.matches("-?\\d+(\\.\\d+)?") ? null : failure(() -> io.syncwarden.source.JdbcSource.duration(v)),
            "batchSize", RoutesFiles::positive,
            "fetchSize", v -> v.equals("0") ? null : positive(v),
            "critical", RoutesFiles::bool,
            "syncOnStartup", RoutesFiles::bool,
            "enabled", RoutesFiles::bool,
            "mode", v -> List.of("full", "incremental").contains(v.toLowerCase(java.util.Locale.ROOT)) ? null
                    : "must be full or incremental, was '" + v + "'",
            "deletions", v -> List.of("mark", "delete", "keep").contains(v.toLowerCase(java.util.Locale.ROOT)) ? null
                    : "must be mark, delete or keep, was '" + v + "'");

    private static String failure(Runnable check) {
        try {
            check.run();
            return null;
        } catch (RuntimeException e) {
            return e.getMessage();
        }
    }

    private static String positive(String v) {
        try {
            return Integer.parseInt(v) > 0 ? null : "must be a whole number above 0, was " + v;
        } catch (NumberFormatException e) {
            return "must be a whole number above 0, was '" + v + "'";
        }
    }

    private static String bool(String v) {
        return "true".equalsIgnoreCase(v) || "false".equalsIgnoreCase(v) ? null : "must be true or false, was '" + v + "'";
    }

    /** Every {@code *.camel.yaml} directly in the folder, by name, with its text. */
    public static Map<String, String> read(Path dir) throws IOException {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> list = Files.list(dir)) {
            for (Path p : list.filter(RoutesFiles::isRoutesFile).sorted().toList()) {
                files.put(display(dir, p), Files.readString(p, StandardCharsets.UTF_8));
            }
        }
        return files;
    }

    public static boolean isRoutesFile(Path p) {
        String name = p.getFileName().toString();
        return name.endsWith(SUFFIX) && !name.startsWith(".") && Files.isRegularFile(p);
    }

    static String display(Path dir, Path file) {
        Path base = dir.getFileName() == null ? dir : dir;
        return base.resolve(file.getFileName()).toString();
    }

    /** A validator that resolves placeholders with the given context's properties and knows its components. */
    public static RoutesValidator validator(CamelContext context) {
        DefaultRuntimeCamelCatalog catalog = new DefaultRuntimeCamelCatalog();
        catalog.setCamelContext(context);
        catalog.start();
        return new RoutesValidator(context::resolvePropertyPlaceholders, catalog, COMPONENT_ALIASES)
                .parameterChecks(PARAMETER_CHECKS);
    }

    /**
     * {@code validate [DIR]}: exit status 0 when every file is valid, 1 when any is not, 2 when the folder cannot be
     * read. Nothing is started: no consumer, no database.
     */
    public static int validateCommand(List<String> args, String configFile, PrintStream out, PrintStream err) throws IOException {
        Path dir = Path.of(args.isEmpty() ? "routes" : args.get(0));
        if (!Files.isDirectory(dir)) {
            err.println(dir + ": no such folder (usage: validate [DIR], DIR defaulting to routes)");
            return 2;
        }
        Map<String, String> files;
        try {
            files = read(dir);
        } catch (IOException e) {
            err.println(dir + ": cannot read: " + e.getMessage());
            return 2;
        }
        if (files.isEmpty()) {
            err.println(dir + ": no *" + SUFFIX + " files");
            return 2;
        }
        // the command's output is its report: Camel's own start and stop lines would only be noise
        org.slf4j.Logger camel = org.slf4j.LoggerFactory.getLogger("org.apache.camel");
        if (camel instanceof ch.qos.logback.classic.Logger logback) {
            logback.setLevel(ch.qos.logback.classic.Level.WARN);
        }
        try (DefaultCamelContext context = new DefaultCamelContext(false)) {
            context.getPropertiesComponent().setLocation("file:" + configFile + ";optional=true");
            context.build();
            List<RoutesValidator.Problem> problems = validator(context).validate(files);
            for (String file : files.keySet()) {
                List<RoutesValidator.Problem> mine = problems.stream().filter(p -> p.file().equals(file)).toList();
                if (mine.isEmpty()) {
                    out.println("OK " + file);
                } else {
                    mine.forEach(p -> out.println(p));
                }
            }
            out.println(problems.isEmpty() ? files.size() + " files valid"
                    : problems.size() + " problem(s) in " + problems.stream().map(RoutesValidator.Problem::file).distinct().count()
                    + " of " + files.size() + " files");
            return problems.isEmpty() ? 0 : 1;
        }
    }
}
