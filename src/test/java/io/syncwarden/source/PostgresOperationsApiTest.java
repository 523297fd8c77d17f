package io.syncwarden.source;

import io.syncwarden.support.EmbeddedPg;

/** The operations API on a PostgreSQL target: the same calls, shapes, roles, audit rows and secret scan. */
class PostgresOperationsApiTest extends OperationsApiTest {
    @Override
    protected void targetDatabase() {
        try {
            targetUrl = EmbeddedPg.url(EmbeddedPg.newDatabase("api"));
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        targetUser = "postgres";
        targetPassword = "Db-S3cret-Pa55"; // embedded PostgreSQL trusts local connections: the secret scan still looks for it
    }
}
