package io.syncwarden.api;

import static io.syncwarden.sync.SyncRuns.truncate;
import static io.syncwarden.sync.SyncRuns.utc;

import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The audit log: every mutating API call, when, by which token, what on what, and how it ended. */
public class Audit {
    private static final Logger LOG = LoggerFactory.getLogger(Audit.class);
    private final TargetDatabase db;

    public Audit(TargetDatabase db) {
        this.db = db;
    }

    /** Writes one entry; a database that cannot take it is logged (the action itself stands). */
    public void record(String actor, String role, String action, String target, String outcome, String detail) {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("INSERT INTO audit_log (at, actor, role, action, target, outcome, detail) "
                     + "VALUES (?, ?, ?, ?, ?, ?, ?)")) {
            c.setAutoCommit(true);
            ps.setObject(1, utc(Instant.now()));
            ps.setString(2, truncate(actor, 100));
            ps.setString(3, role);
            ps.setString(4, truncate(action, 60));
            ps.setString(5, truncate(target, 200));
            ps.setString(6, truncate(outcome, 40));
            ps.setString(7, truncate(detail, 2000));
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.error("Audit: cannot record {} {} by {} ({}): {}", action, target, actor, outcome, e.getMessage());
        }
        LOG.info("API: {} {} by {} ({}): {}", action, target, actor, outcome, detail == null ? "" : detail);
    }
}
