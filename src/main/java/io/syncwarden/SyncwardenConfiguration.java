package io.syncwarden;

import io.micrometer.core.instrument.MeterRegistry;
import io.syncwarden.demo.DemoReplica;
import io.syncwarden.source.SheetsClientFactory;
import io.syncwarden.source.SourceLookup;
import io.syncwarden.source.SourcePools;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.sync.SourceRegistry;
import io.syncwarden.sync.SyncMetrics;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncSettings;
import io.syncwarden.sync.SyncTrigger;
import io.syncwarden.heal.UpstreamWait;
import java.net.InetAddress;
import org.apache.camel.BindToRegistry;
import org.apache.camel.CamelConfiguration;
import org.apache.camel.CamelContext;
import org.apache.camel.Configuration;
import org.apache.camel.PropertyInject;

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
    @PropertyInject(value = "syncwarden.node-id", defaultValue = "auto")
    private String nodeId;
    @PropertyInject(value = "syncwarden.lock.lease-ms", defaultValue = "900000")
    private long leaseMillis;
    @PropertyInject(value = "syncwarden.health.unhealthy-after-failures", defaultValue = "3")
    private int unhealthyAfter;
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

    @PropertyInject(value = "syncwarden.google.root-url", defaultValue = "https://sheets.googleapis.com/")
    private String googleRootUrl;
    @PropertyInject(value = "syncwarden.google.token-url", defaultValue = "https://oauth2.googleapis.com/token")
    private String googleTokenUrl;

    private TargetDatabase database;

    @BindToRegistry("targetDatabase")
    public synchronized TargetDatabase targetDatabase() {
        if (database == null) {
            database = new TargetDatabase(dbUrl, dbUser, dbPassword, poolSize);
        }
        return database;
    }

    @BindToRegistry("syncRuns")
    public SyncRuns syncRuns(CamelContext context) throws Exception {
        String node = nodeId == null || nodeId.isBlank() || "auto".equals(nodeId) ? InetAddress.getLocalHost().getHostName() + "-" + ProcessHandle.current().pid() : nodeId;
        SyncMetrics metrics = new SyncMetrics(() -> context.getRegistry().findSingleByType(MeterRegistry.class));
        return new SyncRuns(targetDatabase(), new SyncSettings(node, leaseMillis, unhealthyAfter), metrics);
    }

    @BindToRegistry("sourceRegistry")
    public SourceRegistry sourceRegistry(CamelContext context) throws Exception {
        return new SourceRegistry(context.getRegistry().lookupByNameAndType("syncRuns", SyncRuns.class));
    }

    @BindToRegistry("syncTrigger")
    public SyncTrigger syncTrigger(CamelContext context) {
        return new SyncTrigger(context);
    }

    @BindToRegistry("upstreamWait")
    public UpstreamWait upstreamWait() {
        return new UpstreamWait(rateLimitWaitMs, maxRateLimitWaitMs);
    }

    @BindToRegistry("sheetsClientFactory")
    public SheetsClientFactory sheetsClientFactory() {
        return new SheetsClientFactory(googleRootUrl, googleTokenUrl, 30_000, 180_000);
    }

    @BindToRegistry("sourceLookup")
    public SourceLookup sourceLookup(CamelContext context) {
        return new SourceLookup(context);
    }

    @BindToRegistry("sourcePools")
    public SourcePools sourcePools(CamelContext context) throws Exception {
        SourcePools pools = new SourcePools();
        context.addService(pools, true, true);
        return pools;
    }

    @Override
    public void configure(CamelContext context) throws Exception {
        if (demoEnabled) {
            new DemoReplica(demoUrl, demoRows).seedIfEmpty();
        }
        context.addService(new org.apache.camel.support.service.ServiceSupport() {
            @Override
            protected void doStop() {
                if (database != null) {
                    database.close();
                }
            }
        }, true, true);
    }
}
