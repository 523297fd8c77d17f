package io.syncwarden;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.UUID;
import org.apache.camel.main.Main;
import org.junit.jupiter.api.Test;

/** A calendar that writes back to a sheet cannot start with a read-only Google scope: the start says what to set. */
class WriteBackScopeTest {

    @Test
    void should_stop_at_start_up_naming_the_scope_to_set() {
        Main main = new Main(Syncwarden.class);
        main.setPropertyPlaceholderLocations("file:application.properties");
        main.addOverrideProperty("camel.main.routesIncludePattern", "file:routes/*.camel.yaml,classpath:test-routes/test-calcom-sources.camel.yaml");
        main.addOverrideProperty("camel.server.enabled", "false");
        main.addOverrideProperty("camel.management.enabled", "false");
        main.addOverrideProperty("syncwarden.demo.enabled", "false");
        main.addOverrideProperty("syncwarden.db.url", "jdbc:h2:mem:scope-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");
        main.addOverrideProperty("test.calcom.base", "http://127.0.0.1:9");
        main.addOverrideProperty("test.calcom.key", "cal_test_key");
        try {
            assertThatThrownBy(main::start).hasStackTraceContaining("Source it-calcom-writeback writes back to Google sheet")
                    .hasStackTraceContaining("set camel.component.google-sheets.scopes = https://www.googleapis.com/auth/spreadsheets");
        } finally {
            main.stop();
        }
    }
}
