package io.syncwarden;

import io.micrometer.core.instrument.MeterRegistry;
import io.syncwarden.demo.DemoReplica;
import io.syncwarden.heal.AttemptFailed;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.syncwarden.heal.Breakers;
import io.syncwarden.heal.Incidents;
import io.syncwarden.heal.RecoveryProbe;
import io.syncwarden.heal.RetryQueue;
import io.syncwarden.heal.SourcePause;
import io.syncwarden.heal.UpstreamWait;
import io.syncwarden.health.TargetDatabaseHealthCheck;
import io.syncwarden.source.SheetsClientFactory;
import io.syncwarden.source.SourceLookup;
import io.syncwarden.source.SourcePools;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.sync.SourceRegistry;
import io.syncwarden.sync.SyncMetrics;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncSettings;
import io.syncwarden.sync.SyncTrigger;
import java.net.InetAddress;
import java.time.Duration;
import org.apache.camel.BindToRegistry;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.Configuration;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.support.EventNotifierSupport;
import org.apache.camel.support.service.ServiceSupport;

/** Binds the shared beans the routes call. Each property is documented in application.properties and README.md. */
@Configuration
public class SyncwardenConfiguration implements CamelConfiguration, org.apache.camel.CamelContextAware {

    private String dbUrl;
    private String dbUser;
    private String dbPassword;
    private int poolSize;
    private String dbSchema;
    private String dbDataSchema;
    private long dbConnectTimeoutMs;
    private long dbLockTimeoutMs;
    private long dbStatementTimeoutMs;
    private long dbSocketTimeoutMs;
    private String nodeId;
    private long leaseMillis;
    private int unhealthyAfter;
    private double longRunFactor;
    private long longRunMinMs;
    private long shutdownGraceMs;
    private long pendingRetryMs;
    private long progressLogMs;
    private boolean demoEnabled;
    private String demoUrl;
    private int demoRows;

    private long rateLimitWaitMs;
    private long maxRateLimitWaitMs;
    private long maxRateLimitHoldMs;

    private int retryBatch;
    private long retryInitialDelayMs;
    private double retryMultiplier;
    private long retryMaxDelayMs;
    private int retryMaxAttempts;
    private int retryKeepDays;
    private long retryBusyDelayMs;
    private long retryClaimTimeoutMs;
    private double guardMaxDrop;
    private double watchdogErrorRate;
    private int watchdogErrorRateMinRuns;
    private double anomalyThreshold;
    private int anomalyWindow;
    private int anomalyMinRuns;
    private double anomalyMinSpread;
    private String slackWebhookUrl;
    private String pagerDutyUrl;
    private String pagerDutyRoutingKey;
    private long alertsCooldownMinutes;
    private long alertsRepeatMinutes;
    private int alertsMaxAttempts;
    private long alertsRetryDelayMs;
    private String apiTokens;
    private boolean apiHealthPublic;
    private String apiPublicUrl;
    private String qstashCurrentKey;
    private String qstashNextKey;
    private String triggerHmacSecret;
    private int retentionMonths;
    private int retentionBatch;
    private int snapshotsKeep;
    private int pauseAfterNonRecoverable;

    private int breakerFailures;
    private long breakerOpenSeconds;
    private int dbBreakerFailures;
    private long dbBreakerOpenMs;

    private int upstreamConnectTimeoutMs;
    private int upstreamReadTimeoutMs;
    private long sourceConnectTimeoutMs;
    private long sourceSocketTimeoutMs;

    private int dbH2CacheKb;

    private String googleRootUrl;
    private String googleTokenUrl;

    private String jolokiaUser;
    private String jolokiaPassword;
    private String jolokiaRole;
    private boolean jolokiaWritesEnabled;
    private boolean reloadEnabled;
    private String reloadDir;
    private long reloadPollMs;
    private long reloadQuietMs;


    private CamelContext camelContext;

