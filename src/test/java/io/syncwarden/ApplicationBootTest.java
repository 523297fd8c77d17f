package io.syncwarden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.apache.camel.CamelContext;
import org.apache.camel.BeanInject;
import org.apache.camel.health.HealthCheck;
import org.apache.camel.health.HealthCheckHelper;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.test.main.junit5.CamelMainTest;
import org.junit.jupiter.api.Test;

/** Boots the real application (application.properties and routes/ from the working directory) with the demo on. */
@CamelMainTest(mainClass = Syncwarden.class, propertyPlaceholderLocations = "file:application.properties", properties = {
        "syncwarden.db.url=jdbc:h2:mem:boot-target;DB_CLOSE_DELAY=-1",
        "syncwarden.demo.url=jdbc:h2:mem:boot-demo;DB_CLOSE_DELAY=-1",
        "camel.server.enabled=false", "camel.management.enabled=false"})
class ApplicationBootTest {

    @BeanInject
    CamelContext context;

    private long count(String sql) throws Exception {
        TargetDatabase db = context.getRegistry().findSingleByType(TargetDatabase.class);
        try (Connection c = db.dataSource().getConnection(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void should_sync_the_demo_replica_on_start_up() {
        await("demo sync on start-up").atMost(Duration.ofSeconds(30))
                .until(() -> count("SELECT COUNT(*) FROM syncwarden.sync_run WHERE source_id = 'demo-replica-leads' AND status = 'success' AND run_trigger = 'startup'") >= 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> count("SELECT COUNT(*) FROM PUBLIC.demo_leads") == 500);
    }

    @Test
    void should_give_every_source_route_the_shared_error_handling() {
        ModelCamelContext model = (ModelCamelContext) context;
        assertThat(model.getRouteDefinition("demo-replica-leads").getRouteConfigurationId()).isEqualTo("sync-errors");
        assertThat(model.getRouteConfigurationDefinitions()).extracting(d -> d.getId()).contains("sync-errors");
    }

    @Test
    void should_report_a_readiness_check_per_source() {
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(HealthCheckHelper.invokeReadiness(context, "full"))
                .filteredOn(r -> r.getCheck().getId().equals("source-demo-replica-leads"))
                .singleElement().satisfies(r -> assertThat(r.getState()).isEqualTo(HealthCheck.State.UP)));
        assertThat(HealthCheckHelper.invokeLiveness(context, "full")).noneMatch(r -> r.getCheck().getId().startsWith("source-"));
    }
}
