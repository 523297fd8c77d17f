package io.syncwarden.alert;

import static io.syncwarden.sync.SyncRuns.truncate;
import static io.syncwarden.sync.SyncRuns.utc;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncwarden.heal.Incidents;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.sync.SyncMetrics;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.apache.camel.Exchange;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells people about incidents, by severity: {@code warning} is only logged (the incident's own log line),
 * {@code high} goes to Slack (an incoming webhook), {@code critical} to PagerDuty (Events API v2 {@code trigger}, dedup
 * key {@code syncwarden/incident/<id>}) and Slack. A resolved incident that was told sends PagerDuty {@code resolve}
 * with the same dedup key and a Slack "resolved" message.
 *
 * <p>Noise control: at most one trigger per (source, kind, channel) within the cooldown (15 minutes), so a flapping
 * condition that reopens does not message again; a still-open incident is repeated only after {@code repeat} (Slack;
 * PagerDuty keeps paging by itself) or when it escalates; a resolution is sent at once. Incidents of a source the
 * watchdog's pass just fired again wait for the next pass (a repair that works is never alerted on), and a trigger
 * not yet delivered when its incident resolves is dropped.
 *
 * <p>Delivery is an outbox ({@code alert_log}) the {@code alerts} route works through on its own timer: a failure is
 * retried with back-off (a 429 waits for its Retry-After), a 4xx other than 429 is given up at once (the request is
 * wrong: retrying cannot help), and nothing here ever blocks or fails a sync or a watchdog pass. The webhook URL (a
 * secret) and the routing key come from the environment and are never logged or put in an endpoint URI.
 */
public class Alerts {
    private static final Logger LOG = LoggerFactory.getLogger(Alerts.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String SLACK = "slack";
    public static final String PAGERDUTY = "pagerduty";

    private final TargetDatabase db;
    private final Settings settings;
    private volatile Clock clock = Clock.systemUTC();
    private volatile SyncMetrics metrics;

    /** Where and how alerts go. A blank webhook URL or routing key switches that channel off. */
    public record Settings(String slackUrl, String pagerDutyUrl, String routingKey, Duration cooldown, Duration repeat,
                           int maxAttempts, Duration retryDelay, String node) {
        public Settings {
            if (cooldown.isNegative() || repeat.isNegative() || maxAttempts < 1 || retryDelay.isNegative()) {
                throw new IllegalArgumentException("syncwarden.alerts: cooldown, repeat and retry delay must be >= 0 and "
                        + "max-attempts >= 1");
            }
        }

        /** Never prints the webhook URL or the routing key (both secrets). */
        @Override
        public String toString() {
            return "Settings[slack " + (on(SLACK) ? "on" : "off") + ", pagerduty " + (on(PAGERDUTY) ? "on" : "off") + ", cooldown "
                    + cooldown + ", repeat " + repeat + ", maxAttempts " + maxAttempts + ", retryDelay " + retryDelay + "]";
        }

        boolean on(String channel) {
            String value = SLACK.equals(channel) ? slackUrl : routingKey;
            return value != null && !value.isBlank();
        }
    }

    /** One notification claimed for delivery: the route posts {@link #body} to the channel. */
    public record Delivery(long id, String channel, String action, String body, int attempt) {
    }

    /** Per channel, no post before this instant (a 429's Retry-After holds the whole channel, not one message). */
    private final java.util.Map<String, Instant> channelHold = new java.util.concurrent.ConcurrentHashMap<>();

    public Alerts(TargetDatabase db, Settings settings) {
        this.db = db;
        this.settings = settings;
        for (String channel : List.of(SLACK, PAGERDUTY)) {
            if (!settings.on(channel)) {
                LOG.info("Alerts to {} are off ({} is not set)", channel, SLACK.equals(channel) ? "SLACK_WEBHOOK_URL"
                        : "PAGERDUTY_ROUTING_KEY");
            }
        }
    }

    /** The clock cooldowns and retries are judged by (tests move it with the watchdog's). */
    public void clock(Clock clock) {
        this.clock = clock;
    }

    public void metrics(SyncMetrics metrics) {
        this.metrics = metrics;
    }

    /** The channels an incident of this severity goes to. */
    static List<String> channels(String severity) {
        return switch (severity) {
            case "critical" -> List.of(PAGERDUTY, SLACK);
            case "high" -> List.of(SLACK);
            default -> List.of(); // warning: the incident's log line is the alert
        };
    }

    /**
     * After a watchdog pass: plans the notifications the open and the resolved incidents call for. {@code repairing}:
     * the sources the pass fired again (the route's body); their incidents wait for the next pass. Returns it unchanged.
     */
    public List<String> plan(List<String> repairing) {
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            Instant now = clock.instant();
            for (Incidents.Incident incident : openIncidents(c)) {
                if (incident.occurrences() <= 2 && (repairing != null && repairing.contains(incident.sourceId())
                        || repairRunning(c, incident.sourceId()))) {
                    continue; // being repaired (by this pass, or a re-fire, probe or retry of any node): told if it does not work
                }
                for (String channel : channels(incident.severity())) {
                    if (settings.on(channel)) {
                        planTrigger(c, incident, channel, now);
                    }
                }
            }
            planResolutions(c, now);
        } catch (SQLException | RuntimeException e) {
            LOG.warn("Alerts: cannot plan notifications now: {}", e.getMessage());
        }
        return repairing;
    }

    /**
     * The alerts route's tick: resolutions are planned (a resolution is never held back), triggers whose incident
     * resolved before they went out are dropped, deliveries whose node died are freed; then the ids of the due
     * notifications on the channels this node has on (and no channel's Retry-After holds), oldest first. Each is
     * claimed just before it is posted ({@link #claim}).
     */
    public List<Long> due() {
        List<Long> out = new ArrayList<>();
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            Instant now = clock.instant();
            planResolutions(c, now);
            try (PreparedStatement ps = c.prepareStatement("UPDATE alert_log SET status = 'pending', claimed_by = NULL, updated_at = ? "
                    + "WHERE status = 'sending' AND updated_at < ?")) {
                // a node died while posting: the notification goes again (PagerDuty dedups it; Slack may show it twice)
                ps.setObject(1, utc(now));
                ps.setObject(2, utc(now.minus(Duration.ofMinutes(5))));
                ps.executeUpdate();
            }
            List<String> open = new ArrayList<>();
            for (String channel : List.of(SLACK, PAGERDUTY)) {
                Instant hold = channelHold.get(channel);
                if (settings.on(channel) && (hold == null || !hold.isAfter(now))) {
                    open.add(channel);
                }
            }
            if (open.isEmpty()) {
                return out;
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT alert_id FROM alert_log WHERE status = 'pending' "
                    + "AND next_attempt_at <= ? AND channel IN (?, ?) ORDER BY alert_id FETCH FIRST 20 ROWS ONLY")) {
                ps.setObject(1, utc(now));
                ps.setString(2, open.get(0));
                ps.setString(3, open.get(open.size() - 1));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getLong(1));
                    }
                }
            }
        } catch (SQLException | RuntimeException e) {
            LOG.warn("Alerts: cannot read the due notifications now: {}", e.getMessage());
        }
        return out;
    }

    /**
     * Claims one due notification for this node just before it is posted, and builds its request body; null when
     * another node took it, it is no longer due, or its channel is held by a Retry-After since.
     */
    public Delivery claim(long id) {
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            Instant now = clock.instant();
            try (PreparedStatement ps = c.prepareStatement("UPDATE alert_log SET status = 'sending', attempts = attempts + 1, "
                    + "claimed_by = ?, updated_at = ? WHERE alert_id = ? AND status = 'pending' AND next_attempt_at <= ?")) {
                ps.setString(1, settings.node());
                ps.setObject(2, utc(now));
                ps.setLong(3, id);
                ps.setObject(4, utc(now));
                if (ps.executeUpdate() == 0) {
                    return null;
                }
            }
            return build(c, id);
        } catch (SQLException | RuntimeException e) {
            LOG.warn("Alert {}: cannot claim it now: {}", id, e.getMessage());
            return null;
        }
    }

    /** Prepares the HTTP request of a claimed delivery (the body of the exchange) for the route's http endpoint. */
    public void request(Exchange exchange) {
        Delivery d = exchange.getMessage().getBody(Delivery.class);
        exchange.setProperty("syncwardenAlert", d);
        exchange.getMessage().removeHeaders("*");
        // the URL rides in a header, never in an endpoint URI (the Slack webhook URL is a secret)
        exchange.getMessage().setHeader(Exchange.HTTP_URI, SLACK.equals(d.channel()) ? settings.slackUrl() : settings.pagerDutyUrl());
        exchange.getMessage().setHeader(Exchange.HTTP_METHOD, "POST");
        exchange.getMessage().setHeader(Exchange.CONTENT_TYPE, "application/json");
        exchange.getMessage().setBody(d.body());
    }

    /** The channel answered: 2xx is delivered, 429 and 5xx are tried again later, any other answer is given up. */
    public void answered(Exchange exchange) {
        Delivery d = exchange.getProperty("syncwardenAlert", Delivery.class);
        Integer code = exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
        String body = scrub(truncate(String.valueOf(exchange.getMessage().getBody(String.class)).strip(), 300));
        Duration retryAfter = retryAfter(exchange.getMessage().getHeader("Retry-After", String.class));
        exchange.getMessage().removeHeaders("*");
        int status = code == null ? 0 : code;
        if (status >= 200 && status < 300) {
            finish(d, "sent", null);
        } else if (status == 429 || status >= 500) {
            if (status == 429) {
                // the whole channel waits: the next message would only meet the same limit and use up its attempts
                channelHold.put(d.channel(), clock.instant().plus(retryAfter != null ? retryAfter : settings.retryDelay()));
            }
            retry(d, "HTTP " + status + (body.isEmpty() ? "" : " " + body), status == 429 ? retryAfter : null);
        } else {
            finish(d, "failed", "HTTP " + status + (body.isEmpty() ? "" : " " + body) + " (the request was refused: not retried)");
        }
    }

    /** The channel did not answer (connection refused, timeout): tried again later. */
    public void unreachable(Exchange exchange) {
        Delivery d = exchange.getProperty("syncwardenAlert", Delivery.class);
        Throwable error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        exchange.getMessage().removeHeaders("*");
        // the exception's class and message only (never the request, whose URL is a secret)
        retry(d, error == null ? "no answer" : error.getClass().getSimpleName() + ": " + scrub(error.getMessage()), null);
    }

    /** A Retry-After header in seconds (the HTTP-date form is not used by Slack or PagerDuty); null when absent. */
    static Duration retryAfter(String header) {
        if (header == null || header.isBlank()) {
            return null;
        }
        try {
            return Duration.ofSeconds(Math.max(0, Long.parseLong(header.strip())));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private void retry(Delivery d, String why, Duration retryAfter) {
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            int attempts = d.attempt();
            if (attempts >= settings.maxAttempts()) {
                finish(d, "failed", why + " (gave up after " + attempts + " attempts)");
                return;
            }
            // back-off doubling from the retry delay, at most 30 minutes
            Duration backOff = settings.retryDelay().multipliedBy(1L << Math.min(attempts - 1, 10));
            backOff = backOff.compareTo(Duration.ofMinutes(30)) > 0 ? Duration.ofMinutes(30) : backOff;
            // the channel said when (a 429's Retry-After): not sooner, and not needlessly later
            Duration wait = retryAfter != null ? retryAfter : backOff;
            Instant now = clock.instant();
            try (PreparedStatement ps = c.prepareStatement("UPDATE alert_log SET status = 'pending', next_attempt_at = ?, "
                    + "last_error = ?, updated_at = ?, claimed_by = NULL WHERE alert_id = ? AND status = 'sending' AND claimed_by = ? "
                    + "AND attempts = ?")) {
                ps.setObject(1, utc(now.plus(wait)));
                ps.setString(2, truncate(why, 1000));
                ps.setObject(3, utc(now));
                ps.setLong(4, d.id());
                ps.setString(5, settings.node());
                ps.setInt(6, d.attempt());
                ps.executeUpdate();
            }
            LOG.warn("Alert {} ({} {}) not delivered: {}; tried again in {} s", d.id(), d.channel(), d.action(), why, wait.toSeconds());
        } catch (SQLException e) {
            LOG.warn("Alert {} ({}): cannot record the failed delivery ({}): {}", d.id(), d.channel(), why, e.getMessage());
        }
    }

    private void finish(Delivery d, String status, String error) {
        Instant now = clock.instant();
        try (Connection c = db.dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("UPDATE alert_log SET status = ?, last_error = ?, updated_at = ?, sent_at = ?, "
                     + "claimed_by = NULL WHERE alert_id = ? AND status = 'sending' AND claimed_by = ? AND attempts = ?")) {
            c.setAutoCommit(true);
            ps.setString(1, status);
            ps.setString(2, error == null ? null : truncate(error, 1000));
            ps.setObject(3, utc(now));
            ps.setObject(4, "sent".equals(status) ? utc(now) : null);
            ps.setLong(5, d.id());
            ps.setString(6, settings.node());
            ps.setInt(7, d.attempt());
            ps.executeUpdate();
        } catch (SQLException e) {
            LOG.warn("Alert {} ({}): cannot record its delivery: {}", d.id(), d.channel(), e.getMessage());
        }
        if ("sent".equals(status)) {
            LOG.info("Alert {} sent to {} ({})", d.id(), d.channel(), d.action());
        } else {
            LOG.error("Alert {} to {} ({}) FAILED: {}", d.id(), d.channel(), d.action(), error);
        }
        SyncMetrics m = metrics;
        if (m != null) {
            m.count("syncwarden.alerts", "Alert deliveries by channel and outcome (sent, failed)", "channel", d.channel(),
                    "outcome", status);
        }
    }

    private Delivery build(Connection c, long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT a.channel, a.action, a.severity, a.incident_id, i.source_id, i.kind, "
                + "i.message, i.opened_at, i.occurrences, i.resolved_at, i.resolved_by, a.attempts FROM alert_log a JOIN incident i "
                + "ON i.incident_id = a.incident_id WHERE a.alert_id = ?")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                Notice n = new Notice(rs.getLong(4), rs.getString(5), rs.getString(6), rs.getString(3), rs.getString(7),
                        rs.getObject(8, OffsetDateTime.class).toInstant(), rs.getInt(9),
                        rs.getObject(10, OffsetDateTime.class) == null ? null : rs.getObject(10, OffsetDateTime.class).toInstant(),
                        rs.getString(11));
                String channel = rs.getString(1);
                String action = rs.getString(2);
                String tried = tried(c, n.sourceId());
                String body = SLACK.equals(channel) ? slack(n, action, tried) : pagerDuty(n, action, tried);
                return new Delivery(id, channel, action, body, rs.getInt(12));
            }
        }
    }

    /** What an alert says of an incident. */
    record Notice(long incidentId, String sourceId, String kind, String severity, String message, Instant openedAt,
                  int occurrences, Instant resolvedAt, String resolvedBy) {
    }

    /** The Slack message (Block Kit with a plain-text fallback). */
    String slack(Notice n, String action, String tried) {
        ObjectNode body = JSON.createObjectNode();
        if ("resolve".equals(action)) {
            String text = "RESOLVED: " + title(n) + " (incident " + n.incidentId() + ") after "
                    + minutes(Duration.between(n.openedAt(), n.resolvedAt() == null ? clock.instant() : n.resolvedAt()))
                    + "; resolved by " + n.resolvedBy();
            body.put("text", text);
            body.putArray("blocks").addObject().put("type", "section").putObject("text").put("type", "mrkdwn")
                    .put("text", ":white_check_mark: *Resolved:* " + escape(text.substring("RESOLVED: ".length())));
            return body.toString();
        }
        String head = n.severity().toUpperCase(Locale.ROOT) + ": " + title(n);
        body.put("text", head + ": " + truncate(n.message(), 2000));
        var blocks = body.putArray("blocks");
        blocks.addObject().put("type", "header").putObject("text").put("type", "plain_text").put("text", truncate(head, 150));
        blocks.addObject().put("type", "section").putObject("text").put("type", "mrkdwn").put("text", truncate(
                "*What is wrong*\n" + escape(n.message()) + "\n*Since*\n" + n.openedAt() + " (" + n.occurrences() + " detection(s))"
                        + "\n*What was tried*\n" + escape(tried) + "\n*What to do*\n" + escape(advice(n.kind())), 3000));
        blocks.addObject().put("type", "context").putArray("elements").addObject().put("type", "mrkdwn")
                .put("text", "syncwarden · incident " + n.incidentId() + " · source `" + escape(n.sourceId()) + "` · " + escape(settings.node()));
        return body.toString();
    }

    /** The PagerDuty Events API v2 event: a trigger with the incident's text, or the resolve of its dedup key. */
    String pagerDuty(Notice n, String action, String tried) {
        ObjectNode body = JSON.createObjectNode();
        body.put("routing_key", settings.routingKey());
        body.put("event_action", "resolve".equals(action) ? "resolve" : "trigger");
        body.put("dedup_key", dedupKey(n.incidentId()));
        if ("resolve".equals(action)) {
            return body.toString();
        }
        ObjectNode payload = body.putObject("payload");
        payload.put("summary", truncate(n.severity().toUpperCase(Locale.ROOT) + ": " + title(n) + ": " + n.message(), 1024));
        payload.put("source", settings.node());
        payload.put("severity", "critical".equals(n.severity()) ? "critical" : "high".equals(n.severity()) ? "error" : "warning");
        payload.put("timestamp", n.openedAt().toString());
        payload.put("component", n.sourceId());
        payload.put("group", "syncwarden");
        payload.put("class", n.kind());
        ObjectNode details = payload.putObject("custom_details");
        details.put("incident_id", n.incidentId());
        details.put("since", n.openedAt().toString());
        details.put("detections", n.occurrences());
        details.put("what_is_wrong", n.message());
        details.put("what_was_tried", tried);
        details.put("what_to_do", advice(n.kind()));
        body.put("client", "syncwarden");
        return body.toString();
    }

    /** The dedup key of an incident's PagerDuty alert: its id, in the service's namespace. */
    public static String dedupKey(long incidentId) {
        return "syncwarden/incident/" + incidentId;
    }

    private static String title(Notice n) {
        return n.sourceId() + " " + n.kind().replace('_', ' ');
    }

    /** What a person can do about an incident of this kind. */
    static String advice(String kind) {
        return switch (kind) {
            case "stale" -> "Check the upstream named above and the source's last error (GET /observe/health). The retry "
                    + "queue and the recovery probe keep trying and sync it as soon as the upstream answers; a paused "
                    + "source waits for an operator to resume it.";
            case "non_recoverable" -> "Fix what the error names (credentials, configuration, permissions), then resume the "
                    + "source; it is not retried until then.";
            case "retry_exhausted" -> "The upstream kept failing through every retry: check it, then trigger a sync.";
            case "empty_target" -> "The target table was emptied outside the sync: an emergency full sync refills it; find "
                    + "who or what deleted the rows.";
            case "error_rate" -> "Most runs of the last hour failed: check the upstream's stability and the runs' errors.";
            case "anomaly" -> "An incremental read was far larger or smaller than usual and was applied: check the upstream's "
                    + "recent changes.";
            case "paused" -> "The source is paused: fix the cause named above, then resume it.";
            default -> kind.startsWith("refused")
                    ? "A guard kept this read out; the target keeps its rows. Check the upstream's data; if it really "
                    + "is like this now, allow the next run once."
                    : "Look at the source's recent runs and incidents.";
        };
    }

    /** What was tried, from the control tables: the last run and the retry queue. */
    private static String tried(Connection c, String sourceId) throws SQLException {
        StringBuilder out = new StringBuilder();
        try (PreparedStatement ps = c.prepareStatement("SELECT run_id, run_trigger, status, attempts, error_message FROM sync_run "
                + "WHERE source_id = ? ORDER BY run_id DESC FETCH FIRST 1 ROWS ONLY")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    out.append("last run ").append(rs.getLong(1)).append(" (").append(rs.getString(2)).append(") ")
                            .append(rs.getString(3)).append(" after ").append(rs.getInt(4)).append(" attempt(s)");
                    if (rs.getString(5) != null) {
                        out.append(": ").append(truncate(rs.getString(5), 300));
                    }
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT attempts, next_retry_at FROM retry_queue WHERE source_id = ? "
                + "AND status IN ('pending', 'running')")) {
            ps.setString(1, sourceId);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    out.append(out.length() > 0 ? "; " : "").append("retry queue: ").append(rs.getInt(1))
                            .append(" attempt(s) so far, next at ").append(rs.getObject(2, OffsetDateTime.class).toInstant());
                }
            }
        }
        return out.length() == 0 ? "no run yet" : out.toString();
    }

    /**
     * Plans a trigger of the incident on the channel unless: a trigger of the same condition (source and kind, whichever
     * incident of it) was planned on the channel within the cooldown; or this incident was told (or is being told) at
     * this severity or a higher one already, within {@code repeat} (PagerDuty: ever; it pages again by itself). A
     * trigger that failed or was dropped does not count as told: it is planned again once the cooldown has passed.
     */
    private void planTrigger(Connection c, Incidents.Incident incident, String channel, Instant now) throws SQLException {
        Instant lastAt = null;
        Instant toldAt = null;
        int seq = 0;
        int rank = Incidents.SEVERITIES.indexOf(incident.severity());
        try (PreparedStatement ps = c.prepareStatement("SELECT severity, created_at, incident_id, status FROM alert_log WHERE source_id = ? "
                + "AND kind = ? AND channel = ? AND action = 'trigger' ORDER BY alert_id DESC")) {
            ps.setString(1, incident.sourceId());
            ps.setString(2, incident.kind());
            ps.setString(3, channel);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String severity = rs.getString(1);
                    Instant at = rs.getObject(2, OffsetDateTime.class).toInstant();
                    String status = rs.getString(4);
                    if (lastAt == null && !"dropped".equals(status)) {
                        lastAt = at;
                    }
                    if (rs.getLong(3) != incident.id()) {
                        continue;
                    }
                    if (severity.equals(incident.severity())) {
                        seq++;
                    }
                    if (List.of("sent", "pending", "sending").contains(status) && Incidents.SEVERITIES.indexOf(severity) >= rank
                            && (toldAt == null || at.isAfter(toldAt))) {
                        toldAt = at;
                    }
                }
            }
        }
        if (lastAt != null && lastAt.isAfter(now.minus(settings.cooldown()))) {
            return; // at most one per condition and channel within the cooldown
        }
        if (toldAt != null && (PAGERDUTY.equals(channel) || settings.repeat().isZero() || toldAt.isAfter(now.minus(settings.repeat()))
                || acknowledged(c, incident.id()))) {
            return; // told at this severity already (an acknowledged incident is not repeated; an escalation still goes out)
        }
        insert(c, incident, channel, "trigger", incident.id() + "|" + channel + "|trigger|" + incident.severity() + "|" + seq, now);
    }

    private static boolean acknowledged(Connection c, long incidentId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM incident WHERE incident_id = ? AND acknowledged_at IS NOT NULL")) {
            ps.setLong(1, incidentId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** A re-fire, recovery or retry run of the source holds its lock (on any node): a repair is under way. */
    private static boolean repairRunning(Connection c, String sourceId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM source_lock l JOIN sync_run r ON r.run_id = l.run_id "
                + "WHERE l.source_id = ? AND l.lease_until > ? AND r.run_trigger IN ('watchdog', 'recovery', 'retry')")) {
            ps.setString(1, sourceId);
            ps.setObject(2, utc(Instant.now())); // leases are written with the service's clock
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /**
     * Resolutions: a trigger still waiting when its incident resolved is dropped (never sent: nothing to resolve;
     * tried already: its last error is kept); every trigger that may have reached its channel (sent, or tried without
     * an HTTP answer: a timeout may hide a delivery) gets its resolve, once per incident and channel.
     */
    private void planResolutions(Connection c, Instant now) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE alert_log SET status = 'dropped', updated_at = ?, "
                + "last_error = CASE WHEN attempts = 0 THEN 'the incident resolved before it was sent' ELSE last_error END "
                + "WHERE status = 'pending' AND action = 'trigger' "
                + "AND incident_id IN (SELECT incident_id FROM incident WHERE status = 'resolved')")) {
            ps.setObject(1, utc(now));
            ps.executeUpdate();
        }
        List<Object[]> todo = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT DISTINCT a.incident_id, a.channel FROM alert_log a JOIN incident i "
                + "ON i.incident_id = a.incident_id WHERE i.status = 'resolved' AND a.action = 'trigger' AND (a.status = 'sent' "
                + "OR a.status IN ('dropped', 'failed') AND a.attempts > 0 AND (a.last_error IS NULL OR a.last_error NOT LIKE 'HTTP %')) "
                + "AND NOT EXISTS (SELECT 1 FROM alert_log r WHERE r.incident_id = a.incident_id AND r.channel = a.channel "
                + "AND r.action = 'resolve')")) {
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    todo.add(new Object[] {rs.getLong(1), rs.getString(2)});
                }
            }
        }
        for (Object[] t : todo) {
            Incidents.Incident incident = incident(c, (Long) t[0]);
            if (incident != null && settings.on((String) t[1])) {
                insert(c, incident, (String) t[1], "resolve", incident.id() + "|" + t[1] + "|resolve", now);
            }
        }
    }

    private void insert(Connection c, Incidents.Incident incident, String channel, String action, String planKey, Instant now)
            throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO alert_log (incident_id, source_id, kind, channel, action, "
                + "severity, plan_key, status, next_attempt_at, created_at, updated_at, message) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)")) {
            ps.setLong(1, incident.id());
            ps.setString(2, incident.sourceId());
            ps.setString(3, incident.kind());
            ps.setString(4, channel);
            ps.setString(5, action);
            ps.setString(6, incident.severity());
            ps.setString(7, planKey);
            ps.setObject(8, utc(now));
            ps.setObject(9, utc(now));
            ps.setObject(10, utc(now));
            ps.setString(11, truncate(incident.message(), 4000));
            ps.executeUpdate();
            LOG.info("Alert planned: {} {} of incident {} ({} {}, {})", channel, action, incident.id(), incident.sourceId(),
                    incident.kind(), incident.severity());
        } catch (SQLException e) {
            if (e.getSQLState() == null || !e.getSQLState().startsWith("23")) {
                throw e;
            }
            // another node planned the same notification at the same moment
        }
    }

    private static List<Incidents.Incident> openIncidents(Connection c) throws SQLException {
        return incidents(c, "SELECT incident_id, source_id, kind, severity, status, message, occurrences, run_id FROM incident "
                + "WHERE open_key IS NOT NULL ORDER BY incident_id", null);
    }

    private static Incidents.Incident incident(Connection c, long id) throws SQLException {
        List<Incidents.Incident> found = incidents(c, "SELECT incident_id, source_id, kind, severity, status, message, occurrences, "
                + "run_id FROM incident WHERE incident_id = ?", id);
        return found.isEmpty() ? null : found.get(0);
    }

    private static List<Incidents.Incident> incidents(Connection c, String sql, Long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            if (id != null) {
                ps.setLong(1, id);
            }
            try (ResultSet rs = ps.executeQuery()) {
                List<Incidents.Incident> out = new ArrayList<>();
                while (rs.next()) {
                    out.add(new Incidents.Incident(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getString(5), rs.getString(6), rs.getInt(7), null));
                }
                return out;
            }
        }
    }

    private static String minutes(Duration d) {
        return d.toMinutes() + " min";
    }

    /** Slack mrkdwn needs &, < and > escaped. */
    static String escape(String text) {
        return text == null ? "" : text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /**
     * A channel's answer or an exception message without the secrets in it: the webhook URL (and its path, which is the
     * secret part), the routing key, and any URL's path.
     */
    String scrub(String message) {
        if (message == null) {
            return "";
        }
        String out = message;
        String url = settings.slackUrl();
        if (url != null && !url.isBlank()) {
            out = out.replace(url, "<slack webhook>");
            String path = url.replaceFirst("^[a-zA-Z]+://[^/]*", "");
            if (path.length() > 1) {
                out = out.replace(path, "/<secret>");
            }
        }
        if (settings.routingKey() != null && !settings.routingKey().isBlank()) {
            out = out.replace(settings.routingKey(), "<routing key>");
        }
        return out.replaceAll("(https?://[^/\\s]+)/\\S*", "$1/<path>");
    }
}
