package io.syncwarden.ops;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.apache.camel.CamelContext;
import org.apache.camel.RoutesBuilder;
import org.apache.camel.builder.RouteBuilder;
import org.apache.camel.builder.RouteConfigurationBuilder;
import org.apache.camel.model.Model;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.RouteTemplateDefinition;
import org.apache.camel.model.TemplatedRouteDefinition;
import org.apache.camel.spi.Resource;
import org.apache.camel.spi.RouteController;
import org.apache.camel.spi.SupervisingRouteController;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live reload of the routes folder that never takes a running route down.
 *
 * <p>The folder is looked at every {@code poll}; a file is acted on once its content has stayed the same for
 * {@code quiet} (editors write a file in several steps). The whole set, with the file as it now is, is checked by
 * {@link RoutesValidator}; an invalid edit is refused with file, line and reason and the previous version keeps running
 * (the same content is not tried again; a later edit is). A valid edit replaces exactly the routes whose definition
 * changed, each once its current exchange (a sync run) has finished: a route of the file, a templated route of any file
 * built from a template the file changed, and every route when a route configuration (the shared error handling)
 * changed. A deleted file's routes are stopped and removed the same way. Files with REST definitions or beans are
 * validated but take effect at the next restart.
 *
 * <p>Built on Camel's model API (route, template and configuration definitions replaced by id) instead of Camel 4.17's
 * {@code routesReloadEnabled}, which drops templated routes, keeps a deleted file's routes and loses routes on a YAML
 * error (see README).
 */
public final class RoutesReloader extends ServiceSupport {
    private static final Logger LOG = LoggerFactory.getLogger(RoutesReloader.class);
    private static final int KEEP_EVENTS = 50;
    private static final Set<String> RESTART_KINDS = Set.of("rest", "rests", "restConfiguration", "beans");

    /** One thing the reloader did or refused. Outcomes: applied, removed, refused, failed, restart_required. */
    public record Event(Instant at, String file, String outcome, List<String> routes, List<String> problems) {
    }

    public record Settings(Path dir, Duration poll, Duration quiet, Duration waitLog) {
    }

    private final CamelContext context;
    private final Settings settings;
    private final Supplier<RoutesValidator> validators;
    private final Runnable afterChange;
    private final Clock clock;
    /** file name -> text now running */
    private final Map<String, String> applied = new TreeMap<>();
    /** file name -> content seen changing, with the time it was first seen so */
    private final Map<String, Seen> seen = new HashMap<>();
    /** file name -> the content refused (not tried again), with its problems */
    private final Map<String, Refusal> refused = new TreeMap<>();
    private final Deque<Event> events = new ArrayDeque<>();
    private ScheduledExecutorService executor;
    private RoutesValidator validator;

    private record Seen(String hash, Instant since) {
    }

    private record Refusal(String hash, Event event) {
    }

    public RoutesReloader(CamelContext context, Settings settings, Supplier<RoutesValidator> validators,
                          Runnable afterChange, Clock clock) {
        this.context = context;
        this.settings = settings;
        this.validators = validators;
        this.afterChange = afterChange;
        this.clock = clock;
    }

    /** Takes the folder as it is now as what runs, and starts looking at it. */
    @Override
    protected void doStart() throws Exception {
        synchronized (this) {
            applied.clear();
            for (Map.Entry<String, String> e : RoutesFiles.read(settings.dir()).entrySet()) {
                applied.put(name(e.getKey()), e.getValue());
            }
        }
        executor = context.getExecutorServiceManager().newSingleThreadScheduledExecutor(this, "routes-reload");
        executor.scheduleWithFixedDelay(this::tickSafely, settings.poll().toMillis(), settings.poll().toMillis(),
                TimeUnit.MILLISECONDS);
        LOG.info("Routes reload on: {} is looked at every {} ms; an edit is checked, then applied {} ms after its last save",
                settings.dir(), settings.poll().toMillis(), settings.quiet().toMillis());
    }

    @Override
    protected void doStop() {
        if (executor != null) {
            context.getExecutorServiceManager().shutdownNow(executor);
            executor = null;
        }
    }

