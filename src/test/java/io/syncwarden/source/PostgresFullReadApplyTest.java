package io.syncwarden.source;

import io.syncwarden.support.EmbeddedPg;

/**
 * The same reports on a PostgreSQL target: one transaction over COPY batches (the staging table emptied after each),
 * savepoints, deletions through a cursor over the target's keys, snapshots as copy tables.
 */
class PostgresFullReadApplyTest extends FullReadApplyTest {
    @Override
    protected void targetDatabase() {
        try {
            targetUrl = EmbeddedPg.url(EmbeddedPg.newDatabase("fullread"));
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        targetUser = "postgres";
        targetPassword = "postgres";
    }
}
