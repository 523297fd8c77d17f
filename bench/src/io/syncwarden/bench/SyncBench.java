package io.syncwarden.bench;

import io.syncwarden.Syncwarden;
import io.syncwarden.store.Dialect;
import io.syncwarden.sync.SyncTrigger;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.LocalDateTime;
import java.util.List;
import org.apache.camel.main.Main;

/**
 * Syncs N leads-like rows (8 columns) replica -> target through the real jdbc route, then the same rows with a plain
 * JDBC loop (streamed read, reused batched upsert statement), and prints rows/s, the ratio and peak heap.
 */
public final class SyncBench {
    private static final List<String> COLS = List.of("id", "first_name", "last_name", "email", "company", "amount", "status", "updated_at");
    private static final int BATCH = 1000;

    public static void main(String[] args) throws Exception {
        int rows = Integer.parseInt(args.length > 0 ? args[0] : "1000000");
        String which = args.length > 1 ? args[1] : "both";
        System.out.printf("Syncwarden bench: %,d rows, max heap %d MiB, %d cores%n", rows,
                Runtime.getRuntime().maxMemory() >> 20, Runtime.getRuntime().availableProcessors());
        Path dir = Files.createTempDirectory("syncwarden-bench");
        if (!which.equals("pg")) {
            String h2 = "jdbc:h2:file:" + dir.resolve("h2") + "/";
            run("H2", h2 + "replica;LAZY_QUERY_EXECUTION=TRUE", h2 + "target-route", h2 + "target-plain", "sa", "", rows);
        }
        if (!which.equals("h2")) {
            try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setDataDirectory(dir.resolve("pg")).setCleanDataDirectory(true).start()) {
                try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                    for (String db : List.of("replica", "target_route", "target_plain")) {
                        s.execute("CREATE DATABASE " + db);
                    }
                }
                String base = "jdbc:postgresql://localhost:" + pg.getPort() + "/";
                run("PostgreSQL", base + "replica", base + "target_route", base + "target_plain", "postgres", "postgres", rows);
            }
        }
    }

    private static void run(String name, String replica, String routeTarget, String plainTarget, String user, String pass, int rows)
            throws Exception {
        try (Connection c = DriverManager.getConnection(replica, user, pass)) {
            seed(c, rows);
        }
        resetPeak();
        double[] route = viaRoute(replica, routeTarget, user, pass);
        long routeRows = (long) route[0];
        double routeSecs = route[1];
        long routePeak = peakHeap();

        resetPeak();
        long t1 = System.nanoTime();
        long plainRows = plain(replica, plainTarget, user, pass);
        double plainSecs = (System.nanoTime() - t1) / 1e9;
        long plainPeak = peakHeap();

        double routeRate = routeRows / routeSecs;
        double plainRate = plainRows / plainSecs;
        System.out.printf("%-10s route: %,d rows in %.1f s = %,.0f rows/s (peak heap %d MiB)%n", name, routeRows, routeSecs, routeRate, routePeak >> 20);
        System.out.printf("%-10s plain: %,d rows in %.1f s = %,.0f rows/s (peak heap %d MiB)%n", name, plainRows, plainSecs, plainRate, plainPeak >> 20);
        System.out.printf("%-10s ratio route/plain = %.2f (goal >= 0.80)  [initial load into an empty table]%n", name, routeRate / plainRate);

        // Second pass over the same rows: the route finds every row unchanged, the plain loop upserts them all again.
        resetPeak();
        double[] again = viaRoute(replica, routeTarget, user, pass);
        long t2 = System.nanoTime();
        long plainAgain = plain(replica, plainTarget, user, pass);
        double plainAgainSecs = (System.nanoTime() - t2) / 1e9;
        double routeRead = rows / again[1];
        System.out.printf("%-10s re-sync route: %,d rows read in %.1f s = %,.0f rows/s; plain upsert %.1f s = %,.0f rows/s; ratio %.2f (peak heap %d MiB)%n",
                name, rows, again[1], routeRead, plainAgainSecs, plainAgain / plainAgainSecs, routeRead / (plainAgain / plainAgainSecs), peakHeap() >> 20);
    }

    private static void seed(Connection c, int rows) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE leads (id BIGINT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), email VARCHAR(120), "
                    + "company VARCHAR(120), amount NUMERIC(12, 2), status VARCHAR(20), updated_at TIMESTAMP NOT NULL)");
        }
        c.setAutoCommit(false);
        LocalDateTime base = LocalDateTime.of(2026, 1, 1, 0, 0);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO leads VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (int i = 1; i <= rows; i++) {
                ps.setLong(1, i);
                ps.setString(2, "First" + (i % 5000));
                ps.setString(3, "Last" + (i % 7919));
                ps.setString(4, "lead" + i + "@example.com");
                ps.setString(5, "Company " + (i % 997));
                ps.setBigDecimal(6, BigDecimal.valueOf(i % 100000, 2));
                ps.setString(7, i % 3 == 0 ? "won" : "new");
                ps.setTimestamp(8, Timestamp.valueOf(base.plusSeconds(i)));
                ps.addBatch();
                if (i % 5000 == 0) {
                    ps.executeBatch();
                    c.commit();
                }
            }
            ps.executeBatch();
            c.commit();
        }
        System.out.printf("seeded %,d rows%n", rows);
    }

    /** Boots the service (not timed), then times one run of the source: returns rows inserted and seconds. */
    private static double[] viaRoute(String replica, String target, String user, String pass) throws Exception {
        Path routes = Files.createTempDirectory("bench-routes");
        Files.writeString(routes.resolve("bench.camel.yaml"), """
                - templatedRoute:
                    routeTemplateRef: jdbc
                    routeId: bench-leads
                    parameters:
                      - {name: sourceId, value: bench-leads}
                      - {name: jdbcUrl, value: "%s"}
                      - {name: username, value: "%s"}
                      - {name: password, value: "%s"}
                      - {name: table, value: leads}
                      - {name: keyColumns, value: id}
                      - {name: batchSize, value: "%d"}
                      - {name: fetchSize, value: "%d"}
                      - {name: cron, value: "0 0 0 1 1 ? 2099"}
                """.formatted(replica, user, pass, BATCH, BATCH));
        Main main = new Main(Syncwarden.class);
        main.setDefaultPropertyPlaceholderLocation("file:application.properties");
        main.addOverrideProperty("camel.main.routesIncludePattern",
                "file:routes/error-handling.camel.yaml,file:routes/templates.camel.yaml,file:" + routes.resolve("bench.camel.yaml"));
        main.addOverrideProperty("camel.server.enabled", "false");
        main.addOverrideProperty("camel.management.enabled", "false");
        main.addOverrideProperty("syncwarden.demo.enabled", "false");
        main.addOverrideProperty("syncwarden.db.url", target);
        main.addOverrideProperty("syncwarden.db.username", user);
        main.addOverrideProperty("syncwarden.db.password", pass);
        main.start();
        try {
            SyncTrigger trigger = main.getCamelContext().getRegistry().lookupByNameAndType("syncTrigger", SyncTrigger.class);
            long t0 = System.nanoTime();
            SyncTrigger.Result result = trigger.fire("bench-leads", "manual");
            double secs = (System.nanoTime() - t0) / 1e9;
            if (!"success".equals(result.status())) {
                throw new IllegalStateException("route run " + result.status(), result.error());
            }
            try (Connection c = DriverManager.getConnection(target, user, pass); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT rows_inserted FROM syncwarden.sync_run WHERE run_id = " + result.runId())) {
                // rows inserted: equals the rows read on the first pass (checked by the caller's output)
                rs.next();
                return new double[] {rs.getLong(1), secs};
            }
        } finally {
            main.stop();
        }
    }

    private static long plain(String replica, String target, String user, String pass) throws Exception {
        try (Connection src = DriverManager.getConnection(replica, user, pass);
             Connection dst = DriverManager.getConnection(target, user, pass)) {
            try (Statement s = dst.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS leads (id BIGINT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), "
                        + "email VARCHAR(120), company VARCHAR(120), amount NUMERIC(12, 2), status VARCHAR(20), updated_at TIMESTAMP NOT NULL)");
            }
            Dialect dialect = Dialect.of(dst);
            String sql = dialect == Dialect.POSTGRESQL
                    ? "INSERT INTO leads VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET first_name = EXCLUDED.first_name, "
                      + "last_name = EXCLUDED.last_name, email = EXCLUDED.email, company = EXCLUDED.company, amount = EXCLUDED.amount, "
                      + "status = EXCLUDED.status, updated_at = EXCLUDED.updated_at"
                    : "MERGE INTO leads KEY (id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
            src.setAutoCommit(false);
            dst.setAutoCommit(false);
            long n = 0;
            try (PreparedStatement read = src.prepareStatement("SELECT * FROM leads ORDER BY id")) {
                read.setFetchSize(BATCH);
                try (ResultSet rs = read.executeQuery(); PreparedStatement up = dst.prepareStatement(sql)) {
                    while (rs.next()) {
                        for (int i = 1; i <= COLS.size(); i++) {
                            up.setObject(i, rs.getObject(i));
                        }
                        up.addBatch();
                        if (++n % BATCH == 0) {
                            up.executeBatch();
                            dst.commit();
                        }
                    }
                    up.executeBatch();
                    dst.commit();
                }
            }
            return n;
        }
    }

    private static void resetPeak() {
        System.gc();
        ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
    }

    private static long peakHeap() {
        return ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getType() == MemoryType.HEAP)
                .mapToLong(p -> p.getPeakUsage().getUsed()).sum();
    }
}
