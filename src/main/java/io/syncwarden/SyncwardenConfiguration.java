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
import org.apache.camel.PropertyInject;
import org.apache.camel.health.HealthCheckRegistry;
import org.apache.camel.spi.CamelEvent;
import org.apache.camel.support.EventNotifierSupport;
import org.apache.camel.support.service.ServiceSupport;

/** Binds the shared beans the routes call. Each property is documented in application.properties and README.md. */
@Configuration
public class SyncwardenConfiguration implements CamelConfiguration {

    @PropertyInject(value = "syncwarden.db.url", defaultValue = "jdbc:h2:file:./data/syncwarden")
    private String dbUrl;
    @PropertyInject(value = "syncwarden.db.username", defaultValue = "sa")
    private String dbUser;
    @PropertyInject(value = "syncwarden.db.password", defaultValue = "")
    private String dbPassword;
    @PropertyInject(value = "syncwarden.db.pool-size", defaultValue = "10")
    private int poolSize;
    @PropertyInject(value = "syncwarden.db.schema", defaultValue = "syncwarden")
    private String dbSchema;
    @PropertyInject(value = "syncwarden.db.data-schema", defaultValue = "default")
    private String dbDataSchema;
    @PropertyInject(value = "syncwarden.db.connect-timeout-ms", defaultValue = "10000")
    private long dbConnectTimeoutMs;
    @PropertyInject(value = "syncwarden.db.lock-timeout-ms", defaultValue = "60000")
    private long dbLockTimeoutMs;
    @PropertyInject(value = "syncwarden.db.statement-timeout-ms", defaultValue = "600000")
    private long dbStatementTimeoutMs;
    @PropertyInject(value = "syncwarden.db.socket-timeout-ms", defaultValue = "660000")
    private long dbSocketTimeoutMs;
    @PropertyInject(value = "syncwarden.node-id", defaultValue = "auto")
    private String nodeId;
    @PropertyInject(value = "syncwarden.lock.lease-ms", defaultValue = "120000")
    private long leaseMillis;
    @PropertyInject(value = "syncwarden.health.unhealthy-after-failures", defaultValue = "3")
    private int unhealthyAfter;
    @PropertyInject(value = "syncwarden.health.long-run-factor", defaultValue = "3")
    private double longRunFactor;
    @PropertyInject(value = "syncwarden.health.long-run-min-ms", defaultValue = "60000")
    private long longRunMinMs;
    @PropertyInject(value = "syncwarden.shutdown.grace-ms", defaultValue = "6000")
    private long shutdownGraceMs;
    @PropertyInject(value = "syncwarden.runs.pending-retry-ms", defaultValue = "5000")
    private long pendingRetryMs;
    @PropertyInject(value = "syncwarden.runs.progress-log-ms", defaultValue = "30000")
    private long progressLogMs;
    @PropertyInject(value = "syncwarden.demo.enabled", defaultValue = "true")
    private boolean demoEnabled;
    @PropertyInject(value = "syncwarden.demo.url", defaultValue = "jdbc:h2:file:./data/demo-replica")
    private String demoUrl;
    @PropertyInject(value = "syncwarden.demo.rows", defaultValue = "500")
    private int demoRows;

    @PropertyInject(value = "syncwarden.retry.rate-limit-wait-ms", defaultValue = "60000")
    private long rateLimitWaitMs;
    @PropertyInject(value = "syncwarden.retry.max-rate-limit-wait-ms", defaultValue = "300000")
    private long maxRateLimitWaitMs;
    @PropertyInject(value = "syncwarden.retry.max-rate-limit-hold-ms", defaultValue = "86400000")
    private long maxRateLimitHoldMs;

