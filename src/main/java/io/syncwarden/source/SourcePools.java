package io.syncwarden.source;

import static java.util.concurrent.TimeUnit.SECONDS;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.sql.DataSource;
import org.apache.camel.support.service.ServiceSupport;

/** Small connection pools for upstream databases, one per (url, user), closed when Camel stops. */
public class SourcePools extends ServiceSupport {
    private static final int POOL_SIZE = 2;
    /** How long a run waits for a replica connection before the attempt fails (and is retried by the route). */
    static final long CONNECT_TIMEOUT = SECONDS.toMillis(10);
    private final Map<String, HikariDataSource> pools = new ConcurrentHashMap<>();

    public DataSource get(String sourceId, String url, String user, String password) {
        return pools.computeIfAbsent(url + "\u0000" + user, k -> {
            HikariConfig config = new HikariConfig();
            config.setPoolName("source-" + sourceId);
            config.setJdbcUrl(url);
            config.setUsername(user);
            config.setPassword(password);
            config.setMaximumPoolSize(POOL_SIZE);
            config.setMinimumIdle(0);
            config.setReadOnly(true);
            config.setAutoCommit(false);
            // the replica may be down when the service starts: fail at the first run, not at pool creation
            config.setInitializationFailTimeout(-1);
            config.setConnectionTimeout(CONNECT_TIMEOUT);
            return new HikariDataSource(config);
        });
    }

    @Override
    protected void doStop() {
        pools.values().forEach(HikariDataSource::close);
        pools.clear();
    }
}
