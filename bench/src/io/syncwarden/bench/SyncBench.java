package io.syncwarden.bench;

import com.sun.management.GarbageCollectionNotificationInfo;
import com.sun.net.httpserver.HttpServer;
import io.syncwarden.Syncwarden;
import io.syncwarden.sync.SyncTrigger;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.BufferedWriter;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import org.apache.camel.main.Main;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

/**
 * The sync routes against the best plain-JDBC path of each database, doing the same work, in one JVM under
 * {@code -Xmx256m}. Passes: initial load of N rows; re-sync with 10% of the rows changed; an incremental run after 1,000
 * rows changed (trigger to commit: lock, run record, checkpoint included); an N-line CSV report served over HTTP.
 * Each measured three times; median and spread, and the peak live heap (the most heap in use right after a garbage
 * collection during the pass, so allocation churn does not count).
 *
 * <p>Baselines: PostgreSQL COPY into a staging table plus one {@code INSERT .. SELECT .. ON CONFLICT .. DO UPDATE .. WHERE
 * IS DISTINCT FROM} per batch (the best path), and a batched upsert with {@code reWriteBatchedInserts=true}; H2 a batched
 * {@code MERGE .. USING .. WHEN MATCHED AND (changed)} with one reused statement.
 */
public final class SyncBench {
    private static final int BATCH = 1000;
    private static final String COLS = "id, first_name, last_name, email, company, amount, status, updated_at";
    private static final String DDL = "CREATE TABLE leads (id BIGINT PRIMARY KEY, first_name VARCHAR(60), last_name VARCHAR(60), "
            + "email VARCHAR(120), company VARCHAR(120), amount NUMERIC(12, 2), status VARCHAR(20), updated_at TIMESTAMP NOT NULL)";
    private static final AtomicLong PEAK_LIVE = new AtomicLong();
    private static int runs = 3;
    /** "csv": only the CSV report measures (4th argument); anything else: all. */
    private static boolean csvOnly;
    private static final List<String> TABLE = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        int rows = Integer.parseInt(args.length > 0 ? args[0] : "1000000");
        String which = args.length > 1 ? args[1] : "both";
        runs = Integer.parseInt(args.length > 2 ? args[2] : "3");
        csvOnly = args.length > 3 && args[3].equals("csv");
        watchLiveHeap();
        System.out.printf("Syncwarden bench: %,d rows, %d runs per measure, max heap %d MiB, %d cores%n", rows, runs,
                Runtime.getRuntime().maxMemory() >> 20, Runtime.getRuntime().availableProcessors());
        Path dir = Files.createTempDirectory("syncwarden-bench");
        Path csv = csv(dir, rows);
        HttpServer http = serve(csv);
        String report = "http://127.0.0.1:" + http.getAddress().getPort() + "/report.csv";
        try {
            if (!which.equals("pg")) {
                h2(dir, rows, report);
            }
            if (!which.equals("h2")) {
                postgres(dir, rows, report);
            }
        } finally {
            http.stop(0);
        }
        System.out.println();
        System.out.println("| database | pass | route | baseline | ratio | route peak live heap |");
        System.out.println("|---|---|---|---|---|---|");
        TABLE.forEach(System.out::println);
    }

    // ---------------------------------------------------------------- H2

    private static void h2(Path dir, int rows, String report) throws Exception {
        String base = "jdbc:h2:file:" + dir.resolve("h2") + "/";
        // every H2 database here gets the page cache the service gives its own (16 MiB target, 8 MiB replica), so the
        // baselines do the same work in the same memory and the heap figures are the route's, not H2's default 64 MiB
        String replica = base + "replica;CACHE_SIZE=8192";
        String cache = ";CACHE_SIZE=16384";
        try (Connection c = DriverManager.getConnection(replica, "sa", "")) {
            seed(c, rows);
        }
        String replicaRead = replica + ";LAZY_QUERY_EXECUTION=TRUE";
        int[] n = {0};
        if (!csvOnly) {
        measure("H2", "initial load", rows, () -> routeFull(replicaRead, base + "route" + n[0]++, "sa", "", null),
                () -> h2Merge(replica, base + "merge" + n[0]++ + cache, null));
        // re-sync: both targets start from a full copy; 10% of the rows change before each run
        String routeTarget = base + "route-resync";
        String mergeTarget = base + "merge-resync" + cache;
        routeFull(replicaRead, routeTarget, "sa", "", null);
        h2Merge(replica, mergeTarget, null);
        int[] round = {0};
        measure("H2", "re-sync, 10% changed", rows, () -> {
            change(replica, "sa", "", ++round[0], 10);
            return routeFull(replicaRead, routeTarget, "sa", "", null);
        }, () -> h2Merge(replica, mergeTarget, null));
        incremental("H2", replica, replicaRead, base + "route-incr", "sa", "", rows);
        }
        int[] m = {0};
        measure("H2", "CSV report over HTTP", rows, () -> routeCsv(report, base + "csv-route" + m[0]++, "sa", ""),
                () -> h2Merge(null, base + "csv-merge" + m[0]++ + cache, report));
    }

    /** H2's batched MERGE with one reused statement, leaving unchanged rows alone; from the replica or the CSV report. */
    private static long h2Merge(String replica, String target, String report) throws Exception {
        try (Connection dst = DriverManager.getConnection(target, "sa", "")) {
            try (Statement s = dst.createStatement()) {
                s.execute(DDL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"));
            }
            dst.setAutoCommit(false);
            String types = "CAST(? AS BIGINT), CAST(? AS VARCHAR(60)), CAST(? AS VARCHAR(60)), CAST(? AS VARCHAR(120)), "
                    + "CAST(? AS VARCHAR(120)), CAST(? AS NUMERIC(12, 2)), CAST(? AS VARCHAR(20)), CAST(? AS TIMESTAMP)";
            String sql = "MERGE INTO leads T USING (VALUES (" + types + ")) S(" + COLS + ") ON T.id = S.id "
                    + "WHEN MATCHED AND (T.first_name, T.last_name, T.email, T.company, T.amount, T.status, T.updated_at) "
                    + "IS DISTINCT FROM (S.first_name, S.last_name, S.email, S.company, S.amount, S.status, S.updated_at) "
                    + "THEN UPDATE SET first_name = S.first_name, last_name = S.last_name, email = S.email, company = S.company, "
                    + "amount = S.amount, status = S.status, updated_at = S.updated_at "
                    + "WHEN NOT MATCHED THEN INSERT VALUES (" + COLS.replaceAll("(\\w+)", "S.$1") + ")";
            try (PreparedStatement up = dst.prepareStatement(sql)) {
                return each(replica, "sa", "", report, row -> {
                    for (int i = 0; i < 8; i++) {
                        up.setObject(i + 1, row[i]);
                    }
                    up.addBatch();
                }, () -> {
                    up.executeBatch();
                    dst.commit();
                });
            }
        }
    }

    // ---------------------------------------------------------------- PostgreSQL

    private static void postgres(Path dir, int rows, String report) throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().setDataDirectory(dir.resolve("pg")).setCleanDataDirectory(true).start()) {
            String base = "jdbc:postgresql://localhost:" + pg.getPort() + "/";
            int[] n = {0};
            java.util.function.Function<String, String> db = name -> {
                try (Connection c = pg.getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
                    s.execute("CREATE DATABASE " + name);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
                return base + name;
            };
            String replica = db.apply("replica");
            try (Connection c = DriverManager.getConnection(replica, "postgres", "postgres")) {
                seed(c, rows);
            }
            if (!csvOnly) {
            measure("PostgreSQL", "initial load", rows, () -> routeFull(replica, db.apply("route" + n[0]++), "postgres", "postgres", null),
                    () -> pgCopy(replica, db.apply("copy" + n[0]++), null));
            measureBaselineOnly("PostgreSQL", "initial load, batched upsert (reWriteBatchedInserts)", rows,
                    () -> pgBatched(replica, db.apply("batched" + n[0]++) + "?reWriteBatchedInserts=true"));
            String routeTarget = db.apply("route_resync");
            String copyTarget = db.apply("copy_resync");
            routeFull(replica, routeTarget, "postgres", "postgres", null);
            pgCopy(replica, copyTarget, null);
            int[] round = {0};
            measure("PostgreSQL", "re-sync, 10% changed", rows, () -> {
                change(replica, "postgres", "postgres", ++round[0], 10);
                return routeFull(replica, routeTarget, "postgres", "postgres", null);
            }, () -> pgCopy(replica, copyTarget, null));
            incremental("PostgreSQL", replica, replica, db.apply("route_incr"), "postgres", "postgres", rows);
            }
            int[] m = {0};
            measure("PostgreSQL", "CSV report over HTTP", rows, () -> routeCsv(report, db.apply("csv_route" + m[0]++), "postgres", "postgres"),
                    () -> pgCopy(null, db.apply("csv_copy" + m[0]++), report));
        }
    }

    /** PostgreSQL's best path: COPY each batch into a staging table, one INSERT .. SELECT .. ON CONFLICT per batch. */
    private static long pgCopy(String replica, String target, String report) throws Exception {
        try (Connection dst = DriverManager.getConnection(target, "postgres", "postgres")) {
            try (Statement s = dst.createStatement()) {
                s.execute(DDL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"));
                s.execute("CREATE TEMP TABLE stage ON COMMIT DELETE ROWS AS SELECT * FROM leads WITH NO DATA");
            }
            dst.setAutoCommit(false);
            CopyManager copy = dst.unwrap(PGConnection.class).getCopyAPI();
            StringBuilder text = new StringBuilder();
            try (PreparedStatement apply = dst.prepareStatement("INSERT INTO leads AS t SELECT * FROM stage ON CONFLICT (id) DO UPDATE "
                    + "SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, email = EXCLUDED.email, "
                    + "company = EXCLUDED.company, amount = EXCLUDED.amount, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at "
                    + "WHERE (t.first_name, t.last_name, t.email, t.company, t.amount, t.status, t.updated_at) IS DISTINCT FROM "
                    + "(EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.email, EXCLUDED.company, EXCLUDED.amount, EXCLUDED.status, "
                    + "EXCLUDED.updated_at) RETURNING (xmax = 0)")) {
                return each(replica, "postgres", "postgres", report, row -> {
                    for (int i = 0; i < 8; i++) {
                        text.append(row[i] == null ? "\\N" : row[i] instanceof BigDecimal d ? d.toPlainString() : row[i].toString());
                        text.append(i < 7 ? '\t' : '\n');
                    }
                }, () -> {
                    copy.copyIn("COPY stage FROM STDIN", new ByteArrayInputStream(text.toString().getBytes(StandardCharsets.UTF_8)));
                    text.setLength(0);
                    try (ResultSet rs = apply.executeQuery()) {
                        while (rs.next()) {
                            rs.getBoolean(1);
                        }
                    }
                    dst.commit();
                });
            }
        }
    }

    /** A batched upsert with one reused statement (pgjdbc rewrites each batch into multi-row INSERTs). */
    private static long pgBatched(String replica, String target) throws Exception {
        try (Connection dst = DriverManager.getConnection(target, "postgres", "postgres")) {
            try (Statement s = dst.createStatement()) {
                s.execute(DDL.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"));
            }
            dst.setAutoCommit(false);
            try (PreparedStatement up = dst.prepareStatement("INSERT INTO leads AS t VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) "
                    + "DO UPDATE SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, email = EXCLUDED.email, "
                    + "company = EXCLUDED.company, amount = EXCLUDED.amount, status = EXCLUDED.status, updated_at = EXCLUDED.updated_at "
                    + "WHERE (t.first_name, t.last_name, t.email, t.company, t.amount, t.status, t.updated_at) IS DISTINCT FROM "
                    + "(EXCLUDED.first_name, EXCLUDED.last_name, EXCLUDED.email, EXCLUDED.company, EXCLUDED.amount, EXCLUDED.status, "
                    + "EXCLUDED.updated_at)")) {
                return each(replica, "postgres", "postgres", null, row -> {
                    for (int i = 0; i < 8; i++) {
                        up.setObject(i + 1, row[i]);
                    }
                    up.addBatch();
                }, () -> {
                    up.executeBatch();
                    dst.commit();
                });
            }
        }
    }

    // ---------------------------------------------------------------- passes

    private interface Run {
        double seconds() throws Exception;
    }

    private interface RowSink {
        void accept(Object[] row) throws Exception;
    }

    private interface Flush {
        void run() throws Exception;
    }

    /** Runs route and baseline alternately, {@code runs} times each, and records median, spread and peak live heap. */
    private static void measure(String db, String pass, int rows, Run route, Run baseline) throws Exception {
        List<Double> r = new ArrayList<>();
        List<Double> b = new ArrayList<>();
        long peak = 0;
        for (int i = 0; i < runs; i++) {
            gcAndReset();
            r.add(rows / route.seconds());
            peak = Math.max(peak, PEAK_LIVE.get());
            b.add(rows / timed(baseline));
        }
        double rm = median(r);
        double bm = median(b);
        String line = String.format(Locale.ROOT, "| %s | %s | %,.0f rows/s (%,.0f-%,.0f) | %,.0f rows/s (%,.0f-%,.0f) | %.2f | %d MiB |",
                db, pass, rm, Collections.min(r), Collections.max(r), bm, Collections.min(b), Collections.max(b), rm / bm, peak >> 20);
        System.out.println(line);
        TABLE.add(line);
    }

    private static void measureBaselineOnly(String db, String pass, int rows, Run baseline) throws Exception {
        List<Double> b = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            b.add(rows / timed(baseline));
        }
        String line = String.format(Locale.ROOT, "| %s | %s | | %,.0f rows/s (%,.0f-%,.0f) | | |", db, pass, median(b),
                Collections.min(b), Collections.max(b));
        System.out.println(line);
        TABLE.add(line);
    }

    private static double timed(Run baseline) throws Exception {
        long t = System.nanoTime();
        baseline.seconds();
        return (System.nanoTime() - t) / 1e9;
    }

    /** 1,000 rows change (their updated_at moves past every other), then one incremental run, trigger to commit. */
    private static void incremental(String db, String replica, String replicaRead, String target, String user, String pass, int rows)
            throws Exception {
        String routes = """
                - templatedRoute:
                    routeTemplateRef: jdbc
                    routeId: bench-incr
                    parameters:
                      - {name: sourceId, value: bench-incr}
                      - {name: jdbcUrl, value: "%s"}
                      - {name: username, value: "%s"}
                      - {name: password, value: "%s"}
                      - {name: table, value: leads}
                      - {name: keyColumns, value: id}
                      - {name: mode, value: incremental}
                      - {name: watermarkColumn, value: updated_at}
                      - {name: cron, value: "0 0 0 1 1 ? 2099"}
                """.formatted(replicaRead, user, pass);
        Main main = boot(routes, target, user, pass);
        try {
            SyncTrigger trigger = main.getCamelContext().getRegistry().lookupByNameAndType("syncTrigger", SyncTrigger.class);
            check(trigger.fire("bench-incr", "manual")); // the initial copy, not measured
            List<Double> secs = new ArrayList<>();
            for (int i = 1; i <= runs; i++) {
                try (Connection c = DriverManager.getConnection(replica, user, pass);
                     PreparedStatement ps = c.prepareStatement("UPDATE leads SET status = ?, updated_at = ? WHERE MOD(id, ?) = ?")) {
                    ps.setString(1, "incr" + i);
                    ps.setTimestamp(2, Timestamp.valueOf(LocalDateTime.of(2027, 1, 1, 0, 0).plusHours(i)));
                    ps.setInt(3, rows / 1000);
                    ps.setInt(4, i);
                    ps.executeUpdate();
                }
                long t = System.nanoTime();
                check(trigger.fire("bench-incr", "manual"));
                secs.add((System.nanoTime() - t) / 1e9);
            }
            String line = String.format(Locale.ROOT, "| %s | incremental, 1,000 changed of %,d (trigger to commit) | %.3f s (%.3f-%.3f) | | goal <= 0.3 s | |",
                    db, rows, median(secs), Collections.min(secs), Collections.max(secs));
            System.out.println(line);
            TABLE.add(line);
        } finally {
            main.stop();
        }
    }

    private static double routeFull(String replica, String target, String user, String pass, String unused) throws Exception {
        String routes = """
                - templatedRoute:
                    routeTemplateRef: jdbc
                    routeId: bench-full
                    parameters:
                      - {name: sourceId, value: bench-full}
                      - {name: jdbcUrl, value: "%s"}
                      - {name: username, value: "%s"}
                      - {name: password, value: "%s"}
                      - {name: table, value: leads}
                      - {name: keyColumns, value: id}
                      - {name: batchSize, value: "%d"}
                      - {name: fetchSize, value: "%d"}
                      - {name: cron, value: "0 0 0 1 1 ? 2099"}
                """.formatted(replica, user, pass, BATCH, BATCH);
        return fireOnce(routes, "bench-full", target, user, pass);
    }

    private static double routeCsv(String report, String target, String user, String pass) throws Exception {
        String routes = """
                - templatedRoute:
                    routeTemplateRef: http-csv
                    routeId: bench-csv
                    parameters:
                      - {name: sourceId, value: bench-csv}
                      - {name: url, value: "%s"}
                      - {name: mapping, value: "ID=id; First=first_name; Last=last_name; Email=email; Company=company; Amount=amount; Status=status; Updated=updated_at"}
                      - {name: keyColumns, value: id}
                      - {name: targetTable, value: leads}
                      - {name: columnTypes, value: "id=BIGINT; first_name=VARCHAR(60); last_name=VARCHAR(60); email=VARCHAR(120); company=VARCHAR(120); amount=NUMERIC(12,2); status=VARCHAR(20); updated_at=TIMESTAMP"}
                      - {name: batchSize, value: "%d"}
                      - {name: cron, value: "0 0 0 1 1 ? 2099"}
                """.formatted(report, BATCH);
        return fireOnce(routes, "bench-csv", target, user, pass);
    }

    /** Boots the service (not timed) and times one run of the source. */
    private static double fireOnce(String routes, String source, String target, String user, String pass) throws Exception {
        Main main = boot(routes, target, user, pass);
        try {
            SyncTrigger trigger = main.getCamelContext().getRegistry().lookupByNameAndType("syncTrigger", SyncTrigger.class);
            long t0 = System.nanoTime();
            check(trigger.fire(source, "manual"));
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            main.stop();
        }
    }

    private static Main boot(String routes, String target, String user, String pass) throws Exception {
        Path file = Files.createTempFile("bench-routes", ".camel.yaml");
        Files.writeString(file, routes);
        Main main = new Main(Syncwarden.class);
        main.setDefaultPropertyPlaceholderLocation("file:application.properties");
        main.addOverrideProperty("camel.main.routesIncludePattern",
                "file:routes/error-handling.camel.yaml,file:routes/templates.camel.yaml,file:" + file);
        main.addOverrideProperty("camel.server.enabled", "false");
        main.addOverrideProperty("camel.management.enabled", "false");
        main.addOverrideProperty("syncwarden.demo.enabled", "false");
        main.addOverrideProperty("syncwarden.db.url", target);
        main.addOverrideProperty("syncwarden.db.username", user);
        main.addOverrideProperty("syncwarden.db.password", pass);
        main.start();
        return main;
    }

    private static void check(SyncTrigger.Result result) {
        if (!"success".equals(result.status())) {
            throw new IllegalStateException("route run " + result.status(), result.error());
        }
    }

    // ---------------------------------------------------------------- data

    private static void seed(Connection c, int rows) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute(DDL);
            s.execute("CREATE INDEX ix_leads_updated ON leads (updated_at, id)");
        }
        c.setAutoCommit(false);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO leads VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
            for (int i = 1; i <= rows; i++) {
                Object[] row = row(i);
                for (int k = 0; k < 8; k++) {
                    ps.setObject(k + 1, row[k]);
                }
                ps.addBatch();
                if (i % 5000 == 0) {
                    ps.executeBatch();
                    c.commit();
                }
            }
            ps.executeBatch();
            c.commit();
        }
        c.setAutoCommit(true);
        System.out.printf("seeded %,d rows%n", rows);
    }

    private static Object[] row(long i) {
        return new Object[] {i, "First" + (i % 5000), "Last" + (i % 7919), "lead" + i + "@example.com", "Company " + (i % 997),
                BigDecimal.valueOf(i % 100000, 2), i % 3 == 0 ? "won" : "new",
                Timestamp.valueOf(LocalDateTime.of(2026, 1, 1, 0, 0).plusSeconds(i))};
    }

    /** Changes every {@code every}-th row's status (a new value each round). */
    private static void change(String replica, String user, String pass, int round, int every) throws Exception {
        try (Connection c = DriverManager.getConnection(replica, user, pass);
             PreparedStatement ps = c.prepareStatement("UPDATE leads SET status = ? WHERE MOD(id, ?) = 0")) {
            ps.setString(1, "round" + round);
            ps.setInt(2, every);
            ps.executeUpdate();
        }
    }

    private static Path csv(Path dir, int rows) throws Exception {
        Path file = dir.resolve("report.csv");
        try (BufferedWriter w = Files.newBufferedWriter(file)) {
            w.write("ID,First,Last,Email,Company,Amount,Status,Updated\r\n");
            for (int i = 1; i <= rows; i++) {
                Object[] r = row(i);
                w.write(r[0] + "," + r[1] + "," + r[2] + "," + r[3] + ",\"" + r[4] + "\"," + ((BigDecimal) r[5]).toPlainString() + ","
                        + r[6] + "," + r[7].toString().replace(".0", "") + "\r\n");
            }
        }
        return file;
    }

    private static HttpServer serve(Path csv) throws Exception {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/report.csv", exchange -> {
            exchange.getResponseHeaders().add("Content-Type", "text/csv");
            exchange.sendResponseHeaders(200, Files.size(csv));
            try (OutputStream out = exchange.getResponseBody()) {
                Files.copy(csv, out);
            }
        });
        server.start();
        return server;
    }

    /** Streams rows from the replica (key order) or from the CSV report into the sink, flushing every batch. */
    private static long each(String replica, String user, String pass, String report, RowSink sink, Flush flush) throws Exception {
        long n = 0;
        if (replica != null) {
            try (Connection src = DriverManager.getConnection(replica, user, pass)) {
                src.setAutoCommit(false);
                try (PreparedStatement read = src.prepareStatement("SELECT " + COLS + " FROM leads ORDER BY id")) {
                    read.setFetchSize(BATCH);
                    try (ResultSet rs = read.executeQuery()) {
                        Object[] row = new Object[8];
                        while (rs.next()) {
                            for (int i = 0; i < 8; i++) {
                                row[i] = rs.getObject(i + 1);
                            }
                            sink.accept(row);
                            if (++n % BATCH == 0) {
                                flush.run();
                            }
                        }
                    }
                }
                src.rollback();
            }
        } else {
            HttpResponse<InputStream> answer = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(report)).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            try (CSVParser parser = CSVParser.parse(new InputStreamReader(answer.body(), StandardCharsets.UTF_8),
                    CSVFormat.RFC4180.builder().setHeader().setSkipHeaderRecord(true).get())) {
                Object[] row = new Object[8];
                for (CSVRecord r : parser) {
                    row[0] = Long.valueOf(r.get(0));
                    for (int i = 1; i < 5; i++) {
                        row[i] = r.get(i);
                    }
                    row[5] = new BigDecimal(r.get(5));
                    row[6] = r.get(6);
                    row[7] = Timestamp.valueOf(r.get(7).length() == 16 ? r.get(7) + ":00" : r.get(7));
                    sink.accept(row);
                    if (++n % BATCH == 0) {
                        flush.run();
                    }
                }
            }
        }
        flush.run();
        return n;
    }

    // ---------------------------------------------------------------- heap

    /** Records the most heap in use right after any garbage collection. */
    private static void watchLiveHeap() {
        java.util.Set<String> heapPools = new java.util.HashSet<>();
        ManagementFactory.getMemoryPoolMXBeans().stream().filter(p -> p.getType() == java.lang.management.MemoryType.HEAP)
                .forEach(p -> heapPools.add(p.getName()));
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            ((NotificationEmitter) gc).addNotificationListener((notification, handback) -> {
                if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(notification.getType())) {
                    var info = GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData());
                    long used = info.getGcInfo().getMemoryUsageAfterGc().entrySet().stream()
                            .filter(e -> heapPools.contains(e.getKey())).mapToLong(e -> e.getValue().getUsed()).sum();
                    PEAK_LIVE.accumulateAndGet(used, Math::max);
                }
            }, null, null);
        }
    }

    private static void gcAndReset() {
        System.gc();
        PEAK_LIVE.set(0);
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
