package io.syncwarden.source;

import static java.util.concurrent.TimeUnit.MINUTES;
import static java.util.concurrent.TimeUnit.SECONDS;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.syncwarden.store.TargetDatabase;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;
import org.apache.camel.support.service.ServiceSupport;

/**
 * Small read-only connection pools for upstream databases, one per (url, user), closed when Camel stops. Every
 * connection has a connect timeout and, where the driver has one, a socket (read) timeout, so a replica that stops
 * answering fails the attempt instead of holding a scheduler thread forever. PostgreSQL replicas send string
 * parameters untyped ({@code stringtype=unspecified}), so a resumed read compares a checkpointed key with a
 * {@code uuid}, enum or text column alike.
 */
public class SourcePools extends ServiceSupport {
    private static final int POOL_SIZE = 2;
    public static final long CONNECT_TIMEOUT_MS = SECONDS.toMillis(10);
    public static final long SOCKET_TIMEOUT_MS = MINUTES.toMillis(5);
    private final Map<String, HikariDataSource> pools = new ConcurrentHashMap<>();
    private final long connectTimeoutMs;
    private final long socketTimeoutMs;

    public SourcePools() {
        this(CONNECT_TIMEOUT_MS, SOCKET_TIMEOUT_MS);
    }

    public SourcePools(long connectTimeoutMs, long socketTimeoutMs) {
        this.connectTimeoutMs = Math.max(250, connectTimeoutMs);
        this.socketTimeoutMs = socketTimeoutMs;
    }

    public DataSource get(String sourceId, String url, String user, String password) {
        return pools.computeIfAbsent(url + "\u0000" + user, k -> {
            HikariConfig config = new HikariConfig();
            config.setPoolName("source-" + sourceId);
            config.setJdbcUrl(url.startsWith("jdbc:h2:") ? TargetDatabase.h2KeptOpenOnExit(url) : url);
            config.setUsername(user);
            config.setPassword(password);
            config.setMaximumPoolSize(POOL_SIZE);
            config.setMinimumIdle(0);
            config.setReadOnly(true);
            config.setAutoCommit(false);
            // the replica may be down when the service starts: fail at the first run, not at pool creation
            config.setInitializationFailTimeout(-1);
            config.setConnectionTimeout(connectTimeoutMs);
            long socketSeconds = Math.max(1, (socketTimeoutMs + 999) / 1000);
            long connectSeconds = Math.max(1, (connectTimeoutMs + 999) / 1000);
            if (url.startsWith("jdbc:postgresql:")) {
                config.addDataSourceProperty("stringtype", "unspecified");
                config.addDataSourceProperty("socketTimeout", String.valueOf(socketSeconds));
                config.addDataSourceProperty("connectTimeout", String.valueOf(connectSeconds));
                config.addDataSourceProperty("ApplicationName", "syncwarden-" + sourceId);
            } else if (url.startsWith("jdbc:mysql:") || url.startsWith("jdbc:mariadb:")) {
                config.addDataSourceProperty("socketTimeout", String.valueOf(socketTimeoutMs));
                config.addDataSourceProperty("connectTimeout", String.valueOf(connectTimeoutMs));
            }
            return new HikariDataSource(config);
        });
    }

    @Override
    protected void doStop() {
        pools.values().forEach(HikariDataSource::close);
        pools.clear();
    }
}
