package io.syncwarden.sync;

import io.syncwarden.support.EmbeddedPg;

/** Run records on a real PostgreSQL target behind the proxy. */
class PostgresRunRecordTest extends RunRecordScenarios {

    @Override
    String urlTemplate() throws Exception {
        return "jdbc:postgresql://127.0.0.1:{port}/" + EmbeddedPg.newDatabase("runs");
    }

    @Override
    int directPort() {
        return EmbeddedPg.port();
    }

    @Override
    String user() {
        return "postgres";
    }

    @Override
    String password() {
        return "postgres";
    }
}
