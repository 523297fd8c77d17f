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
    private final java.util.function.Function<String, AutoCloseable> hold;
    private final java.util.function.Predicate<String> running;
    private final Clock clock;
    /** serialises looks at the folder and changes (never held by {@link #report}) */
    private final Object changing = new Object();
    /** file name -> text now running */
    private final Map<String, String> applied = new TreeMap<>();
    /** file name -> content seen changing, with the time it was first seen so */
    private final Map<String, Seen> seen = new HashMap<>();
    /** file name -> the content refused (not tried again until it or another file changes), with its problems */
    private final Map<String, Refusal> refused = new java.util.concurrent.ConcurrentSkipListMap<>();
    private final Deque<Event> events = new ArrayDeque<>();
    /** what a change waits for now (a route's current run), for the report */
    private volatile String waiting;
    private ScheduledExecutorService executor;
    private RoutesValidator validator;
    /** the problems of the running set, validated once per running set */
    private Set<String> knownProblems;

    private record Seen(String hash, Instant since) {
    }

    /** {@code hash} null: to be checked again (another file changed since). */
    private record Refusal(String hash, Event event) {
    }

    /**
     * @param hold    keeps new runs of a source from starting while its route is swapped (returns the handle that lets
     *                them start again)
     * @param running whether a run of the source is active on this node outside its route's exchanges (a backfill, a
     *                rollback, a replay use the source's bean): the swap waits for it too
     */
    public RoutesReloader(CamelContext context, Settings settings, Supplier<RoutesValidator> validators,
                          Runnable afterChange, java.util.function.Function<String, AutoCloseable> hold,
                          java.util.function.Predicate<String> running, Clock clock) {
        this.context = context;
        this.settings = settings;
        this.validators = validators;
        this.afterChange = afterChange;
        this.hold = hold;
        this.running = running;
        this.clock = clock;
    }

    private boolean busy(String routeId) {
        return context.getInflightRepository().size(routeId) > 0 || running.test(routeId);
    }

    /** Takes the folder as it is now as what runs, and starts looking at it. */
    @Override
    protected void doStart() throws Exception {
        synchronized (changing) {
            knownProblems = null;
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
    protected void doStop() throws InterruptedException {
        if (executor != null) {
            // a change waiting for a run gives up (nothing of it was swapped yet, or it is put back)
            context.getExecutorServiceManager().shutdownNow(executor);
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.warn("Routes reload: a change was still being applied when the service stopped");
            }
            executor = null;
        }
    }

    /** The latest events first, the edits refused now (file to its problems), and what a change waits for. */
    public Map<String, Object> report() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("enabled", true);
        out.put("dir", settings.dir().toString());
        out.put("waiting", waiting);
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
        List<Event> latest = events();
        java.util.Collections.reverse(latest);
        latest.forEach(e -> {
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

    public List<Event> events() {
        synchronized (events) {
            return new ArrayList<>(events);
        }
    }

    private void tickSafely() {
        try {
            tick();
        } catch (java.io.IOException e) {
            LOG.warn("Routes reload: cannot read {}: {}", settings.dir(), e.getMessage());
        } catch (Throwable e) {
            // anything escaping would end the periodic look for good (a scheduled task that throws is not run again)
            LOG.error("Routes reload: a look at {} failed; it is tried again at the next one", settings.dir(), e);
        }
    }

    /** One look at the folder: acts on each file whose content changed and has stayed so for {@code quiet}. */
    void tick() throws IOException {
        synchronized (changing) {
            look();
        }
    }

    private void look() throws IOException {
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
            if (refusal != null && hash.equals(refusal.hash())) {
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
        if (knownProblems == null) {
            // what the running set itself has (none, normally): only problems a change brings count against it
            knownProblems = validator.validate(before).stream().map(Object::toString).collect(Collectors.toSet());
        }
        Set<String> known = knownProblems;
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
            knownProblems = null;
            refused.remove(name);
            // an edit refused because of this file's old content (a template it used, an id it held) is checked again
            refused.replaceAll((other, r) -> "refused".equals(r.event().outcome()) ? new Refusal(null, r.event()) : r);
            record(new Event(clock.instant(), file, text == null ? "removed" : "applied", touched, List.of()));
        } catch (Exception e) {
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            refuse(name, hash, "failed", List.of(file + ": " + reason));
            LOG.error("Routes reload: applying {} failed ({}); the routes it touched were put back as they were", file, reason);
        } finally {
            waiting = null;
            afterChange.run();
        }
    }

    private void refuse(String name, String hash, String outcome, List<String> problems) {
        Event event = new Event(clock.instant(), display(name), outcome, List.of(), problems);
        refused.put(name, new Refusal(hash, event));
        record(event);
    }

    private void record(Event e) {
        synchronized (events) {
            events.addLast(e);
            while (events.size() > KEEP_EVENTS) {
                events.removeFirst();
            }
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
        Map<String, RoutesValidator.Item> oldTemplateItems = byId(oldItems, Set.of("routeTemplate"));
        Map<String, RoutesValidator.Item> newTemplateItems = byId(newItems, Set.of("routeTemplate"));
        boolean configurationsChanged = !byId(oldItems, Set.of("routeConfiguration")).equals(
                byId(newItems, Set.of("routeConfiguration")));
        Set<String> changedTemplates = new LinkedHashSet<>();
        Set<String> templateIds = new LinkedHashSet<>(oldTemplateItems.keySet());
        templateIds.addAll(newTemplateItems.keySet());
        for (String id : templateIds) {
            if (!Objects.equals(oldTemplateItems.get(id), newTemplateItems.get(id))) {
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
        // everything is loaded before anything is swapped: the new definitions, and the running ones to put back
        Map<String, Loaded> loaded = new HashMap<>();
        Map<String, Loaded> previous = new HashMap<>();
        for (String file : recreate.keySet()) {
            loaded.put(file, load(file, file.equals(name) ? text : applied.get(file)));
        }
        if (text != null && !loaded.containsKey(name)) {
            loaded.put(name, load(name, text));
        }
        Loaded mine = loaded.get(name);
        Set<String> previousFiles = new LinkedHashSet<>(recreate.keySet());
        previousFiles.add(name);
        for (String file : previousFiles) {
            if (applied.containsKey(file)) {
                previous.put(file, load(file, applied.get(file)));
            }
        }
        Map<String, RouteTemplateDefinition> oldTemplates = new LinkedHashMap<>();
        changedTemplates.forEach(id -> oldTemplates.put(id, model.getRouteTemplateDefinition(id)));
        Set<String> configurationIds = new LinkedHashSet<>(byId(oldItems, Set.of("routeConfiguration")).keySet());
        configurationIds.addAll(byId(newItems, Set.of("routeConfiguration")).keySet());
        Map<String, org.apache.camel.model.RouteConfigurationDefinition> oldConfigurations = new LinkedHashMap<>();
        if (configurationsChanged) {
            configurationIds.forEach(id -> oldConfigurations.put(id, model.getRouteConfigurationDefinition(id)));
        }

        List<String[]> touched = new ArrayList<>(); // file, route id
        try {
            // error handling first (routes created from now on take it), then templates, then the routes one by one
            if (configurationsChanged) {
                replaceConfigurations(model, configurationIds, mine);
            }
            for (String id : changedTemplates) {
                replaceTemplate(model, id, mine == null ? null : mine.templates().get(id));
            }
            for (String id : remove) {
                swap(model, name, id, null, touched);
            }
            for (Map.Entry<String, Set<String>> e : recreate.entrySet()) {
                for (String id : e.getValue()) {
                    swap(model, e.getKey(), id, loaded.get(e.getKey()), touched);
                }
            }
        } catch (Exception e) {
            if (isRunAllowed()) {
                List<String> lost = restore(model, previous, touched, oldTemplates, configurationsChanged ? oldConfigurations : null);
                if (!lost.isEmpty()) {
                    throw new IllegalStateException(e.getMessage() + "; routes NOT put back (restart to restore them): " + lost, e);
                }
            }
            throw e;
        }
        List<String> ids = touched.stream().map(t -> t[1]).toList();
        LOG.info("Routes reload: {} {}; routes {}", display(name), text == null ? "deleted" : "applied",
                ids.isEmpty() ? "unchanged" : ids);
        return ids;
    }

    /**
     * Replaces (or, with {@code with} null, removes) one route once it is idle: new runs of it are held off from the
     * moment the wait starts until the new route is in place.
     */
    private void swap(Model model, String file, String id, Loaded with, List<String[]> touched) throws Exception {
        try (AutoCloseable held = hold.apply(id)) {
            awaitIdle(display(file), id);
            if (!isRunAllowed()) {
                throw new IllegalStateException("the service is stopping");
            }
            boolean stoppedByOperator = stoppedByOperator(id);
            touched.add(new String[] {file, id});
            removeRoute(model, id);
            if (with != null) {
                addRoute(model, with, id);
                if (stoppedByOperator) {
                    LOG.info("Routes reload: route {} was stopped (its file would start it): replaced, left stopped", id);
                } else {
                    start(id);
                }
            }
        }
    }

    /** The route exists, its file wants it started, and it is stopped: someone stopped it (Hawtio, an operator). */
    private boolean stoppedByOperator(String id) {
        org.apache.camel.ServiceStatus status = context.getRouteController().getRouteStatus(id);
        return context.getRoute(id) != null && status != null && status.isStopped() && !Boolean.FALSE.equals(autoStartup(id));
    }

    /**
     * A route added to a running context under the supervising controller waits to be started; only this one is
     * (a route an operator stopped elsewhere stays stopped). A route whose autoStartup is false stays stopped.
     */
    private void start(String id) throws Exception {
        Boolean auto = autoStartup(id);
        org.apache.camel.ServiceStatus status = context.getRouteController().getRouteStatus(id);
        if (context.getRoute(id) != null && !Boolean.FALSE.equals(auto) && (status == null || !status.isStarted())) {
            context.getRouteController().startRoute(id);
        }
    }

    /**
     * What the route's definition says of its start (the supervising controller creates every route with autoStartup
     * off, as it starts them itself), with its template's values; null when it says nothing.
     */
    private Boolean autoStartup(String id) {
        RouteDefinition def = context.getCamelContextExtension().getContextPlugin(Model.class).getRouteDefinition(id);
        String text = def == null ? null : def.getAutoStartup();
        if (text != null && def.getTemplateParameters() != null) {
            for (Map.Entry<String, Object> p : def.getTemplateParameters().entrySet()) {
                text = text.replace("{{" + p.getKey() + "}}", String.valueOf(p.getValue()));
            }
        }
        try {
            return text == null ? Boolean.TRUE : org.apache.camel.support.CamelContextHelper.parseBoolean(context, text);
        } catch (RuntimeException e) {
            return Boolean.TRUE;
        }
    }

    private void replaceConfigurations(Model model, Set<String> ids, Loaded with) throws Exception {
        for (String id : ids) {
            if (model.getRouteConfigurationDefinition(id) != null) {
                model.removeRouteConfiguration(model.getRouteConfigurationDefinition(id));
            }
        }
        if (with != null && with.configurations() != null) {
            with.configurations().updateRouteConfigurationsToCamelContext(context);
        }
    }

    private static void replaceTemplate(Model model, String id, RouteTemplateDefinition with) throws Exception {
        RouteTemplateDefinition existing = model.getRouteTemplateDefinition(id);
        if (existing != null) {
            model.removeRouteTemplateDefinition(existing);
        }
        if (with != null) {
            model.addRouteTemplateDefinition(with);
        }
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

    /**
     * Puts back what this change swapped: route configurations and templates as they were, and each route it touched
     * from its file's running text (best effort; what fails is logged).
     */
    private List<String> restore(Model model, Map<String, Loaded> previous, List<String[]> touched,
                                 Map<String, RouteTemplateDefinition> oldTemplates,
                                 Map<String, org.apache.camel.model.RouteConfigurationDefinition> oldConfigurations) {
        List<String> lost = new ArrayList<>();
        try {
            if (oldConfigurations != null) {
                for (Map.Entry<String, org.apache.camel.model.RouteConfigurationDefinition> c : oldConfigurations.entrySet()) {
                    if (model.getRouteConfigurationDefinition(c.getKey()) != null) {
                        model.removeRouteConfiguration(model.getRouteConfigurationDefinition(c.getKey()));
                    }
                    if (c.getValue() != null) {
                        model.addRouteConfiguration(c.getValue());
                    }
                }
            }
            for (Map.Entry<String, RouteTemplateDefinition> t : oldTemplates.entrySet()) {
                replaceTemplate(model, t.getKey(), t.getValue());
            }
        } catch (Exception e) {
            LOG.error("Routes reload: error handling or templates could not be put back: {}", e.getMessage());
        }
        for (String[] t : touched) {
            // the route swapped in may have started a run meanwhile: held off and waited for, as in a swap
            try (AutoCloseable held = hold.apply(t[1])) {
                awaitIdle(display(t[0]), t[1]);
                boolean stoppedByOperator = context.getRoute(t[1]) != null && stoppedByOperator(t[1]);
                removeRoute(model, t[1]);
                Loaded before = previous.get(t[0]);
                if (before != null && (before.routes().containsKey(t[1]) || before.templated().containsKey(t[1]))) {
                    addRoute(model, before, t[1]);
                    if (!stoppedByOperator) {
                        start(t[1]);
                    }
                }
            } catch (Exception e) {
                lost.add(t[1]);
                LOG.error("Routes reload: route {} could not be put back: {}", t[1], e.getMessage());
            }
        }
        return lost;
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

    /** Waits until the route has no exchange in flight (its current run has finished), logging while it waits. */
    private void awaitIdle(String file, String routeId) throws InterruptedException {
        Instant start = clock.instant();
        Instant nextLog = start.plus(settings.waitLog());
        if (busy(routeId)) {
            waiting = file + ": waiting for route " + routeId + " to finish its current run (since " + start + ")";
        }
        while (busy(routeId)) {
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
        waiting = null;
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
