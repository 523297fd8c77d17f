package io.syncwarden;

import io.syncwarden.sync.SyncTrigger;
import java.util.Properties;
import org.apache.camel.test.main.junit5.CamelMainTestSupport;

/**
 * Boots the real application (its application.properties and routes/, plus one test routes file) without HTTP
 * servers or the demo, on a target database the test chooses, with short retry delays.
 */
public abstract class SyncwardenTestSupport extends CamelMainTestSupport {

    @Override
    protected Class<?> getMainClass() {
        return Syncwarden.class;
    }

    @Override
    protected String getPropertyPlaceholderLocations() {
        return "file:application.properties";
    }

    /** The properties every test boot shares: routes/ plus {@code classpath:test-routes/<testRoutes>}, the target. */
    protected static Properties bootProperties(String testRoutes, String targetUrl, String user, String password) {
        Properties p = new Properties();
        p.put("camel.main.routesIncludePattern", "file:routes/*.camel.yaml,classpath:test-routes/" + testRoutes);
        p.put("camel.server.enabled", "false");
        p.put("camel.management.enabled", "false");
        p.put("syncwarden.demo.enabled", "false");
        p.put("syncwarden.db.url", targetUrl);
        p.put("syncwarden.db.username", user);
        p.put("syncwarden.db.password", password);
        p.put("syncwarden.retry.initial-delay-ms", "10");
        p.put("syncwarden.source.connect-timeout-ms", "1000");
        // circuit breakers stay closed unless a test is about them (many tests fail a source several times on purpose)
        p.put("syncwarden.breaker.failures", "1000");
        p.put("syncwarden.db.breaker.failures", "1000");
        // the retry queue ticks only when a test fires its route
        p.put("syncwarden.retry-queue.cron", "0 0 0 1 1 ? 2099");
        p.put("syncwarden.recovery.cron", "0 0 0 1 1 ? 2099");
        p.put("syncwarden.watchdog.cron", "0 0 0 1 1 ? 2099");
        p.put("syncwarden.reload.enabled", "false");
        p.put("syncwarden.retention.cron", "0 0 0 1 1 ? 2099");
        p.put("syncwarden.full-sync.cron", "0 0 0 1 1 ? 2099");
        return p;
    }

    /** Runs a source now, on the caller's thread, as a manual trigger. */
    protected SyncTrigger.Result fire(String source) throws Exception {
        return fire(source, "manual");
    }

    /** Runs a source (or any Quartz-fed route, e.g. retry-queue) now, on the caller's thread, with the given trigger. */
    protected SyncTrigger.Result fire(String route, String trigger) throws Exception {
        return context.getRegistry().lookupByNameAndType("syncTrigger", SyncTrigger.class).fire(route, trigger);
    }
}
