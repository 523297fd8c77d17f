package io.syncwarden.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.File;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The target database: a pooled data source, migrated to the current schema before anything uses it. */
public final class TargetDatabase implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TargetDatabase.class);

    private final HikariDataSource dataSource;
    private final Dialect dialect;

    public TargetDatabase(String url, String username, String password, int poolSize) {
        if (url == null || url.isBlank()) {
            throw new IllegalArgumentException("syncwarden.db.url is required (e.g. jdbc:h2:file:./data/syncwarden)");
        }
        if (url.startsWith("jdbc:h2:file:")) {
            String path = url.substring("jdbc:h2:file:".length()).split(";")[0];
            File parent = new File(path).getAbsoluteFile().getParentFile();
            if (parent != null && !parent.exists() && !parent.mkdirs()) {
                throw new IllegalStateException("Cannot create the folder " + parent + " for the H2 database " + url);
            }
        }
        HikariConfig config = new HikariConfig();
        config.setPoolName("syncwarden-target");
        config.setJdbcUrl(url);
        config.setUsername(username);
        config.setPassword(password);
        config.setMaximumPoolSize(Math.max(2, poolSize));
        this.dataSource = new HikariDataSource(config);
        try (Connection c = dataSource.getConnection()) {
            this.dialect = Dialect.of(c);
        } catch (SQLException e) {
            dataSource.close();
            throw new IllegalStateException("Cannot connect to the target database " + masked(url) + ": " + e.getMessage(), e);
        }
        var result = Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").load().migrate();
        LOG.info("Target database {} ({}) is at schema version {} ({} migrations applied now)",
                masked(url), dialect, result.targetSchemaVersion != null ? result.targetSchemaVersion : result.initialSchemaVersion,
                result.migrationsExecuted);
    }

    /** A JDBC URL fit for logs: any password parameter in it is masked. */
    public static String masked(String url) {
        return url == null ? null : url.replaceAll("(?i)(password=)[^&;]*", "$1******");
    }

    public DataSource dataSource() {
        return dataSource;
    }

    public Dialect dialect() {
        return dialect;
    }

    @Override
    public void close() {
        dataSource.close();
    }
}