    /** The latest events first, and the edits refused now (file to its problems). */
    public synchronized Map<String, Object> report() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("enabled", true);
        out.put("dir", settings.dir().toString());
        List<Map<String, Object>> refusedNow = new ArrayList<>();
        refused.forEach((file, r) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("file", r.event().file());
            m.put("since", r.event().at().toString());
            m.put("outcome", r.event().outcome());
            m.put("problems", r.event().problems());
            refusedNow.add(m);
        });
        out.put("refused", refusedNow);
        List<Map<String, Object>> list = new ArrayList<>();
        events.descendingIterator().forEachRemaining(e -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("at", e.at().toString());
            m.put("file", e.file());
            m.put("outcome", e.outcome());
            m.put("routes", e.routes());
            m.put("problems", e.problems());
            list.add(m);
        });
        out.put("events", list);
        return out;
    }

    public synchronized List<Event> events() {
        return List.copyOf(events);
    }

    private void tickSafely() {
        try {
            tick();
        } catch (Exception e) {
            LOG.warn("Routes reload: cannot read {}: {}", settings.dir(), e.getMessage());
        }
    }

    /** One look at the folder: acts on each file whose content changed and has stayed so for {@code quiet}. */
    synchronized void tick() throws IOException {
        Map<String, String> now = new TreeMap<>();
        for (Map.Entry<String, String> e : RoutesFiles.read(settings.dir()).entrySet()) {
            now.put(name(e.getKey()), e.getValue());
        }
        Set<String> names = new LinkedHashSet<>(applied.keySet());
        names.addAll(now.keySet());
        Instant at = clock.instant();
        for (String name : names) {
            String text = now.get(name);
            if (Objects.equals(text, applied.get(name))) {
                seen.remove(name);
                if (refused.remove(name) != null) {
                    LOG.info("Routes reload: {} is back to the version that runs", display(name));
                }
                continue;
            }
            String hash = text == null ? "deleted" : sha256(text);
            Refusal refusal = refused.get(name);
            if (refusal != null && refusal.hash().equals(hash)) {
                continue;
            }
            Seen s = seen.get(name);
            if (s == null || !s.hash().equals(hash)) {
                seen.put(name, new Seen(hash, at));
                continue;
            }
            if (Duration.between(s.since(), at).compareTo(settings.quiet()) < 0) {
                continue;
            }
            seen.remove(name);
            change(name, text, hash);
        }
    }

    private void change(String name, String text, String hash) {
        String file = display(name);
        Map<String, String> before = displayed(applied);
        Map<String, String> after = new TreeMap<>(applied);
        if (text == null) {
            after.remove(name);
        } else {
            after.put(name, text);
        }
        if (validator == null) {
            validator = validators.get();
        }
        Set<String> known = validator.validate(before).stream().map(Object::toString).collect(Collectors.toSet());
        List<String> problems = validator.validate(displayed(after)).stream().map(Object::toString)
                .filter(p -> !known.contains(p)).toList();
        if (!problems.isEmpty()) {
            refuse(name, hash, "refused", problems);
            LOG.warn("Routes reload: {} refused, the previous version keeps running: {}", file, String.join(" | ", problems));
            return;
        }
        List<RoutesValidator.Item> oldItems = applied.containsKey(name) ? RoutesValidator.items(file, applied.get(name)) : List.of();
        List<RoutesValidator.Item> newItems = text == null ? List.of() : RoutesValidator.items(file, text);
        if (!restartItems(oldItems).equals(restartItems(newItems))) {
            refuse(name, hash, "restart_required", List.of(file + ": REST definitions and beans take effect at the next "
                    + "restart (the file is valid; nothing was changed in the running service)"));
            LOG.warn("Routes reload: {} changes REST definitions or beans: valid, applied at the next restart", file);
            return;
        }
        try {
            List<String> touched = apply(name, text, oldItems, newItems);
            applied.remove(name);
            if (text != null) {
                applied.put(name, text);
            }
            refused.remove(name);
            record(new Event(clock.instant(), file, text == null ? "removed" : "applied", touched, List.of()));
            afterChange.run();
        } catch (Exception e) {
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            refuse(name, hash, "failed", List.of(file + ": " + reason));
            LOG.error("Routes reload: applying {} failed ({}); the routes it touched were put back as they were", file, reason);
        }
    }

    private void refuse(String name, String hash, String outcome, List<String> problems) {
        Event event = new Event(clock.instant(), display(name), outcome, List.of(), problems);
        refused.put(name, new Refusal(hash, event));
        record(event);
    }

    private void record(Event e) {
        events.addLast(e);
        while (events.size() > KEEP_EVENTS) {
            events.removeFirst();
        }
    }

    private static Set<String> restartItems(List<RoutesValidator.Item> items) {
        return items.stream().filter(i -> RESTART_KINDS.contains(i.kind())).map(RoutesValidator.Item::content)
                .collect(Collectors.toSet());
    }

    private static Map<String, RoutesValidator.Item> byId(List<RoutesValidator.Item> items, Set<String> kinds) {
        Map<String, RoutesValidator.Item> map = new LinkedHashMap<>();
        for (RoutesValidator.Item i : items) {
            if (kinds.contains(i.kind()) && i.id() != null) {
                map.put(i.id(), i);
            }
        }
        return map;
    }

    /** The new definitions of a file, loaded by Camel's YAML loader but not added to the context. */
    private record Loaded(Map<String, RouteDefinition> routes, Map<String, TemplatedRouteDefinition> templated,
                          Map<String, RouteTemplateDefinition> templates, RouteConfigurationBuilder configurations,
                          RouteBuilder builder) {
    }

    private Loaded load(String name, String text) throws Exception {
        Resource resource = ResourceHelper.fromString("file:" + settings.dir().resolve(name), text);
        Collection<RoutesBuilder> builders = PluginHelper.getRoutesLoader(context).findRoutesBuilders(resource);
        Map<String, RouteDefinition> routes = new LinkedHashMap<>();
        Map<String, TemplatedRouteDefinition> templated = new LinkedHashMap<>();
        Map<String, RouteTemplateDefinition> templates = new LinkedHashMap<>();
        RouteConfigurationBuilder configurations = null;
        RouteBuilder last = null;
        for (RoutesBuilder b : builders) {
            if (b instanceof RouteConfigurationBuilder rcb) {
                configurations = rcb;
            }
            if (b instanceof RouteBuilder rb) {
                rb.setResource(resource);
                rb.configureRoutes(context);
                last = rb;
                for (RouteDefinition r : rb.getRouteCollection().getRoutes()) {
                    routes.put(r.getRouteId(), r);
                }
                for (TemplatedRouteDefinition t : rb.getTemplatedRouteCollection().getTemplatedRoutes()) {
                    templated.put(t.getRouteId(), t);
                }
                for (RouteTemplateDefinition t : rb.getRouteTemplateCollection().getRouteTemplates()) {
                    templates.put(t.getId(), t);
                }
            }
        }
        return new Loaded(routes, templated, templates, configurations, last);
    }

    /**
     * Replaces what changed, route by route once each is idle; returns the route ids touched. On a failure the routes
     * already replaced in this change are put back from the previous text.
     */
    private List<String> apply(String name, String text, List<RoutesValidator.Item> oldItems,
                               List<RoutesValidator.Item> newItems) throws Exception {
        Set<String> routeKinds = Set.of("route", "templatedRoute");
        Map<String, RoutesValidator.Item> oldRoutes = byId(oldItems, routeKinds);
        Map<String, RoutesValidator.Item> newRoutes = byId(newItems, routeKinds);
        Map<String, RoutesValidator.Item> oldTemplates = byId(oldItems, Set.of("routeTemplate"));
        Map<String, RoutesValidator.Item> newTemplates = byId(newItems, Set.of("routeTemplate"));
        boolean configurationsChanged = !byId(oldItems, Set.of("routeConfiguration")).equals(
                byId(newItems, Set.of("routeConfiguration")));
        Set<String> changedTemplates = new LinkedHashSet<>();
        Set<String> templateIds = new LinkedHashSet<>(oldTemplates.keySet());
        templateIds.addAll(newTemplates.keySet());
        for (String id : templateIds) {
            if (!Objects.equals(oldTemplates.get(id), newTemplates.get(id))) {
                changedTemplates.add(id);
            }
        }

        // which route of which file is re-created: file name -> route ids
        Map<String, Set<String>> recreate = new LinkedHashMap<>();
        for (Map.Entry<String, RoutesValidator.Item> e : newRoutes.entrySet()) {
            RoutesValidator.Item old = oldRoutes.get(e.getKey());
            if (old == null || !old.equals(e.getValue()) || changedTemplates.contains(e.getValue().templateRef())
                    || configurationsChanged) {
                recreate.computeIfAbsent(name, k -> new LinkedHashSet<>()).add(e.getKey());
            }
        }
        if (!changedTemplates.isEmpty() || configurationsChanged) {
            for (Map.Entry<String, String> other : applied.entrySet()) {
                if (other.getKey().equals(name)) {
                    continue;
                }
                for (RoutesValidator.Item i : RoutesValidator.items(display(other.getKey()), other.getValue())) {
                    if (routeKinds.contains(i.kind()) && i.id() != null
                            && (configurationsChanged || changedTemplates.contains(i.templateRef()))) {
                        recreate.computeIfAbsent(other.getKey(), k -> new LinkedHashSet<>()).add(i.id());
                    }
                }
            }
        }
        Set<String> remove = new LinkedHashSet<>(oldRoutes.keySet());
        remove.removeAll(newRoutes.keySet());

        Model model = context.getCamelContextExtension().getContextPlugin(Model.class);
        Map<String, Loaded> loaded = new HashMap<>();
        for (String file : recreate.keySet()) {
            loaded.put(file, load(file, file.equals(name) ? text : applied.get(file)));
        }
        Loaded mine = text == null ? null : loaded.computeIfAbsent(name, f -> {
            try {
                return load(name, text);
            } catch (Exception e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
        });
        Loaded previous = applied.containsKey(name) ? load(name, applied.get(name)) : null;

        // error handling first (routes created from now on take it), then templates, then the routes one by one
        if (configurationsChanged) {
            if (mine != null && mine.configurations() != null) {
                mine.configurations().updateRouteConfigurationsToCamelContext(context);
            }
            for (RoutesValidator.Item gone : byId(oldItems, Set.of("routeConfiguration")).values()) {
                if (!byId(newItems, Set.of("routeConfiguration")).containsKey(gone.id())
                        && model.getRouteConfigurationDefinition(gone.id()) != null) {
                    model.removeRouteConfiguration(model.getRouteConfigurationDefinition(gone.id()));
                }
            }
        }
        for (String id : changedTemplates) {
            RouteTemplateDefinition existing = model.getRouteTemplateDefinition(id);
            if (existing != null) {
                model.removeRouteTemplateDefinition(existing);
            }
            if (mine != null && mine.templates().containsKey(id)) {
                model.addRouteTemplateDefinition(mine.templates().get(id));
            }
        }
        List<String> touched = new ArrayList<>();
        List<String> added = new ArrayList<>();
        try {
            for (String id : remove) {
                awaitIdle(id);
                removeRoute(model, id);
                touched.add(id);
            }
            for (Map.Entry<String, Set<String>> e : recreate.entrySet()) {
                Loaded l = loaded.get(e.getKey());
                for (String id : e.getValue()) {
                    awaitIdle(id);
                    removeRoute(model, id);
                    touched.add(id);
                    addRoute(model, l, id);
                    added.add(id);
                }
            }
        } catch (Exception e) {
            restore(model, previous, touched);
            throw e;
        }
        startAdded();
        LOG.info("Routes reload: {} {}; routes {}", display(name), text == null ? "deleted" : "applied",
                touched.isEmpty() ? "unchanged" : touched);
        return touched;
    }

    private static void addRoute(Model model, Loaded l, String id) throws Exception {
        if (l.routes().containsKey(id)) {
            RouteDefinition def = l.routes().get(id);
            l.builder().getRouteCollection().prepareRoute(def);
            model.addRouteDefinition(def);
        } else if (l.templated().containsKey(id)) {
            model.addRouteFromTemplatedRoute(l.templated().get(id));
        } else {
            throw new IllegalStateException("route " + id + " is not in its file any more");
        }
    }

    /** Puts back the routes of this change from the previous text (best effort; what fails is logged). */
    private void restore(Model model, Loaded previous, List<String> touched) {
        for (String id : touched) {
            try {
                removeRoute(model, id);
                if (previous != null && (previous.routes().containsKey(id) || previous.templated().containsKey(id))) {
                    addRoute(model, previous, id);
                }
            } catch (Exception e) {
                LOG.error("Routes reload: route {} could not be put back: {}", id, e.getMessage());
            }
        }
        startAdded();
    }

    private void removeRoute(Model model, String id) throws Exception {
        RouteDefinition def = model.getRouteDefinition(id);
        if (def != null) {
            model.removeRouteDefinition(def);
        } else if (context.getRoute(id) != null) {
            context.getRouteController().stopRoute(id);
            context.removeRoute(id);
        }
    }

    /** Routes added under the supervising controller are started by it (with its back-off), as at start-up. */
    private void startAdded() {
        RouteController controller = context.getRouteController();
        if (controller instanceof SupervisingRouteController supervising) {
            supervising.startRoutes(true);
        }
    }

    /** Waits until the route has no exchange in flight (its current run has finished), logging while it waits. */
    private void awaitIdle(String routeId) throws InterruptedException {
        Instant start = clock.instant();
        Instant nextLog = start.plus(settings.waitLog());
        while (context.getInflightRepository().size(routeId) > 0) {
            if (!isRunAllowed()) {
                throw new IllegalStateException("the service is stopping");
            }
            if (clock.instant().isAfter(nextLog)) {
                LOG.info("Routes reload: waiting for route {} to finish its current run (for {} s) before replacing it",
                        routeId, Duration.between(start, clock.instant()).toSeconds());
                nextLog = clock.instant().plus(settings.waitLog());
            }
            TimeUnit.MILLISECONDS.sleep(Math.min(settings.poll().toMillis(), 500));
        }
    }

    private String name(String displayed) {
        return Path.of(displayed).getFileName().toString();
    }

    private String display(String name) {
        return RoutesFiles.display(settings.dir(), settings.dir().resolve(name));
    }

    private Map<String, String> displayed(Map<String, String> byName) {
        Map<String, String> out = new TreeMap<>();
        byName.forEach((k, v) -> out.put(display(k), v));
        return out;
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
