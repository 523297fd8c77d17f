package io.syncwarden.heal;

import static io.syncwarden.sync.SyncRuns.truncate;
import static io.syncwarden.sync.SyncRuns.utc;

import io.syncwarden.store.TargetDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Incidents: what a person may need to know, one open incident per (source, kind). Opening one that is already open
 * counts another occurrence (and raises its severity if the new one is higher) instead of adding a second incident;
 * resolving closes it. Every change is an {@code incident_event} with who or what did it.
 */
public class Incidents {
    private static final Logger LOG = LoggerFactory.getLogger(Incidents.class);
    /** Severities in rising order. */
    public static final List<String> SEVERITIES = List.of("warning", "high", "critical");

    private final TargetDatabase db;
    private volatile io.syncwarden.sync.SyncMetrics metrics;

    public Incidents(TargetDatabase db) {
        this.db = db;
    }

    /** Counts incidents opened and resolved by severity ({@code syncwarden_incidents_total{event,severity,kind}}). */
    public void metrics(io.syncwarden.sync.SyncMetrics metrics) {
        this.metrics = metrics;
    }

    private void count(String event, String severity, String kind) {
        io.syncwarden.sync.SyncMetrics m = metrics;
        if (m != null) {
            m.count("syncwarden.incidents", "Incidents opened, escalated and resolved, by severity and kind", "event", event,
                    "severity", severity, "kind", kind);
        }
    }

    /** An open incident as read back. */
    public record Incident(long id, String sourceId, String kind, String severity, String status, String message,
                           int occurrences, Long runId) {
    }

    /** Opens (or repeats) the incident of this kind for the source, in its own transaction; logs, never throws. */
    public void open(String sourceId, String kind, String severity, String message, Long runId, String actor) {
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(false);
            try {
                open(c, sourceId, kind, severity, message, runId, actor);
                c.commit();
            } catch (SQLException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            LOG.error("Cannot record incident {} of source {} ({}): {}", kind, sourceId, message, e.getMessage());
        }
    }

    /** Opens (or repeats, escalating) the incident inside the caller's transaction; its id. */
    public long open(Connection c, String sourceId, String kind, String severity, String message, Long runId, String actor)
            throws SQLException {
        Instant now = Instant.now();
        String key = sourceId + "|" + kind;
        Incident current = find(c, key);
        if (current == null) {
            java.sql.Savepoint sp = c.setSavepoint();
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO incident (source_id, kind, severity, status, open_key, message, "
                    + "run_id, opened_at, updated_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?)", new String[] {"incident_id"})) {
                ps.setString(1, sourceId);
                ps.setString(2, kind);
                ps.setString(3, severity);
                ps.setString(4, key);
                ps.setString(5, truncate(message, 4000));
                ps.setObject(6, runId);
                ps.setObject(7, utc(now));
                ps.setObject(8, utc(now));
                ps.executeUpdate();
                long id;
                try (ResultSet keys = ps.getGeneratedKeys()) {
                    keys.next();
                    id = keys.getLong(1);
                }
                event(c, id, "opened", severity, actor, message, now);
                count("opened", severity, kind);
                LOG.warn("Incident {} opened for source {}: {} ({}): {}", id, sourceId, kind, severity, message);
                return id;
            } catch (SQLException e) {
                if (e.getSQLState() == null || !e.getSQLState().startsWith("23")) {
                    throw e;
                }
                // another node opened it at the same moment: count this one on it
                c.rollback(sp);
                current = find(c, key);
                if (current == null) {
                    throw e;
                }
            }
        }
        boolean escalate = SEVERITIES.indexOf(severity) > SEVERITIES.indexOf(current.severity());
        try (PreparedStatement ps = c.prepareStatement("UPDATE incident SET occurrences = occurrences + 1, message = ?, "
                + "run_id = COALESCE(?, run_id), severity = ?, updated_at = ? WHERE incident_id = ?")) {
            ps.setString(1, truncate(message, 4000));
            ps.setObject(2, runId);
            ps.setString(3, escalate ? severity : current.severity());
            ps.setObject(4, utc(now));
            ps.setLong(5, current.id());
            ps.executeUpdate();
        }
        if (escalate) {
            event(c, current.id(), "escalated", severity, actor, message, now);
            count("escalated", severity, kind);
            LOG.warn("Incident {} of source {} ({}) escalated to {}: {}", current.id(), sourceId, kind, severity, message);
        }
        return current.id();
    }

    /** Resolves the open incident of this kind for the source, if any, inside the caller's transaction. */
    public boolean resolve(Connection c, String sourceId, String kind, String actor, String note) throws SQLException {
        return resolve(c, sourceId, kind, actor, note, null);
    }

    /**
     * Resolves the open incident unless a run newer than {@code byRun} caused it (a success written late must not
     * resolve what a later run opened).
     */
    public boolean resolve(Connection c, String sourceId, String kind, String actor, String note, Long byRun) throws SQLException {
        Instant now = Instant.now();
        Incident current = find(c, sourceId + "|" + kind);
        if (current == null || byRun != null && current.runId() != null && current.runId() > byRun) {
            return false;
        }
        try (PreparedStatement ps = c.prepareStatement("UPDATE incident SET status = 'resolved', open_key = NULL, resolved_at = ?, "
                + "resolved_by = ?, updated_at = ? WHERE incident_id = ? AND open_key IS NOT NULL")) {
            ps.setObject(1, utc(now));
            ps.setString(2, truncate(actor, 100));
            ps.setObject(3, utc(now));
            ps.setLong(4, current.id());
            if (ps.executeUpdate() == 0) {
                return false;
            }
        }
        event(c, current.id(), "resolved", current.severity(), actor, note, now);
        count("resolved", current.severity(), kind);
        LOG.info("Incident {} of source {} ({}) resolved by {}: {}", current.id(), sourceId, kind, actor, note);
        return true;
    }

    /** The open incidents of a source (all sources when null), newest first. */
    public List<Incident> open(String sourceId) throws SQLException {
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT incident_id, source_id, kind, severity, status, message, occurrences, "
                     + "run_id FROM incident WHERE open_key IS NOT NULL AND (? IS NULL OR source_id = ?) ORDER BY opened_at DESC")) {
            ps.setString(1, sourceId);
            ps.setString(2, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                List<Incident> out = new java.util.ArrayList<>();
                while (rs.next()) {
                    out.add(read(rs));
                }
                return out;
            }
        }
    }

    private static Incident find(Connection c, String key) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT incident_id, source_id, kind, severity, status, message, occurrences, "
                + "run_id FROM incident WHERE open_key = ?")) {
            ps.setString(1, key);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? read(rs) : null;
            }
        }
    }

    private static Incident read(ResultSet rs) throws SQLException {
        long run = rs.getLong(8);
        return new Incident(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getString(6),
                rs.getInt(7), rs.wasNull() ? null : run);
    }

    /** Adds an event to an incident's history (acknowledged, a note) inside the caller's transaction. */
    public void event(Connection c, long incidentId, String event, String actor, String note) throws SQLException {
        event(c, incidentId, event, null, actor, note, Instant.now());
    }

    private static void event(Connection c, long incidentId, String event, String severity, String actor, String note, Instant at)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO incident_event (incident_id, event, severity, actor, note, at) "
                + "VALUES (?, ?, ?, ?, ?, ?)")) {
            ps.setLong(1, incidentId);
            ps.setString(2, event);
            ps.setString(3, severity);
            ps.setString(4, truncate(actor, 100));
            ps.setString(5, truncate(note, 4000));
            ps.setObject(6, utc(at));
            ps.executeUpdate();
        }
    }
}