    /**
     * Camel hands the context over before it binds this class's beans: every setting is read and checked here
     * (io.syncwarden.Config), so a wrong value stops the start with a line per problem before anything is built.
     */
    @Override
    public void setCamelContext(CamelContext context) {
        this.camelContext = context;
        Config.Values v;
        try {
            org.apache.camel.spi.PropertiesComponent properties = context.getPropertiesComponent();
            java.util.Set<String> present = new java.util.TreeSet<>();
            properties.loadPropertiesAsMap(k -> k.startsWith("syncwarden.")).keySet().forEach(k -> present.add(String.valueOf(k)));
            System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith("syncwarden.")).forEach(present::add);
            // a key that is set must resolve: {{env:NAME}} without a default and NAME unset is an error, not the default
            v = Config.load(k -> {
                if (!present.contains(k)) {
                    return properties.resolveProperty(k);
                }
                try {
                    return java.util.Optional.ofNullable(context.resolvePropertyPlaceholders("{{" + k + "}}"));
                } catch (RuntimeException e) {
                    // Camel's message quotes the text it parsed: for a secret only the key is named
                    boolean secret = Config.key(k).map(d -> d.type() == Config.Type.SECRET).orElse(true);
                    String why = secret || e.getMessage() == null ? "" : " (" + e.getMessage().replaceAll("\\s+", " ") + ")";
                    throw new IllegalArgumentException(k + " cannot be resolved" + why + ": set the variable it reads, give "
                            + "the placeholder a default ({{env:NAME:default}}), or write a literal {{ as \\{{");
                }
            }, present);
        } catch (IllegalArgumentException e) {
            org.slf4j.LoggerFactory.getLogger(SyncwardenConfiguration.class).error("{}", e.getMessage());
            throw e;
        }
        dbUrl = v.text("syncwarden.db.url");
        dbUser = v.text("syncwarden.db.username");
        dbPassword = v.text("syncwarden.db.password");
        poolSize = v.integer("syncwarden.db.pool-size");
        dbSchema = v.text("syncwarden.db.schema");
        dbDataSchema = v.text("syncwarden.db.data-schema");
        dbConnectTimeoutMs = v.longValue("syncwarden.db.connect-timeout-ms");
        dbLockTimeoutMs = v.longValue("syncwarden.db.lock-timeout-ms");
        dbStatementTimeoutMs = v.longValue("syncwarden.db.statement-timeout-ms");
        dbSocketTimeoutMs = v.longValue("syncwarden.db.socket-timeout-ms");
        nodeId = v.text("syncwarden.node-id");
        leaseMillis = v.longValue("syncwarden.lock.lease-ms");
        unhealthyAfter = v.integer("syncwarden.health.unhealthy-after-failures");
        longRunFactor = v.decimal("syncwarden.health.long-run-factor");
        longRunMinMs = v.longValue("syncwarden.health.long-run-min-ms");
        shutdownGraceMs = v.longValue("syncwarden.shutdown.grace-ms");
        pendingRetryMs = v.longValue("syncwarden.runs.pending-retry-ms");
        progressLogMs = v.longValue("syncwarden.runs.progress-log-ms");
        demoEnabled = v.bool("syncwarden.demo.enabled");
        demoUrl = v.text("syncwarden.demo.url");
        demoRows = v.integer("syncwarden.demo.rows");
        rateLimitWaitMs = v.longValue("syncwarden.retry.rate-limit-wait-ms");
        maxRateLimitWaitMs = v.longValue("syncwarden.retry.max-rate-limit-wait-ms");
        maxRateLimitHoldMs = v.longValue("syncwarden.retry.max-rate-limit-hold-ms");
        retryBatch = v.integer("syncwarden.retry-queue.batch");
        retryInitialDelayMs = v.longValue("syncwarden.retry-queue.initial-delay-ms");
        retryMultiplier = v.decimal("syncwarden.retry-queue.backoff-multiplier");
        retryMaxDelayMs = v.longValue("syncwarden.retry-queue.max-delay-ms");
        retryMaxAttempts = v.integer("syncwarden.retry-queue.max-attempts");
        retryKeepDays = v.integer("syncwarden.retry-queue.keep-days");
        retryBusyDelayMs = v.longValue("syncwarden.retry-queue.busy-delay-ms");
        retryClaimTimeoutMs = v.longValue("syncwarden.retry-queue.claim-timeout-ms");
        guardMaxDrop = v.decimal("syncwarden.guard.max-drop");
        watchdogErrorRate = v.decimal("syncwarden.watchdog.error-rate");
        watchdogErrorRateMinRuns = v.integer("syncwarden.watchdog.error-rate-min-runs");
        anomalyThreshold = v.decimal("syncwarden.anomaly.threshold");
        anomalyWindow = v.integer("syncwarden.anomaly.window");
        anomalyMinRuns = v.integer("syncwarden.anomaly.min-runs");
        anomalyMinSpread = v.decimal("syncwarden.anomaly.min-spread");
        slackWebhookUrl = v.text("syncwarden.alerts.slack.webhook-url");
        pagerDutyUrl = v.text("syncwarden.alerts.pagerduty.url");
        pagerDutyRoutingKey = v.text("syncwarden.alerts.pagerduty.routing-key");
        alertsCooldownMinutes = v.longValue("syncwarden.alerts.cooldown-minutes");
        alertsRepeatMinutes = v.longValue("syncwarden.alerts.repeat-minutes");
        alertsMaxAttempts = v.integer("syncwarden.alerts.max-attempts");
        alertsRetryDelayMs = v.longValue("syncwarden.alerts.retry-delay-ms");
        apiTokens = v.text("syncwarden.api.tokens");
        apiHealthPublic = v.bool("syncwarden.api.health-public");
        apiPublicUrl = v.text("syncwarden.api.public-url");
        qstashCurrentKey = v.text("syncwarden.triggers.qstash.current-key");
        qstashNextKey = v.text("syncwarden.triggers.qstash.next-key");
        triggerHmacSecret = v.text("syncwarden.triggers.hmac-secret");
        retentionMonths = v.integer("syncwarden.retention.months");
        retentionBatch = v.integer("syncwarden.retention.batch");
        snapshotsKeep = v.integer("syncwarden.snapshots.keep");
        pauseAfterNonRecoverable = v.integer("syncwarden.pause.after-non-recoverable");
        breakerFailures = v.integer("syncwarden.breaker.failures");
        breakerOpenSeconds = v.longValue("syncwarden.breaker.open-s");
        dbBreakerFailures = v.integer("syncwarden.db.breaker.failures");
        dbBreakerOpenMs = v.longValue("syncwarden.db.breaker.open-ms");
        upstreamConnectTimeoutMs = v.integer("syncwarden.upstream.connect-timeout-ms");
        upstreamReadTimeoutMs = v.integer("syncwarden.upstream.read-timeout-ms");
        sourceConnectTimeoutMs = v.longValue("syncwarden.source.connect-timeout-ms");
        sourceSocketTimeoutMs = v.longValue("syncwarden.source.socket-timeout-ms");
        dbH2CacheKb = v.integer("syncwarden.db.h2-cache-kb");
        googleRootUrl = v.text("syncwarden.google.root-url");
        googleTokenUrl = v.text("syncwarden.google.token-url");
        jolokiaUser = v.text("syncwarden.jolokia.user");
        jolokiaPassword = v.text("syncwarden.jolokia.password");
        jolokiaRole = v.text("syncwarden.jolokia.role");
        jolokiaWritesEnabled = v.bool("syncwarden.jolokia.writes-enabled");
        reloadEnabled = v.bool("syncwarden.reload.enabled");
        reloadDir = v.text("syncwarden.reload.dir");
        reloadPollMs = v.longValue("syncwarden.reload.poll-ms");
        reloadQuietMs = v.longValue("syncwarden.reload.quiet-ms");
    }

    @Override
    public CamelContext getCamelContext() {
        return camelContext;
    }

    private TargetDatabase database;
    private SyncRuns runs;
    private Breakers breakers;

    /** Camel's circuit breakers (the EIP in each template) take their breakers from this registry. */
    @BindToRegistry("circuitBreakerRegistry")
    public synchronized CircuitBreakerRegistry circuitBreakerRegistry(CamelContext context) {
        return breakers(context).registry();
    }

    private synchronized Breakers breakers(CamelContext context) {
        if (breakers == null) {
            breakers = new Breakers(Breakers.registry(breakerFailures, Duration.ofSeconds(breakerOpenSeconds)),
                    () -> context.getRegistry().findSingleByType(MeterRegistry.class));
        }
        return breakers;
    }

    @BindToRegistry("breakers")
    public Breakers breakersBean(CamelContext context) {
        return breakers(context);
    }

    @BindToRegistry("targetDatabase")
    public synchronized TargetDatabase targetDatabase() {
        if (database == null) {
            database = new TargetDatabase(new TargetDatabase.Options(dbUrl, dbUser, dbPassword, poolSize, dbSchema, dbDataSchema,
                    dbConnectTimeoutMs, dbLockTimeoutMs, dbStatementTimeoutMs, dbSocketTimeoutMs, dbH2CacheKb));
        }
        return database;
    }

    @BindToRegistry("syncRuns")
    public synchronized SyncRuns syncRuns(CamelContext context) throws Exception {
        if (runs == null) {
            // auto: host, pid and a random suffix, unique per process even where hosts and pids repeat (containers on host
            // networking). A fixed node id must be unique per instance; a restarted instance with the same id takes its
            // sources back at once after a crash (it closes its left-over runs), an auto id waits for their leases.
            String node = nodeId == null || nodeId.isBlank() || "auto".equals(nodeId)
                    ? InetAddress.getLocalHost().getHostName() + "-" + ProcessHandle.current().pid() + "-"
                    + java.util.UUID.randomUUID().toString().substring(0, 4) : nodeId;
            SyncMetrics metrics = new SyncMetrics(() -> context.getRegistry().findSingleByType(MeterRegistry.class));
            runs = new SyncRuns(targetDatabase(), new SyncSettings(node, leaseMillis, unhealthyAfter, shutdownGraceMs,
                    pendingRetryMs, longRunFactor, progressLogMs), metrics);
        }
        return runs;
    }

    private SourceRegistry sourceRegistry;

    @BindToRegistry("sourceRegistry")
    public synchronized SourceRegistry sourceRegistry(CamelContext context) throws Exception {
        if (sourceRegistry == null) {
            SyncRuns lifecycle = syncRuns(context);
            sourceRegistry = new SourceRegistry(lifecycle, id -> new io.syncwarden.health.SourceHealthCheck(id, lifecycle, longRunMinMs));
        }
        return sourceRegistry;
    }

    private io.syncwarden.ops.RoutesReloader reloader;

    /** The live reload of the routes folder (started only when syncwarden.reload.enabled). */
    @BindToRegistry("routesReloader")
    public synchronized io.syncwarden.ops.RoutesReloader routesReloader(CamelContext context) throws Exception {
        if (reloader == null) {
            SourceRegistry registry = sourceRegistry(context);
            reloader = new io.syncwarden.ops.RoutesReloader(context, new io.syncwarden.ops.RoutesReloader.Settings(
                    java.nio.file.Path.of(reloadDir), Duration.ofMillis(reloadPollMs), Duration.ofMillis(reloadQuietMs),
                    Duration.ofSeconds(30)), () -> io.syncwarden.ops.RoutesFiles.validator(context),
                    () -> registry.refresh(context), syncRuns(context)::hold, id -> runs.activeRun(id) != null,
                    java.time.Clock.systemUTC());
        }
        return reloader;
    }

    @BindToRegistry("syncTrigger")
    public SyncTrigger syncTrigger(CamelContext context) {
        return new SyncTrigger(context);
    }

    @BindToRegistry("upstreamWait")
    public UpstreamWait upstreamWait() {
        return new UpstreamWait(rateLimitWaitMs, maxRateLimitWaitMs, maxRateLimitHoldMs);
    }

    @BindToRegistry("attemptFailed")
    public AttemptFailed attemptFailed(CamelContext context) throws Exception {
        return new AttemptFailed(syncRuns(context), upstreamWait());
    }

    private Incidents incidents;

    @BindToRegistry("incidents")
    public synchronized Incidents incidents() {
        if (incidents == null) {
            incidents = new Incidents(targetDatabase());
            incidents.metrics(runs == null ? null : runs.metrics());
        }
        return incidents;
    }

    @BindToRegistry("retryQueue")
    public RetryQueue retryQueue(CamelContext context) throws Exception {
        return new RetryQueue(syncRuns(context), incidents(), new RetryQueue.Settings(retryBatch,
                Duration.ofMillis(retryInitialDelayMs), retryMultiplier, Duration.ofMillis(retryMaxDelayMs), retryMaxAttempts,
                Duration.ofDays(retryKeepDays), Duration.ofMillis(retryBusyDelayMs), Duration.ofMillis(retryClaimTimeoutMs)),
                context);
    }

    @BindToRegistry("runFailures")
    public io.syncwarden.heal.RunFailures runFailures(CamelContext context) throws Exception {
        return new io.syncwarden.heal.RunFailures(syncRuns(context));
    }

    @BindToRegistry("syncLifecycle")
    public io.syncwarden.source.Lifecycle syncLifecycle() {
        return new io.syncwarden.source.Lifecycle();
    }

    @BindToRegistry("watchdog")
    public io.syncwarden.heal.Watchdog watchdog(CamelContext context) throws Exception {
        io.syncwarden.heal.Watchdog watchdog = new io.syncwarden.heal.Watchdog(syncRuns(context), incidents(), context);
        watchdog.errorRate(watchdogErrorRate, watchdogErrorRateMinRuns);
        return watchdog;
    }

    private io.syncwarden.alert.Alerts alerts;

    @BindToRegistry("alerts")
    public synchronized io.syncwarden.alert.Alerts alerts(CamelContext context) throws Exception {
        if (alerts != null) {
            return alerts;
        }
        alerts = new io.syncwarden.alert.Alerts(targetDatabase(), new io.syncwarden.alert.Alerts.Settings(
                slackWebhookUrl, pagerDutyUrl, pagerDutyRoutingKey, Duration.ofMinutes(alertsCooldownMinutes),
                Duration.ofMinutes(alertsRepeatMinutes), alertsMaxAttempts, Duration.ofMillis(alertsRetryDelayMs),
                syncRuns(context).settings().nodeId()));
        alerts.metrics(syncRuns(context).metrics());
        return alerts;
    }

    private io.syncwarden.api.ApiAccess apiAccess;

    private synchronized io.syncwarden.api.ApiAccess apiAccess() {
        if (apiAccess == null) {
            apiAccess = new io.syncwarden.api.ApiAccess(apiTokens);
        }
        return apiAccess;
    }

    /**
     * The engine of the business port's platform-http consumers (API, status page). Camel's own finds its port by
     * looking for the one HTTP server in the registry; with the management server beside it there are two, it finds
     * none and falls back to 8080, so with any other camel.server.port every API route failed to start. This one
     * knows its port.
     */
    @BindToRegistry("platform-http-engine")
    public org.apache.camel.component.platform.http.vertx.VertxPlatformHttpEngine platformHttpEngine(CamelContext context) {
        int port = Integer.parseInt(context.resolvePropertyPlaceholders("{{camel.server.port:8080}}").strip());
        return new org.apache.camel.component.platform.http.vertx.VertxPlatformHttpEngine() {
            @Override
            public int getServerPort() {
                return port == 0 ? super.getServerPort() : port;
            }
        };
    }

    /** Jolokia behind the API's tokens and roles (Camel takes the registry's "jolokia" plugin before its own). */
    @BindToRegistry("jolokia")
    public io.syncwarden.api.JolokiaAccess jolokia() {
        return new io.syncwarden.api.JolokiaAccess(apiAccess(), new io.syncwarden.api.Audit(targetDatabase()),
                new io.syncwarden.api.JolokiaAccess.Settings(jolokiaUser, jolokiaPassword, jolokiaRole, jolokiaWritesEnabled));
    }

    @BindToRegistry("api")
    public io.syncwarden.api.Api api(CamelContext context) {
        io.syncwarden.api.ApiAccess access = apiAccess();
        if (!access.configured()) {
            org.slf4j.LoggerFactory.getLogger(SyncwardenConfiguration.class).info("Operations API: no tokens configured "
                    + "(SYNCWARDEN_API_TOKENS): only GET /api/health answers; every other call gets 401");
        }
        return new io.syncwarden.api.Api(context, access, new io.syncwarden.api.Audit(targetDatabase()), apiHealthPublic,
                new io.syncwarden.api.SignedTriggers(qstashCurrentKey, qstashNextKey, triggerHmacSecret, apiPublicUrl,
                        Duration.ofMinutes(5)));
    }

    @BindToRegistry("statusPage")
    public io.syncwarden.api.StatusPage statusPage() {
        return new io.syncwarden.api.StatusPage();
    }

    @BindToRegistry("retention")
    public io.syncwarden.heal.Retention retention() {
        return new io.syncwarden.heal.Retention(targetDatabase(), retentionMonths, retryKeepDays, retentionBatch);
    }

    @BindToRegistry("recoveryProbe")
    public RecoveryProbe recoveryProbe(CamelContext context) throws Exception {
        return new RecoveryProbe(syncRuns(context), breakers(context), context);
    }

    @BindToRegistry("sourcePause")
    public SourcePause sourcePause(CamelContext context) throws Exception {
        return new SourcePause(syncRuns(context), incidents(), context, pauseAfterNonRecoverable);
    }

    @BindToRegistry("sheetsClientFactory")
    public SheetsClientFactory sheetsClientFactory() {
        return new SheetsClientFactory(googleRootUrl, googleTokenUrl, upstreamConnectTimeoutMs, upstreamReadTimeoutMs);
    }

    @BindToRegistry("sourceLookup")
    public SourceLookup sourceLookup(CamelContext context) {
        return new SourceLookup(context, io.syncwarden.heal.FailureText::describe);
    }

    @BindToRegistry("sourcePools")
    public SourcePools sourcePools(CamelContext context) throws Exception {
        SourcePools pools = new SourcePools(sourceConnectTimeoutMs, sourceSocketTimeoutMs);
        context.addService(pools, true, true);
        return pools;
    }

    @Override
    public void configure(CamelContext context) throws Exception {
        if (demoEnabled) {
            new DemoReplica(demoUrl, demoRows).seedIfEmpty();
        }
        // the target database's circuit breaker guards every connection from now on; breakers record their states
        Breakers guard = breakers(context);
        targetDatabase().guard(guard.targetGuard(dbBreakerFailures, Duration.ofMillis(dbBreakerOpenMs)));
        guard.database(targetDatabase());
        guard.context(context);
        SyncRuns lifecycle = syncRuns(context);
        lifecycle.maxDrop(guardMaxDrop);
        lifecycle.anomaly(new io.syncwarden.sync.RowCountAnomaly(anomalyThreshold, anomalyWindow, anomalyMinRuns, anomalyMinSpread));
        io.syncwarden.heal.IncrementalAnomalies.watch(lifecycle, incidents());
        incidents().metrics(lifecycle.metrics());
        lifecycle.snapshots().keep(snapshotsKeep);
        // before any route can start a run: close what this node left running, start the lease keeper
        lifecycle.start();
        // alert deliveries: the http component with short timeouts of its own, so a hanging channel holds up only an alert
        org.apache.camel.component.http.HttpComponent alertHttp = new org.apache.camel.component.http.HttpComponent();
        alertHttp.setConnectTimeout(10_000);
        alertHttp.setConnectionRequestTimeout(10_000);
        alertHttp.setSoTimeout(30_000);
        alertHttp.setResponseTimeout(30_000);
        alertHttp.setAutomaticRetriesDisabled(true); // HttpClient would otherwise sleep through a 429's Retry-After
        context.addComponent("alert-http", alertHttp);
        HealthCheckRegistry health = HealthCheckRegistry.get(context);
        if (health != null) {
            health.register(new TargetDatabaseHealthCheck(targetDatabase()));
        }
        // a stop first lets running syncs reach a batch boundary and closes their records, then Camel stops the routes
        // endpoint MBeans are named by their masked URI (Hawtio lists them; a credential in a URI shows as xxxxxx)
        if (context.getManagementStrategy() != null && context.getManagementStrategy().getManagementAgent() != null) {
            context.getManagementStrategy().getManagementAgent().setMask(true);
        }
        // the live reload looks at the routes folder once every route has started, and stops first
        io.syncwarden.ops.RoutesReloader reload = routesReloader(context);
        context.getManagementStrategy().addEventNotifier(new EventNotifierSupport() {
            @Override
            public void notify(CamelEvent event) throws Exception {
                if (event instanceof CamelEvent.CamelContextStartedEvent && reloadEnabled) {
                    if (java.nio.file.Files.isDirectory(java.nio.file.Path.of(reloadDir))) {
                        reload.start();
                    } else {
                        org.slf4j.LoggerFactory.getLogger(SyncwardenConfiguration.class).warn("Routes reload off: "
                                + "syncwarden.reload.dir {} is not a folder", reloadDir);
                    }
                }
                if (event instanceof CamelEvent.CamelContextStoppingEvent) {
                    reload.stop();
                    lifecycle.stop();
                }
            }

            @Override
            public boolean isEnabled(CamelEvent event) {
                return event instanceof CamelEvent.CamelContextStoppingEvent || event instanceof CamelEvent.CamelContextStartedEvent;
            }
        });
        context.addService(new ServiceSupport() {
            @Override
            protected void doStop() {
                if (database != null) {
                    database.close();
                }
            }
        }, true, true);
    }
}
