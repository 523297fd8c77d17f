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

    TargetDatabase database() {
        return db;
    }

    /**
     * Opens an entry before a change is made (outcome {@code started}); its id. A database that cannot take it
     * refuses the change (the caller answers 503): nothing changes without its audit row.
     */
    public long begin(String actor, String role, String action, String target) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("INSERT INTO audit_log (at, actor, role, action, target, outcome) "
                     + "VALUES (?, ?, ?, ?, ?, 'started')", new String[] {"audit_id"})) {
            c.setAutoCommit(true);
            ps.setObject(1, utc(Instant.now()));
            ps.setString(2, clean(actor, 100));
            ps.setString(3, role);
            ps.setString(4, clean(action, 60));
            ps.setString(5, clean(target, 200));
            ps.executeUpdate();
            try (java.sql.ResultSet keys = ps.getGeneratedKeys()) {
                keys.next();
                long id = keys.getLong(1);
                LOG.info("API audit {}: {} {} by {}", id, clean(action, 60), clean(target, 200), clean(actor, 100));
                return id;
            }
        }
    }

    /** Closes an entry with how the change ended. */
    public void finish(long id, String outcome, String detail) {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE audit_log SET outcome = ?, detail = ? WHERE audit_id = ?")) {
            c.setAutoCommit(true);
            ps.setString(1, clean(outcome, 40));
            ps.setString(2, clean(detail, 2000));
            ps.setLong(3, id);
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.error("Audit: cannot record the outcome ({}) of entry {}: {}", outcome, id, e.getMessage());
        }
        LOG.info("API audit {}: {} {}", id, clean(outcome, 40), clean(detail, 300));
    }

    /** Text for the log and the table: one line, no control characters (a path cannot forge a log line), bounded. */
    static String clean(String text, int max) {
        if (text == null) {
            return null;
        }
        return truncate(text.replaceAll("[\\p{Cntrl}]", " "), max);
    }

    /** Writes one entry for something already decided (a refused attempt); a database that cannot take it is logged. */
    public void record(String actor, String role, String action, String target, String outcome, String detail) {
        try {
            finish(begin(actor, role, action, target), outcome, detail);
        } catch (SQLException e) {
            LOG.error("Audit: cannot record {} {} by {} ({}): {}", clean(action, 60), clean(target, 200), clean(actor, 100),
                    clean(outcome, 40), e.getMessage());
        }
    }
}
