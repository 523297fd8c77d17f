package io.syncwarden.source;

import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.options;
import static org.assertj.core.api.Assertions.assertThat;

import com.github.tomakehurst.wiremock.WireMockServer;
import io.syncwarden.SyncwardenTestSupport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;

/**
 * Boots the real application (routes/ plus one test routes file) on an in-memory H2 target, with a WireMock server
 * on loopback that plays the upstream's protocol. Subclasses stub the upstream and fire their test instances.
 */
abstract class UpstreamStubTestSupport extends SyncwardenTestSupport {
    // created where CamelTestSupport asks for properties (from its constructor, before field initialisers run)
    protected WireMockServer upstream;
    protected String targetUrl;
    protected String targetUser;
    protected String targetPassword;

    /** The classpath test routes file holding this test's source instances. */
    protected abstract String testRoutes();

    /** Extra properties the test routes read (base URL of the stub, credentials). */
    protected abstract void properties(Properties p);

    @Override
    protected Properties useOverridePropertiesWithPropertiesComponent() {
        upstream = new WireMockServer(options().dynamicPort().bindAddress("127.0.0.1"));
        upstream.start();
        targetDatabase();
        Properties p = bootProperties(testRoutes(), targetUrl, targetUser, targetPassword);
        p.put("syncwarden.retry.max-redeliveries", "2");
        p.put("syncwarden.retry.rate-limit-wait-ms", "10");
        properties(p);
        return p;
    }

    /** Sets the target database: an in-memory H2 one of its own; a subclass may choose PostgreSQL. */
    protected void targetDatabase() {
        targetUrl = "jdbc:h2:mem:stub-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";
        targetUser = "sa";
        targetPassword = "";
    }

    @AfterEach
    void stopStub() {
        upstream.stop();
    }

    /** A freshly generated service-account key whose token_uri is the stub. */
    protected static String serviceAccountKey(String tokenUri) {
        try {
            KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
            gen.initialize(2048);
            String pem = "-----BEGIN PRIVATE KEY-----\n"
                    + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(gen.generateKeyPair().getPrivate().getEncoded())
                    + "\n-----END PRIVATE KEY-----\n";
            com.fasterxml.jackson.databind.node.ObjectNode key = new com.fasterxml.jackson.databind.ObjectMapper().createObjectNode().put("type", "service_account").put("project_id", "syncwarden-test")
                    .put("private_key_id", "k1").put("private_key", pem)
                    .put("client_email", "sync@syncwarden-test.iam.gserviceaccount.com").put("client_id", "1234567890")
                    .put("token_uri", tokenUri);
            Path file = Files.createTempFile("sa-key", ".json");
            Files.writeString(file, key.toString());
            file.toFile().deleteOnExit();
            return file.toString();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** The Finale-like report sources of test-csv-sources.camel.yaml: the stub, and the key/secret pair. */
    protected static final String FINALE_KEY = "fin-key-123";
    protected static final String FINALE_SECRET = "fin-secret-456";

    protected void finaleProperties(Properties p) {
        p.put("test.finale.base", upstream.baseUrl());
        p.put("test.finale.key", FINALE_KEY);
        p.put("test.finale.secret", FINALE_SECRET);
    }

    /**
     * The Cal.com sources of test-calcom-sources.camel.yaml: the stub, the key(s), and a Google identity on the stub for
     * the write-back instance (which needs the read-write scope, checked at start-up).
     */
    protected void calcomProperties(Properties p, String apiKey) {
        p.put("test.calcom.base", upstream.baseUrl());
        p.put("test.calcom.key", apiKey);
        p.put("camel.component.google-sheets.serviceAccountKey", serviceAccountKey(upstream.baseUrl() + "/token"));
        p.put("syncwarden.google.root-url", upstream.baseUrl() + "/");
        p.put("camel.component.google-sheets.scopes", "https://www.googleapis.com/auth/spreadsheets");
    }

    protected Connection target() throws SQLException {
        return DriverManager.getConnection(targetUrl, targetUser, targetPassword);
    }

    /** The sync_run row of a run: status, counts, error class and message. */
    protected Map<String, Object> run(long runId) throws SQLException {
        try (Connection c = target(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT status, rows_read, rows_inserted, rows_updated, rows_unchanged, rows_rejected, "
                     + "error_class, error_message, rows_deleted, new_columns FROM syncwarden.sync_run WHERE run_id = " + runId)) {
            assertThat(rs.next()).isTrue();
            Map<String, Object> m = new HashMap<>();
            m.put("status", rs.getString(1));
            m.put("read", rs.getLong(2));
            m.put("inserted", rs.getLong(3));
            m.put("updated", rs.getLong(4));
            m.put("unchanged", rs.getLong(5));
            m.put("rejected", rs.getLong(6));
            m.put("error_class", rs.getString(7));
            m.put("error", rs.getString(8));
            m.put("deleted", rs.getLong(9));
            m.put("new_columns", rs.getString(10));
            return m;
        }
    }

    protected long count(String sql) throws SQLException {
        try (Connection c = target(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    protected String text(String sql) throws SQLException {
        try (Connection c = target(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    /** A free port on loopback, for the business port of a test that calls the API over HTTP. */
    protected static int freePort() {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A token's SHA-256 as syncwarden.api.tokens holds it. */
    protected static String sha256(String token) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * An in-memory replica with an {@code orders} table of 240 rows whose {@code updated_at} is one hour apart from
     * 2026-03-01 01:00 (24 per day); its URL.
     */
    protected static String ordersReplica() {
        String url = "jdbc:h2:mem:orders-replica-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";
        try (Connection c = java.sql.DriverManager.getConnection(url, "sa", ""); java.sql.Statement s = c.createStatement()) {
            s.execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, customer VARCHAR(60), total NUMERIC(10, 2), updated_at TIMESTAMP NOT NULL)");
            s.execute("INSERT INTO orders SELECT x, 'Customer ' || x, x * 1.5, TIMESTAMP '2026-03-01 00:00:00' + x * INTERVAL '1' HOUR "
                    + "FROM SYSTEM_RANGE(1, 240)");
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
        return url;
    }

    /** A temporary folder holding a copy of the project's routes/ (for the live reload to look at); its path. */
    protected static java.nio.file.Path copyOfRoutes(String prefix) {
        try {
            java.nio.file.Path dir = java.nio.file.Files.createTempDirectory(prefix);
            try (java.util.stream.Stream<java.nio.file.Path> routes = java.nio.file.Files.list(java.nio.file.Path.of("routes"))) {
                for (java.nio.file.Path r : routes.toList()) {
                    java.nio.file.Files.copy(r, dir.resolve(r.getFileName()));
                }
            }
            return dir;
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Deletes a flat folder made by {@link #copyOfRoutes}. */
    protected static void deleteFolder(java.nio.file.Path dir) throws java.io.IOException {
        if (dir == null || !java.nio.file.Files.isDirectory(dir)) {
            return;
        }
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(dir)) {
            for (java.nio.file.Path f : files.toList()) {
                java.nio.file.Files.deleteIfExists(f);
            }
        }
        java.nio.file.Files.deleteIfExists(dir);
    }
}
