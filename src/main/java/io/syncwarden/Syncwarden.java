package io.syncwarden;

import org.apache.camel.main.Main;

/**
 * Starts Syncwarden. Configuration is read from {@code application.properties} in the working directory
 * (another file: {@code SYNCWARDEN_CONFIG=/path/app.properties} or {@code -Dsyncwarden.config=...}); routes from
 * {@code camel.main.routesIncludePattern}, {@code file:routes/*.camel.yaml} by default.
 */
public final class Syncwarden {
    private Syncwarden() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && "validate".equals(args[0])) {
            System.exit(io.syncwarden.ops.RoutesFiles.validateCommand(java.util.List.of(args).subList(1, args.length),
                    configFile(), System.out, System.err));
        }
        // the configuration class is named, not found by scanning the package: scanning the jar's classes cost about
        // half a second of every start
        Main main = new Main();
        main.configure().addConfiguration(SyncwardenConfiguration.class);
        main.setDefaultPropertyPlaceholderLocation("file:" + configFile() + ";optional=true");
        main.run(args);
    }

    static String configFile() {
        String file = System.getProperty("syncwarden.config");
        if (file == null || file.isBlank()) {
            file = System.getenv("SYNCWARDEN_CONFIG");
        }
        return file == null || file.isBlank() ? "application.properties" : file;
    }
}