    @PropertyInject(value = "syncwarden.retry-queue.batch", defaultValue = "10")
    private int retryBatch;
    @PropertyInject(value = "syncwarden.retry-queue.initial-delay-ms", defaultValue = "300000")
    private long retryInitialDelayMs;
    @PropertyInject(value = "syncwarden.retry-queue.backoff-multiplier", defaultValue = "2")
    private double retryMultiplier;
    @PropertyInject(value = "syncwarden.retry-queue.max-delay-ms", defaultValue = "2400000")
    private long retryMaxDelayMs;
    @PropertyInject(value = "syncwarden.retry-queue.max-attempts", defaultValue = "3")
    private int retryMaxAttempts;
    @PropertyInject(value = "syncwarden.retry-queue.keep-days", defaultValue = "7")
    private int retryKeepDays;
    @PropertyInject(value = "syncwarden.retry-queue.busy-delay-ms", defaultValue = "60000")
    private long retryBusyDelayMs;
    @PropertyInject(value = "syncwarden.retry-queue.claim-timeout-ms", defaultValue = "600000")
    private long retryClaimTimeoutMs;
    @PropertyInject(value = "syncwarden.guard.max-drop", defaultValue = "0.5")
    private double guardMaxDrop;
    @PropertyInject(value = "syncwarden.watchdog.error-rate", defaultValue = "0.5")
    private double watchdogErrorRate;
    @PropertyInject(value = "syncwarden.watchdog.error-rate-min-runs", defaultValue = "4")
    private int watchdogErrorRateMinRuns;
    @PropertyInject(value = "syncwarden.anomaly.threshold", defaultValue = "3.5")
    private double anomalyThreshold;
    @PropertyInject(value = "syncwarden.anomaly.window", defaultValue = "20")
    private int anomalyWindow;
    @PropertyInject(value = "syncwarden.anomaly.min-runs", defaultValue = "5")
    private int anomalyMinRuns;
    @PropertyInject(value = "syncwarden.anomaly.min-spread", defaultValue = "0.05")
    private double anomalyMinSpread;
    @PropertyInject(value = "syncwarden.alerts.slack.webhook-url", defaultValue = "")
    private String slackWebhookUrl;
    @PropertyInject(value = "syncwarden.alerts.pagerduty.url", defaultValue = "https://events.pagerduty.com/v2/enqueue")
    private String pagerDutyUrl;
    @PropertyInject(value = "syncwarden.alerts.pagerduty.routing-key", defaultValue = "")
    private String pagerDutyRoutingKey;
    @PropertyInject(value = "syncwarden.alerts.cooldown-minutes", defaultValue = "15")
    private long alertsCooldownMinutes;
    @PropertyInject(value = "syncwarden.alerts.repeat-minutes", defaultValue = "240")
    private long alertsRepeatMinutes;
    @PropertyInject(value = "syncwarden.alerts.max-attempts", defaultValue = "8")
    private int alertsMaxAttempts;
    @PropertyInject(value = "syncwarden.alerts.retry-delay-ms", defaultValue = "30000")
    private long alertsRetryDelayMs;
    @PropertyInject(value = "syncwarden.api.tokens", defaultValue = "")
    private String apiTokens;
    @PropertyInject(value = "syncwarden.api.health-public", defaultValue = "true")
    private boolean apiHealthPublic;
    @PropertyInject(value = "syncwarden.api.public-url", defaultValue = "")
    private String apiPublicUrl;
    @PropertyInject(value = "syncwarden.triggers.qstash.current-key", defaultValue = "")
    private String qstashCurrentKey;
    @PropertyInject(value = "syncwarden.triggers.qstash.next-key", defaultValue = "")
    private String qstashNextKey;
    @PropertyInject(value = "syncwarden.triggers.hmac-secret", defaultValue = "")
    private String triggerHmacSecret;
    @PropertyInject(value = "syncwarden.retention.months", defaultValue = "13")
    private int retentionMonths;
    @PropertyInject(value = "syncwarden.retention.batch", defaultValue = "1000")
    private int retentionBatch;
    @PropertyInject(value = "syncwarden.snapshots.keep", defaultValue = "3")
    private int snapshotsKeep;
    @PropertyInject(value = "syncwarden.pause.after-non-recoverable", defaultValue = "3")
    private int pauseAfterNonRecoverable;

    @PropertyInject(value = "syncwarden.breaker.failures", defaultValue = "5")
    private int breakerFailures;
    @PropertyInject(value = "syncwarden.breaker.open-s", defaultValue = "300")
    private long breakerOpenSeconds;
    @PropertyInject(value = "syncwarden.db.breaker.failures", defaultValue = "5")
    private int dbBreakerFailures;
    @PropertyInject(value = "syncwarden.db.breaker.open-ms", defaultValue = "10000")
    private long dbBreakerOpenMs;

    @PropertyInject(value = "syncwarden.upstream.connect-timeout-ms", defaultValue = "30000")
    private int upstreamConnectTimeoutMs;
    @PropertyInject(value = "syncwarden.upstream.read-timeout-ms", defaultValue = "300000")
    private int upstreamReadTimeoutMs;
    @PropertyInject(value = "syncwarden.source.connect-timeout-ms", defaultValue = "10000")
    private long sourceConnectTimeoutMs;
    @PropertyInject(value = "syncwarden.source.socket-timeout-ms", defaultValue = "300000")
    private long sourceSocketTimeoutMs;

    @PropertyInject(value = "syncwarden.db.h2-cache-kb", defaultValue = "16384")
    private int dbH2CacheKb;

    @PropertyInject(value = "syncwarden.google.root-url", defaultValue = "https://sheets.googleapis.com/")
    private String googleRootUrl;
    @PropertyInject(value = "syncwarden.google.token-url", defaultValue = "https://oauth2.googleapis.com/token")
    private String googleTokenUrl;

    @PropertyInject(value = "syncwarden.jolokia.user", defaultValue = "")
    private String jolokiaUser;
    @PropertyInject(value = "syncwarden.jolokia.password", defaultValue = "")
    private String jolokiaPassword;
    @PropertyInject(value = "syncwarden.jolokia.role", defaultValue = "viewer")
    private String jolokiaRole;
    @PropertyInject(value = "syncwarden.jolokia.writes-enabled", defaultValue = "false")
    private boolean jolokiaWritesEnabled;
    @PropertyInject(value = "syncwarden.reload.enabled", defaultValue = "true")
    private boolean reloadEnabled;
    @PropertyInject(value = "syncwarden.reload.dir", defaultValue = "routes")
    private String reloadDir;
    @PropertyInject(value = "syncwarden.reload.poll-ms", defaultValue = "1000")
    private long reloadPollMs;
    @PropertyInject(value = "syncwarden.reload.quiet-ms", defaultValue = "2000")
    private long reloadQuietMs;

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
                    () -> registry.refresh(context), java.time.Clock.systemUTC());
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
