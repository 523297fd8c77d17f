package io.syncwarden.health;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Map;
import javax.sql.DataSource;
import org.apache.camel.health.HealthCheckResultBuilder;
import org.apache.camel.impl.health.AbstractHealthCheck;

/**
 * Readiness of one source, from {@code source_health}: DOWN while its last runs failed, so readiness shows the
 * problem; never a liveness check, so a failing upstream never gets the service restarted.
 */
public class SourceHealthCheck extends AbstractHealthCheck {
    private final String sourceId;
    private final DataSource dataSource;

    public SourceHealthCheck(String sourceId, DataSource dataSource) {
        super("syncwarden", "source-" + sourceId);
        this.sourceId = sourceId;
        this.dataSource = dataSource;
    }

    @Override
    public boolean isLiveness() {
        return false;
    }

    @Override
    protected void doCall(HealthCheckResultBuilder builder, Map<String, Object> options) {
        builder.detail("source", sourceId);
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT status, consecutive_failures, last_success_at, last_error, "
                     + "last_run_status FROM source_health WHERE source_id = ?")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    builder.detail("status", "unknown").up();
                    return;
                }
                String status = rs.getString(1);
                builder.detail("status", status).detail("consecutive_failures", rs.getInt(2))
                        .detail("last_run_status", String.valueOf(rs.getString(5)))
                        .detail("last_success_at", String.valueOf(rs.getObject(3)));
                if ("degraded".equals(status) || "unhealthy".equals(status)) {
                    builder.message("source " + sourceId + " is " + status + ": " + rs.getString(4)).down();
                } else {
                    builder.up();
                }
            }
        } catch (Exception e) {
            builder.message("cannot read source health: " + e.getMessage()).error(e).down();
        }
    }
}
