package io.syncwarden.heal;

import static io.syncwarden.sync.SyncRuns.utc;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.syncwarden.store.ConnectionGuard;
import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.camel.CamelContext;
import org.apache.camel.model.CircuitBreakerDefinition;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.ProcessorDefinitionHelper;
import org.apache.camel.model.RouteDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The circuit breakers: one per source, around its upstream work (the {@code circuitBreaker} EIP in each template,
 * with node id {@code <source>-breaker} (Camel prefixes node ids of templated routes, so a breaker is found through its
 * route, and labelled by its source id in metrics); Camel takes them from the {@link CircuitBreakerRegistry} this service binds), and
 * one for the target database ({@value #TARGET}, guarding every borrowed connection). Sized for infrequent syncs:
 * count-based, open after {@code failures} failed calls in a row, half-open after a cool-down, one trial call.
 *
 * <p>Every state change is logged, written to the source's {@code source_health} row ({@code circuit_state},
 * {@code circuit_since}) and shown as the gauge {@code syncwarden_circuit_state{breaker}} (0 closed, 1 half-open,
 * 2 open); the health checks read the state from the registry.
 */
public class Breakers {
    private static final Logger LOG = LoggerFactory.getLogger(Breakers.class);
    public static final String TARGET = "target-database";
    public static final String SUFFIX = "-breaker";

    private final CircuitBreakerRegistry registry;
    private final Supplier<MeterRegistry> meters;
    private final Set<String> gauged = ConcurrentHashMap.newKeySet();
    private final Map<String, Instant> since = new ConcurrentHashMap<>();
    private volatile TargetDatabase db;

    public Breakers(CircuitBreakerRegistry registry, Supplier<MeterRegistry> meters) {
        this.registry = registry;
        this.meters = meters;
        registry.getAllCircuitBreakers().forEach(this::watch);
        registry.getEventPublisher().onEntryAdded(e -> watch(e.getAddedEntry()));
        registry.getEventPublisher().onEntryReplaced(e -> watch(e.getNewEntry()));
    }

    /** The registry Camel's circuit breakers are taken from: count-based, sized for syncs that run a few times an hour. */
    public static CircuitBreakerRegistry registry(int failures, Duration openFor) {
        return CircuitBreakerRegistry.of(config(failures, openFor));
    }

    static CircuitBreakerConfig config(int failures, Duration openFor) {
        int n = Math.max(1, failures);
        return CircuitBreakerConfig.custom()
                .slidingWindowType(CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
                .slidingWindowSize(n)
                .minimumNumberOfCalls(n)
                .failureRateThreshold(100)
                // a long sync is not a failing one
                .slowCallDurationThreshold(Duration.ofDays(1))
                .slowCallRateThreshold(100)
                .waitDurationInOpenState(openFor)
                .automaticTransitionFromOpenToHalfOpenEnabled(true)
                .permittedNumberOfCallsInHalfOpenState(1)
                .writableStackTraceEnabled(false)
                .build();
    }

    public CircuitBreakerRegistry registry() {
        return registry;
    }

    /** Where state changes of source breakers are written (source_health). */
    public void database(TargetDatabase db) {
        this.db = db;
    }

    /** Where the sources' breakers are found: each source route's {@code circuitBreaker} node. */
    public void context(CamelContext context) {
        this.context = context;
    }

    private volatile CamelContext context;

    /**
     * The name of a source's breaker: its route's circuitBreaker node id ({@code <source>-breaker} in the template; Camel
     * puts a prefix of its own before node ids of templated routes), or null when the route has none.
     */
    public String nameOf(String sourceId) {
        CamelContext c = context;
        if (c == null) {
            return null;
        }
        RouteDefinition route = ((ModelCamelContext) c).getRouteDefinition(sourceId);
        if (route == null) {
            return null;
        }
        String prefix = route.getNodePrefixId() == null ? "" : route.getNodePrefixId();
        return ProcessorDefinitionHelper.filterTypeInOutputs(route.getOutputs(), CircuitBreakerDefinition.class).stream()
                .map(CircuitBreakerDefinition::getId).filter(java.util.Objects::nonNull).map(id -> prefix + id)
                .findFirst().orElse(null);
    }

    /** The source whose route holds the breaker of this name, or null (the target's, or one not built by a source). */
    String sourceOf(String breakerName) {
        CamelContext c = context;
        if (c == null || !breakerName.endsWith(SUFFIX)) {
            return null;
        }
        for (RouteDefinition route : ((ModelCamelContext) c).getRouteDefinitions()) {
            if (breakerName.equals(nameOf(route.getRouteId()))) {
                return route.getRouteId();
            }
        }
        return null;
    }

    /** The target database's breaker, or null before the first connection. */
    public CircuitBreaker target() {
        return registry.find(TARGET).orElse(null);
    }

    /** The breaker of a source, or null when its route has not built one (yet). */
    public CircuitBreaker ofSource(String sourceId) {
        String name = nameOf(sourceId);
        return name == null ? null : registry.find(name).orElse(null);
    }

    /**
     * The source's upstream answered, if only to say "wait" (a rate limit): recorded as a successful call of its closed
     * breaker, beside the failed one the rate-limited attempt counts as, so rate limits alone never open it (the source
     * waits for the reset as {@code rate_limited}, not as a failure). A half-open or open breaker is left to its trial.
     */
    public void answered(String sourceId) {
        CircuitBreaker breaker = ofSource(sourceId);
        if (breaker != null && breaker.getState() == CircuitBreaker.State.CLOSED) {
            breaker.onSuccess(0, TimeUnit.MILLISECONDS);
        }
    }

    /** When a breaker last changed state (this node's view), or null. */
    public Instant since(String name) {
        return since.get(name);
    }

    /** The target database's breaker as the guard of its connections. */
    public ConnectionGuard targetGuard(int failures, Duration openFor) {
        CircuitBreaker breaker = registry.circuitBreaker(TARGET, config(failures, openFor));
        return new ConnectionGuard() {
            @Override
            public void before() throws SQLException {
                if (!breaker.tryAcquirePermission()) {
                    throw new SQLException("the target database's circuit breaker is open after " + failures
                            + " failed connection attempt(s): not tried again before its cool-down ends "
                            + "(syncwarden.db.breaker.open-ms)", "08001",
                            CallNotPermittedException.createCallNotPermittedException(breaker));
                }
            }

            @Override
            public void answered() {
                breaker.onSuccess(0, TimeUnit.MILLISECONDS);
            }

            @Override
            public void lost(SQLException e) {
                breaker.onError(0, TimeUnit.MILLISECONDS, e);
            }

            @Override
            public void released() {
                breaker.releasePermission();
            }
        };
    }

    /** The state as a word: closed, open, half_open (and the others resilience4j has). */
    public static String state(CircuitBreaker breaker) {
        return breaker.getState().name().toLowerCase(Locale.ROOT);
    }

    private void watch(CircuitBreaker breaker) {
        gauge(breaker);
        // a breaker starts closed with this process: the stored state says so (it may say open from before a restart)
        record(breaker.getName(), state(breaker), Instant.now());
        breaker.getEventPublisher().onStateTransition(e -> {
            Instant at = Instant.now();
            String to = e.getStateTransition().getToState().name().toLowerCase(Locale.ROOT);
            since.put(breaker.getName(), at);
            gauge(breaker);
            if ("open".equals(to)) {
                LOG.warn("Circuit breaker of {} OPEN after {} failed call(s): calls are refused until it half-opens",
                        label(breaker.getName()), breaker.getMetrics().getNumberOfFailedCalls());
            } else {
                LOG.info("Circuit breaker of {} {}", label(breaker.getName()), to.replace('_', '-'));
            }
            record(breaker.getName(), to, at);
        });
    }

    private void gauge(CircuitBreaker breaker) {
        MeterRegistry r = meters.get();
        if (r != null && gauged.add(breaker.getName())) {
            Gauge.builder("syncwarden.circuit.state", breaker, b -> switch (b.getState()) {
                case CLOSED -> 0;
                case HALF_OPEN -> 1;
                default -> 2;
            }).description("Circuit breaker state: 0 closed, 1 half-open, 2 open").tag("breaker", label(breaker.getName())).register(r);
        }
    }

    /** A stable label: the source id for a source's breaker (Camel's node prefix changes between starts), else the name. */
    String label(String name) {
        String source = sourceOf(name);
        return source != null ? source : name;
    }

    private void record(String name, String state, Instant at) {
        TargetDatabase target = db;
        String source = target == null ? null : sourceOf(name);
        if (source == null) {
            return;
        }
        try (Connection c = target.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE source_health SET circuit_state = ?, circuit_since = ? WHERE source_id = ?")) {
            c.setAutoCommit(true);
            ps.setString(1, state);
            ps.setObject(2, utc(at));
            ps.setString(3, source);
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.debug("Cannot record the circuit state of {}: {}", source, e.getMessage());
        }
    }
}
