package io.syncwarden.sync;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.function.Consumer;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.support.EventNotifierSupport;
import org.apache.camel.CamelContext;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.spi.OnCamelContextStarted;
import org.apache.camel.spi.OnCamelContextStarting;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds every source (a route created from a source-kind template, recognised by its {@code sourceId}
 * parameter) once Camel has started: gives it a health row and a readiness check, and runs those with
 * {@code syncOnStartup=true} once, in the background, so start-up is never held up by an upstream.
 */
public class SourceRegistry implements OnCamelContextStarting, OnCamelContextStarted {
    private static final Logger LOG = LoggerFactory.getLogger(SourceRegistry.class);

    /** One configured source: its id (= route id), kind (= template id) and template parameters. */
    public record Source(String id, String kind, Map<String, Object> parameters) {
    }

    private final SyncRuns runs;
    private final java.util.function.Function<String, org.apache.camel.health.HealthCheck> healthCheck;
    private final List<Source> sources = Collections.synchronizedList(new ArrayList<>());

    /** {@code healthCheck}: the readiness check of a source, by its id (the health package makes them). */
    public SourceRegistry(SyncRuns runs, java.util.function.Function<String, org.apache.camel.health.HealthCheck> healthCheck) {
        this.runs = runs;
        this.healthCheck = healthCheck;
    }

    public List<Source> sources() {
        return List.copyOf(sources);
    }

    /** Scopes a Google identity needs to write to a sheet (any one of them). */
    static final List<String> WRITE_SCOPES = List.of("https://www.googleapis.com/auth/spreadsheets",
            "https://www.googleapis.com/auth/drive", "https://www.googleapis.com/auth/drive.file");

    /**
     * Checks, before any route starts, what would otherwise fail only at a run: a source that writes back to a sheet
     * needs a Google identity with a write scope. Fails the start with a message that names the setting.
     */
    @Override
    public void onContextStarting(CamelContext context) {
        for (RouteDefinition def : ((ModelCamelContext) context).getRouteDefinitions()) {
            Map<String, Object> params = def.getTemplateParameters();
            if (params == null || !params.containsKey("writeBackSpreadsheetId")) {
                continue;
            }
            String sheet = resolved(context, params.get("writeBackSpreadsheetId"));
            if (sheet.isBlank() || "false".equalsIgnoreCase(resolved(context, params.getOrDefault("enabled", "true")))) {
                continue;
            }
            var google = context.getComponent("google-sheets", org.apache.camel.component.google.sheets.GoogleSheetsComponent.class);
            String scopes = google.getConfiguration() == null || google.getConfiguration().getScopes() == null ? ""
                    : google.getConfiguration().getScopes();
            if (WRITE_SCOPES.stream().noneMatch(w -> List.of(scopes.split("[,\\s]+")).contains(w))) {
                throw new IllegalStateException("Source " + def.getRouteId() + " writes back to Google sheet " + sheet
                        + ", but the Google identity's scope is read-only ('" + scopes + "'): set "
                        + "camel.component.google-sheets.scopes = https://www.googleapis.com/auth/spreadsheets");
            }
        }
    }

    private static String resolved(CamelContext context, Object value) {
        String text = value == null ? "" : String.valueOf(value);
        try {
            return context.resolvePropertyPlaceholders(text);
        } catch (RuntimeException e) {
            return text;
        }
    }

    @Override
    public void onContextStarted(CamelContext context) {
        refresh(context);
        List<Source> found = sources();
        LOG.info("Syncwarden has {} source(s): {}", found.size(), found.stream().map(s -> s.id() + " (" + s.kind() + ")").toList());
        List<String> startup = found.stream()
                .filter(s -> Boolean.parseBoolean(String.valueOf(s.parameters().getOrDefault("syncOnStartup", "false"))))
                .map(Source::id).toList();
        if (!startup.isEmpty()) {
            fireWhenStarted(context, startup);
        }
    }

    /**
     * Takes the sources from the routes as they are now: at start, and after a live reload. Sources new to it get
     * their health row and readiness check, sources gone lose their check, and a changed source's parameters are
     * taken (its schedule, SLA, criticality).
     */
    public synchronized void refresh(CamelContext context) {
        ModelCamelContext model = (ModelCamelContext) context;
        HealthCheckRegistry health = HealthCheckRegistry.get(context);
        Map<String, Source> now = new java.util.LinkedHashMap<>();
        for (RouteDefinition def : model.getRouteDefinitions()) {
            Map<String, Object> params = def.getTemplateParameters();
            if (params != null && params.containsKey("sourceId")) {
                now.put(def.getRouteId(), new Source(def.getRouteId(), String.valueOf(params.getOrDefault("kind", "unknown")), params));
            }
        }
        Set<String> before = new java.util.HashSet<>();
        synchronized (sources) {
            for (Source old : sources) {
                before.add(old.id());
                if (!now.containsKey(old.id()) && health != null) {
                    health.getCheck("source-" + old.id()).ifPresent(health::unregister);
                }
            }
            sources.clear();
            sources.addAll(now.values());
        }
        for (Source added : now.values()) {
            if (before.contains(added.id())) {
                continue;
            }
            try {
                runs.register(added.id(), added.kind());
            } catch (Exception e) {
                LOG.warn("Cannot register health row of source {}: {}", added.id(), e.getMessage());
            }
            if (health != null) {
                health.register(healthCheck.apply(added.id()));
            }
        }
    }

    /**
     * Routes start after the context when the supervising controller is on (and later still when an upstream is
     * down at boot), so start-up runs wait for each route's own start event, then run in the background.
     */
    private static void fireWhenStarted(CamelContext context, List<String> startup) {
        Set<String> pending = ConcurrentHashMap.newKeySet();
        pending.addAll(startup);
        SyncTrigger trigger = new SyncTrigger(context);
        ExecutorService pool = context.getExecutorServiceManager().newSingleThreadExecutor(SourceRegistry.class, "startup-syncs");
        Consumer<String> fire = id -> {
            if (pending.remove(id)) {
                pool.submit(() -> {
                    try {
                        trigger.fire(id, "startup");
                    } catch (Exception e) {
                        LOG.warn("Start-up sync of {} could not be fired: {}", id, e.getMessage());
                    }
                });
            }
        };
        context.getManagementStrategy().addEventNotifier(new EventNotifierSupport() {
            @Override
            public void notify(CamelEvent event) {
                if (event instanceof CamelEvent.RouteStartedEvent started) {
                    fire.accept(started.getRoute().getRouteId());
                }
            }
        });
        for (String id : startup) {
            if (context.getRouteController().getRouteStatus(id) != null && context.getRouteController().getRouteStatus(id).isStarted()) {
                fire.accept(id);
            }
        }
    }
}
