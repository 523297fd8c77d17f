package io.syncwarden.store;

import static java.util.concurrent.TimeUnit.MINUTES;
import static java.util.concurrent.TimeUnit.SECONDS;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.SQLExceptionOverride;
import java.io.File;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The target database: a pooled data source whose connections work in the control schema (default
 * {@code syncwarden}: run records, locks, checkpoints, created and migrated by Flyway), while synced tables live in the
 * data schema (by default the database's own default schema, {@code public} / {@code PUBLIC}). Keeping the two apart
 * lets Syncwarden start on a PostgreSQL database that already holds other tables.
 *
 * <p>Every connection has a lock timeout and a statement timeout, and on PostgreSQL a socket timeout, so a held lock
 * or a hung server fails the attempt (and is retried) instead of pinning a scheduler thread. On H2 the database is not
 * closed by H2's own JVM shutdown hook ({@code DB_CLOSE_ON_EXIT=FALSE}): runs still writing while the service stops
 * are closed first, then the pool, then the database.
 */
public final class TargetDatabase implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TargetDatabase.class);

    /** Connection and timeout settings; see application.properties for each key. */
    public record Options(String url, String username, String password, int poolSize, String schema, String dataSchema,
                          long connectTimeoutMs, long lockTimeoutMs, long statementTimeoutMs, long socketTimeoutMs,
                          int h2CacheKb) {
        /** H2's page cache for the target, in KiB: bounded so the H2 target fits the service's heap. */
        public static final int H2_CACHE_KB = 16384;
        public static final long CONNECT_TIMEOUT_MS = SECONDS.toMillis(10);
        public static final long LOCK_TIMEOUT_MS = SECONDS.toMillis(60);
        public static final long STATEMENT_TIMEOUT_MS = MINUTES.toMillis(10);
        public static final long SOCKET_TIMEOUT_MS = MINUTES.toMillis(11);

        public static Options of(String url, String username, String password) {
            return new Options(url, username, password, 10, "syncwarden", "", CONNECT_TIMEOUT_MS, LOCK_TIMEOUT_MS,
                    STATEMENT_TIMEOUT_MS, SOCKET_TIMEOUT_MS, H2_CACHE_KB);
        }

        public Options withTimeouts(long connectMs, long lockMs, long statementMs, long socketMs) {
            return new Options(url, username, password, poolSize, schema, dataSchema, connectMs, lockMs, statementMs, socketMs,
                    h2CacheKb);
        }
    }

    private volatile HikariDataSource dataSource;
    private final Dialect dialect;
    private final String schema;
    private final String dataSchema;

    public TargetDatabase(String url, String username, String password, int poolSize) {
        this(new Options(url, username, password, poolSize, "syncwarden", "", Options.CONNECT_TIMEOUT_MS,
                Options.LOCK_TIMEOUT_MS, Options.STATEMENT_TIMEOUT_MS, Options.SOCKET_TIMEOUT_MS, Options.H2_CACHE_KB));
    }

    public TargetDatabase(Options o) {
        if (o.url() == null || o.url().isBlank()) {
            throw new IllegalArgumentException("syncwarden.db.url is required (e.g. jdbc:h2:file:./data/syncwarden)");
        }
        this.dialect = Dialect.ofUrl(o.url());
        String url = dialect == Dialect.H2 ? h2CacheBounded(h2KeptOpenOnExit(o.url()), o.h2CacheKb()) : o.url();
        if (url.startsWith("jdbc:h2:file:")) {
            String path = url.substring("jdbc:h2:file:".length()).split(";")[0];
            File parent = new File(path).getAbsoluteFile().getParentFile();
            if (parent != null && !parent.exists() && !parent.mkdirs()) {
                throw new IllegalStateException("Cannot create the folder " + parent + " for the H2 database " + url);
            }
        }
        this.schema = dialect.fold(Identifiers.plain("syncwarden.db.schema", o.schema()));
        // the bootstrap connection stays open until the pool has its own (an H2 in-memory database lives as long as one)
        try (Connection boot = DriverManager.getConnection(url, properties(o))) {
            boolean databaseDefault = o.dataSchema() == null || o.dataSchema().isBlank() || o.dataSchema().equalsIgnoreCase("default");
            String given = databaseDefault ? boot.getSchema()
                    : dialect.fold(Identifiers.plain("syncwarden.db.data-schema", o.dataSchema()));
            this.dataSchema = given != null ? given : dialect.fold("public");
            createSchema(boot, schema);
            this.dataSource = pool(o, url);
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot connect to the target database " + masked(url) + ": " + e.getMessage(), e);
        }
        try {
            var result = Flyway.configure().dataSource(dataSource).schemas(schema).defaultSchema(schema)
                    .locations("classpath:db/migration").load().migrate();
            if (result.initialSchemaVersion == null) {
                // a new control schema: an earlier version may have left its tables in the default schema
                try (Connection c = dataSource.getConnection()) {
                    LegacyControlTables.adopt(c, dialect, dataSchema, schema);
                }
            }
            LOG.info("Target database {} ({}): control tables in schema {} at version {} ({} migrations applied now); "
                            + "synced tables in schema {}", masked(url), dialect, schema,
                    result.targetSchemaVersion != null ? result.targetSchemaVersion : result.initialSchemaVersion,
                    result.migrationsExecuted, dataSchema);
        } catch (SQLException e) {
            dataSource.close();
            throw new IllegalStateException("Cannot move the control tables an earlier version left in schema " + dataSchema
                    + " to " + schema + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            dataSource.close();
            throw e;
        }
    }

    private HikariDataSource pool(Options o, String url) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("syncwarden-target");
        config.setJdbcUrl(url);
        config.setUsername(o.username());
        config.setPassword(o.password());
        config.setMaximumPoolSize(Math.max(2, o.poolSize()));
        config.setSchema(schema);
        config.setConnectionTimeout(Math.max(250, o.connectTimeoutMs()));
        config.setValidationTimeout(Math.max(250, Math.min(5000, o.connectTimeoutMs())));
        config.setInitializationFailTimeout(Math.max(1, o.connectTimeoutMs()));
        // A connection the server or network dropped is evicted at once, and with it every idle one (a restarted server
        // or a broken network took them all), so the next borrower gets a live connection instead of a dead one.
        config.setExceptionOverride(new SQLExceptionOverride() {
            @java.lang.Override
            public Override adjudicate(SQLException e) {
                if (!isConnectionLost(e)) {
                    return Override.CONTINUE_EVICT;
                }
                HikariDataSource pool = dataSource;
                if (pool != null && pool.getHikariPoolMXBean() != null) {
                    pool.getHikariPoolMXBean().softEvictConnections();
                }
                return Override.MUST_EVICT;
            }
        });
        if (dialect == Dialect.POSTGRESQL) {
            config.setConnectionInitSql("SET lock_timeout = " + o.lockTimeoutMs() + "; SET statement_timeout = " + o.statementTimeoutMs());
            config.addDataSourceProperty("socketTimeout", String.valueOf(Math.max(1, seconds(o.socketTimeoutMs()))));
            config.addDataSourceProperty("connectTimeout", String.valueOf(Math.max(1, seconds(o.connectTimeoutMs()))));
        } else {
            config.setConnectionInitSql("SET LOCK_TIMEOUT " + o.lockTimeoutMs() + "; SET QUERY_TIMEOUT " + o.statementTimeoutMs());
        }
        return new HikariDataSource(config);
    }

    private static long seconds(long ms) {
        return (ms + 999) / 1000;
    }

    private Properties properties(Options o) {
        Properties p = new Properties();
        if (o.username() != null) {
            p.put("user", o.username());
        }
        if (o.password() != null) {
            p.put("password", o.password());
        }
        if (dialect == Dialect.POSTGRESQL) { // H2 refuses settings it does not know
            p.put("connectTimeout", String.valueOf(Math.max(1, seconds(o.connectTimeoutMs()))));
            p.put("loginTimeout", String.valueOf(Math.max(1, seconds(o.connectTimeoutMs()))));
        }
        return p;
    }

    private void createSchema(Connection c, String name) throws SQLException {
        boolean exists;
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM INFORMATION_SCHEMA.SCHEMATA WHERE SCHEMA_NAME = ?")) {
            ps.setString(1, name);
            try (ResultSet rs = ps.executeQuery()) {
                exists = rs.next();
            }
        }
        if (!exists) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE SCHEMA " + Identifiers.quote(name));
            }
            if (!c.getAutoCommit()) {
                c.commit();
            }
            LOG.info("Created schema {} for Syncwarden's control tables", name);
        }
    }

    /** True when no connection could be made to the database (Hikari's timeout carries the driver's reason as cause). */
    static boolean unreachable(SQLException e) {
        if (isConnectionLost(e)) {
            return true;
        }
        Throwable cause = e.getCause();
        return e instanceof java.sql.SQLTransientConnectionException && cause != null
                && (cause instanceof SQLException sql && isConnectionLost(sql) || cause instanceof java.net.ConnectException
                || cause instanceof java.net.SocketTimeoutException || cause instanceof java.net.UnknownHostException);
    }

    /** Stops guarding (the service is stopping: what is still to be written gets every chance). */
    public void unguard() {
        this.guard = ConnectionGuard.NONE;
        // and a database that is down does not hold the stop for a whole connect timeout per record
        HikariDataSource pool = dataSource;
        if (pool != null && pool.getHikariConfigMXBean() != null) {
            pool.getHikariConfigMXBean().setConnectionTimeout(Math.min(pool.getHikariConfigMXBean().getConnectionTimeout(), 1000));
        }
    }

    /** True for an error that means the connection itself is gone (SQLState class 08, H2's broken or closed session). */
    public static boolean isConnectionLost(SQLException e) {
        for (SQLException x = e; x != null; x = x.getNextException()) {
            String state = x.getSQLState();
            if (state != null && (state.startsWith("08") || state.equals("90067") || state.equals("90098") || state.equals("90121"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * H2 closes a database from its own JVM shutdown hook, while runs may still be writing; Syncwarden closes it after
     * them instead.
     */
    public static String h2KeptOpenOnExit(String url) {
        return url.toUpperCase(java.util.Locale.ROOT).contains("DB_CLOSE_ON_EXIT") ? url : url + ";DB_CLOSE_ON_EXIT=FALSE";
    }

    /**
     * H2 keeps a page cache of 64 MiB per database by default, inside the heap of the JVM that opens it; {@code cacheKb}
     * bounds it for a database this JVM opens itself (not a server's: {@code tcp:}/{@code ssl:}), unless the URL sets
     * CACHE_SIZE itself (0 keeps H2's default). H2 stores the setting in the database file.
     */
    public static String h2CacheBounded(String url, int cacheKb) {
        String u = url.toUpperCase(java.util.Locale.ROOT);
        boolean server = u.startsWith("JDBC:H2:TCP:") || u.startsWith("JDBC:H2:SSL:");
        return cacheKb <= 0 || server || u.contains("CACHE_SIZE=") ? url : url + ";CACHE_SIZE=" + cacheKb;
    }

    /** A JDBC URL fit for logs: any password parameter in it is masked. */
    public static String masked(String url) {
        return url == null ? null : url.replaceAll("(?i)(password=)[^&;]*", "$1******");
    }

    /** The target's connections, through the guard (the target database's circuit breaker). */
    public DataSource dataSource() {
        return guarded;
    }

    /** Sets the guard every borrowed connection passes (the service binds the target database's circuit breaker). */
    public void guard(ConnectionGuard guard) {
        this.guard = guard == null ? ConnectionGuard.NONE : guard;
    }

    private volatile ConnectionGuard guard = ConnectionGuard.NONE;

    private final DataSource guarded = new GuardedDataSource();

    /** The pool, borrowed through the guard: refused at once while the breaker is open, each outcome told to it. */
    private final class GuardedDataSource implements DataSource {
        @java.lang.Override
        public Connection getConnection() throws SQLException {
            guard.before();
            boolean told = false;
            try {
                Connection c = dataSource.getConnection();
                guard.answered();
                told = true;
                return c;
            } catch (SQLException e) {
                // only a database that cannot be reached counts: a pool whose connections are all busy (no cause) does not
                if (unreachable(e)) {
                    guard.lost(e);
                    told = true;
                }
                throw e;
            } finally {
                if (!told) {
                    guard.released();
                }
            }
        }

        @java.lang.Override
        public Connection getConnection(String username, String password) throws SQLException {
            throw new SQLException("the target pool has one user");
        }

        @java.lang.Override
        public java.io.PrintWriter getLogWriter() throws SQLException {
            return dataSource.getLogWriter();
        }

        @java.lang.Override
        public void setLogWriter(java.io.PrintWriter out) throws SQLException {
            dataSource.setLogWriter(out);
        }

        @java.lang.Override
        public void setLoginTimeout(int seconds) throws SQLException {
            dataSource.setLoginTimeout(seconds);
        }

        @java.lang.Override
        public int getLoginTimeout() throws SQLException {
            return dataSource.getLoginTimeout();
        }

        @java.lang.Override
        public java.util.logging.Logger getParentLogger() {
            return java.util.logging.Logger.getGlobal();
        }

        @java.lang.Override
        public <T> T unwrap(Class<T> iface) throws SQLException {
            return iface.isInstance(dataSource) ? iface.cast(dataSource) : dataSource.unwrap(iface);
        }

        @java.lang.Override
        public boolean isWrapperFor(Class<?> iface) throws SQLException {
            return iface.isInstance(dataSource) || dataSource.isWrapperFor(iface);
        }
    }

    public Dialect dialect() {
        return dialect;
    }

    /** The schema of the control tables, as the database stores its name. */
    public String schema() {
        return schema;
    }

    /** The schema synced tables are created in and looked up in, as the database stores its name. */
    public String dataSchema() {
        return dataSchema;
    }

    /** True when a connection can be had and answers within the validation timeout. */
    public boolean reachable() {
        try (Connection c = dataSource.getConnection()) {
            return c.isValid(5);
        } catch (SQLException e) {
            return false;
        }
    }

    @Override
    public void close() {
        dataSource.close();
    }
}
