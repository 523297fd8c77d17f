package io.syncwarden.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TargetDatabaseTest {

    @Test
    void should_mask_a_password_in_a_jdbc_url_before_logging_it() {
        assertThat(TargetDatabase.masked("jdbc:postgresql://db:5432/sw?user=sw&password=s3cret&ssl=true"))
                .isEqualTo("jdbc:postgresql://db:5432/sw?user=sw&password=******&ssl=true")
                .doesNotContain("s3cret");
    }

    @Test
    void should_say_the_database_url_is_required() {
        assertThatThrownBy(() -> new TargetDatabase(" ", "sa", "", 2)).hasMessageContaining("syncwarden.db.url is required");
    }

    @Test
    void should_migrate_an_empty_h2_database_to_the_control_tables() throws Exception {
        try (TargetDatabase db = new TargetDatabase("jdbc:h2:mem:migrate-test;DB_CLOSE_DELAY=-1", "sa", "", 2);
             var c = db.dataSource().getConnection(); var s = c.createStatement()) {
            for (String table : new String[] {"sync_run", "source_health", "sync_checkpoint", "source_lock", "failure_log", "rejected_row"}) {
                try (var rs = s.executeQuery("SELECT COUNT(*) FROM " + table)) {
                    assertThat(rs.next()).as(table).isTrue();
                }
            }
            assertThat(db.dialect()).isEqualTo(Dialect.H2);
        }
    }

    @Test
    void should_bound_the_h2_page_cache_unless_the_url_sets_it() throws Exception {
        assertThat(cacheKb("jdbc:h2:mem:cache-default;DB_CLOSE_DELAY=-1", TargetDatabase.Options.H2_CACHE_KB)).isEqualTo(16384);
        assertThat(cacheKb("jdbc:h2:mem:cache-url;DB_CLOSE_DELAY=-1;CACHE_SIZE=4096", TargetDatabase.Options.H2_CACHE_KB)).isEqualTo(4096);
        assertThat(cacheKb("jdbc:h2:mem:cache-h2;DB_CLOSE_DELAY=-1", 0)).as("0 keeps H2's default (no setting)").isNull();
    }

    private static Integer cacheKb(String url, int configured) throws Exception {
        var o = TargetDatabase.Options.of(url, "sa", "");
        o = new TargetDatabase.Options(o.url(), o.username(), o.password(), 2, o.schema(), o.dataSchema(), o.connectTimeoutMs(),
                o.lockTimeoutMs(), o.statementTimeoutMs(), o.socketTimeoutMs(), configured);
        try (TargetDatabase db = new TargetDatabase(o); var c = db.dataSource().getConnection(); var s = c.createStatement();
             var rs = s.executeQuery("SELECT SETTING_VALUE FROM INFORMATION_SCHEMA.SETTINGS WHERE SETTING_NAME = 'CACHE_SIZE'")) {
            return rs.next() ? Integer.valueOf(rs.getString(1)) : null;
        }
    }

    @Test
    void should_count_an_unreachable_database_for_its_breaker_but_not_a_busy_pool() {
        // Hikari's timeout with the driver's reason (connection refused) vs with none (every connection in use)
        assertThat(TargetDatabase.unreachable(new java.sql.SQLTransientConnectionException("Connection is not available",
                null, new java.net.ConnectException("Connection refused")))).isTrue();
        assertThat(TargetDatabase.unreachable(new java.sql.SQLTransientConnectionException(
                "syncwarden-target - Connection is not available, request timed out after 1001ms"))).isFalse();
        assertThat(TargetDatabase.unreachable(new java.sql.SQLException("terminating connection", "57P01"))).isFalse();
        assertThat(TargetDatabase.unreachable(new java.sql.SQLException("I/O error", "08006"))).isTrue();
    }
}
