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
        if (args.length > 0 && "settings".equals(args[0])) {
            System.out.print(Config.markdown());
            return;
        }
        if (args.length > 0 && "validate".equals(args[0])) {
            System.exit(io.syncwarden.ops.RoutesFiles.validateCommand(java.util.List.of(args).subList(1, args.length),
                    configFile(), System.out, System.err));
        }
        // the configuration class is named, not found by scanning the package: scanning the jar's classes cost about
        // half a second of every start
        Main main = new Main();
        main.configure().addConfiguration(SyncwardenConfiguration.class);
        main.setDefaultPropertyPlaceholderLocation("file:" + configFile() + ";optional=true");
        try {
            main.run(args);
        } catch (Exception e) {
            // a wrong setting: its lines were logged; say it once more without a stack trace and stop
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof IllegalArgumentException && t.getMessage() != null && t.getMessage().startsWith("Invalid configuration")) {
                    System.err.println(t.getMessage());
                    System.exit(1);
                }
            }
            throw e;
        }
    }

    static String configFile() {
        String file = System.getProperty("syncwarden.config");
        if (file == null || file.isBlank()) {
            file = System.getenv("SYNCWARDEN_CONFIG");
        }
        return file == null || file.isBlank() ? "application.properties" : file;
    }
}
