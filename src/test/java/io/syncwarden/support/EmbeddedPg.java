package io.syncwarden.support;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.UUID;

/** One real PostgreSQL server (embedded binaries) for every test of the run, each test with databases of its own. */
public final class EmbeddedPg {
    private static EmbeddedPostgres server;

    private EmbeddedPg() {
    }

    public static synchronized EmbeddedPostgres server() {
        if (server == null) {
            try {
                server = EmbeddedPostgres.builder().start();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            EmbeddedPostgres started = server;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    started.close();
                } catch (IOException ignored) {
                    // the JVM is exiting
                }
            }));
        }
        return server;
    }

    /** Creates a fresh database and returns its name. */
    public static String newDatabase(String prefix) throws SQLException {
        String name = prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
        try (Connection c = server().getPostgresDatabase().getConnection(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        return name;
    }

    public static int port() {
        return server().getPort();
    }

    public static String url(String database) {
        return "jdbc:postgresql://localhost:" + port() + "/" + database;
    }
}
