package io.syncwarden.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncwarden.heal.Breakers;
import io.syncwarden.heal.Incidents;
import io.syncwarden.heal.SourcePause;
import io.syncwarden.heal.Watchdog;
import io.syncwarden.source.SyncSource;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SourceRegistry;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.SyncTrigger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ServiceStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operations API's handlers (routes/api.camel.yaml maps each path to one of them). Every handler checks the
 * caller's role first ({@link ApiAccess}), answers JSON, and every mutating one writes the audit log, refused or not.
 * Answers never carry secrets: no tokens, keys, webhook URLs, passwords or endpoint URIs, and {@code /api/health}
 * (open without a token by default) no error text either.
 */
public class Api {
    private static final Logger LOG = LoggerFactory.getLogger(Api.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_PAGE = 200;

    private final CamelContext context;
    private final ApiAccess access;
    private final Audit audit;
    private final boolean healthPublic;
    private final SignedTriggers triggers;
    private final Backfills backfills;
    private final Diagnostic diagnostic;
    private ExecutorService runner;
    /** Sources with a run requested through the API and not yet finished: a second request gets 409. */
    private final java.util.Set<String> requested = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** The health answer, computed at most once per {@link #HEALTH_TTL} whoever asks (it is open to any caller). */
    private volatile ObjectNode health;
    private volatile long healthAt;
    private static final long HEALTH_TTL = 10_000;

    public Api(CamelContext context, ApiAccess access, Audit audit, boolean healthPublic, SignedTriggers triggers) {
        this.context = context;
        this.access = access;
        this.audit = audit;
        this.healthPublic = healthPublic;
        this.triggers = triggers;
        this.backfills = new Backfills(context, audit.database());
        this.diagnostic = new Diagnostic(context, audit.database(), io.syncwarden.heal.FailureText::describe);
        triggers.firstTime((signature, now) -> firstTime(audit.database(), signature, now));
    }

    @FunctionalInterface
    interface Handler {
        Object handle(ApiAccess.Caller caller) throws Exception;
    }

    /** A read: the role, then the handler's JSON (200). */
    private void read(Exchange e, String role, Handler h) {
        try {
            refuseTokenInQuery(e);
            ApiAccess.Caller caller = role == null ? null : access.require(e, role);
            answer(e, 200, h.handle(caller));
        } catch (Exception ex) {
            fail(e, ex, null, null, false);
        }
    }

    /**
     * A change: the role, an audit entry written first (no entry, no change: 503), the handler, and the entry's
     * outcome. Refused attempts (401, 403, 409...) are audited too.
     */
    private void act(Exchange e, String role, String action, String target, Handler h) {
        ApiAccess.Caller caller = null;
        Long entry = null;
        try {
            refuseTokenInQuery(e);
            caller = access.require(e, role);
            entry = audit.begin(caller.name(), caller.role(), action, target);
            Object result = h.handle(caller);
            audit.finish(entry, "done", summary(result));
            answer(e, result instanceof Accepted ? 202 : 200, result instanceof Accepted a ? a.body() : result);
        } catch (Exception ex) {
            ApiAccess.Caller who = caller != null ? caller : access.caller(e); // before the answer replaces the headers
            fail(e, ex, action, target, caller != null);
            int status = e.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
            String outcome = status == 401 || status == 403 ? "denied" : status >= 500 ? "failed" : "refused";
            String detail = ex instanceof ApiException ? ex.getMessage() : ex.getClass().getSimpleName();
            if (entry != null) {
                audit.finish(entry, outcome, detail);
            } else {
                audit.record(who == null ? "anonymous" : who.name(), who == null ? null : who.role(), action, target, outcome, detail);
            }
        }
    }

    /** A run started in the background: answered 202. */
    record Accepted(ObjectNode body) {
        @Override
        public String toString() {
            return body.toString();
        }
    }

    /** A token belongs in the Authorization header, never in a URL (logs and histories keep URLs). */
    private static void refuseTokenInQuery(Exchange e) {
        String query = e.getMessage().getHeader(Exchange.HTTP_QUERY, String.class);
        if (query != null && query.toLowerCase(Locale.ROOT).matches("(^|.*&)(authorization|access_token|token)=.*")) {
            throw new ApiException(400, "send the token in the Authorization header, never in the URL");
        }
    }

    /** The path's id ({@code /api/<what>/<id>/...}), from the path itself: a query parameter or header cannot replace it. */
    static String pathId(Exchange e) {
        String path = e.getMessage().getHeader(Exchange.HTTP_PATH, String.class);
        if (path == null) {
            path = e.getMessage().getHeader(Exchange.HTTP_URI, String.class);
        }
        String[] segments = path == null ? new String[0] : path.replaceAll("\\?.*", "").split("/");
        // "", "api", "sources", "<id>", ...: after the context path, if any
        int api = java.util.Arrays.asList(segments).indexOf("api");
        if (api < 0 || segments.length <= api + 2) {
            return "";
        }
        String id = java.net.URLDecoder.decode(segments[api + 2], java.nio.charset.StandardCharsets.UTF_8);
        return id.length() > 100 || !id.matches("[\\w.-]*") ? "?" : id;
    }

    private static String summary(Object result) {
        String text = result instanceof JsonNode node ? node.toString() : String.valueOf(result);
        return text.length() > 300 ? text.substring(0, 300) + "..." : text;
    }

    /**
     * The error answer. Only the API's own messages ({@link ApiException}) reach every caller; the text of other
     * refusals (a rollback the database or a guard refuses) only an authenticated operator who asked for a change.
     */
    private void fail(Exchange e, Exception ex, String action, String target, boolean detailed) {
        int status;
        String message;
        if (ex instanceof ApiException api) {
            status = api.status();
            message = api.getMessage();
        } else if (ex instanceof IllegalArgumentException || ex instanceof IllegalStateException) {
            status = 400;
            message = detailed ? ex.getMessage() : "the request cannot be done as asked";
        } else if (ex instanceof SQLException) {
            status = 503;
            message = "the target database did not answer; try again";
            LOG.warn("API {} {}: {}", action == null ? "read" : action, target, ex.getMessage());
        } else {
            status = 500;
            message = "internal error (" + ex.getClass().getSimpleName() + "); see the service log";
            LOG.error("API {} {} failed", action == null ? "read" : action, target, ex);
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("status", status);
        body.put("error", status == 401 ? "unauthorized" : status == 403 ? "forbidden" : status == 404 ? "not_found"
                : status == 409 ? "conflict" : status == 429 ? "too_many_requests" : status == 400 ? "bad_request"
                : status == 503 ? "unavailable" : "error");
        body.put("message", message);
        answer(e, status, body);
        if (status == 401) {
            e.getMessage().setHeader("WWW-Authenticate", "Bearer realm=\"syncwarden\"");
        }
    }

    private static void answer(Exchange e, int status, Object body) {
        e.getMessage().removeHeaders("*", "CamelHttp*");
        e.getMessage().setHeader(Exchange.HTTP_RESPONSE_CODE, status);
        e.getMessage().setHeader(Exchange.CONTENT_TYPE, "application/json");
        e.getMessage().setHeader("Cache-Control", "no-store");
        e.getMessage().setBody(body instanceof String s ? s : body == null ? "{}" : body.toString());
    }

    // ---------------------------------------------------------------- health, watchdog, blocking

    /**
     * GET /api/health: the service at a glance; open without a token unless syncwarden.api.health-public=false. Any
     * caller may ask as often as it likes: the answer is computed at most every 10 s (one caller computes, the others
     * wait for it), on one connection, from counts the watchdog also takes.
     */
    public void health(Exchange e) {
        read(e, healthPublic ? null : "viewer", caller -> healthSnapshot());
    }

    private synchronized ObjectNode healthSnapshot() {
        long now = System.currentTimeMillis();
        if (health == null || now - healthAt > HEALTH_TTL) {
            health = computeHealth();
            healthAt = System.currentTimeMillis();
        }
        return health;
    }

    private ObjectNode computeHealth() {
        ObjectNode out = JSON.createObjectNode();
        ObjectNode services = JSON.createObjectNode();
        String overall = "healthy";
        Instant latest = null;
        boolean stale = false;
        long started = System.nanoTime();
        long dbMillis = -1;
        boolean up = true;
        try (Connection c = db().dataSource().getConnection()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1")) {
                ps.setQueryTimeout(5);
                ps.executeQuery().close();
            }
            dbMillis = (System.nanoTime() - started) / 1_000_000;
            for (SourceRegistry.Source source : started()) {
                ObjectNode s = services.putObject(source.id());
                try {
                    Watchdog.Freshness f = watchdog().freshness(source);
                    List<ObjectNode> h = rows(c, "SELECT h.status, r.duration_ms FROM source_health h LEFT JOIN sync_run r "
                            + "ON r.run_id = h.last_run_id WHERE h.source_id = ?", source.id());
                    String status = f.paused() ? "paused" : h.isEmpty() ? "unknown" : h.get(0).path("status").asText("unknown");
                    s.put("status", status);
                    s.put("latency", h.isEmpty() || h.get(0).path("duration_ms").isNull() ? null
                            : h.get(0).path("duration_ms").asLong() + "ms");
                    s.put("totalRows", f.targetRows() < 0 ? null : f.targetRows());
                    s.put("lastSync", f.lastSuccess() == null ? null : f.lastSuccess().toString());
                    s.put("freshness", f.severity());
                    stale |= !"ok".equals(f.severity());
                    if (f.lastSuccess() != null && (latest == null || f.lastSuccess().isAfter(latest))) {
                        latest = f.lastSuccess();
                    }
                    overall = worse(overall, "critical".equals(f.severity()) || "unhealthy".equals(status) ? "unhealthy"
                            : "ok".equals(f.severity()) && "healthy".equals(status) ? "healthy" : "degraded");
                } catch (SQLException | RuntimeException ex) {
                    s.put("status", "unknown");
                    overall = worse(overall, "degraded");
                }
            }
        } catch (SQLException ex) {
            up = false;
            overall = "unhealthy";
        }
        ObjectNode database = services.putObject("database");
        database.put("status", up ? "up" : "down");
        database.put("latency", (dbMillis >= 0 ? dbMillis : (System.nanoTime() - started) / 1_000_000) + "ms");
        io.github.resilience4j.circuitbreaker.CircuitBreaker breaker = breakers() == null ? null : breakers().target();
        database.put("circuitBreakerOpen", breaker != null
                && breaker.getState() == io.github.resilience4j.circuitbreaker.CircuitBreaker.State.OPEN);
        database.put("consecutiveFailures", breaker == null ? 0 : breaker.getMetrics().getNumberOfFailedCalls());
        out.put("overall", overall);
        out.set("services", services);
        ObjectNode sync = out.putObject("syncHealth");
        sync.put("lastSync", latest == null ? null : latest.toString());
        sync.put("minutesAgo", latest == null ? null : Duration.between(latest, Instant.now()).toMinutes());
        sync.put("status", stale || latest == null ? "stale" : "recent");
        boolean blocked;
        try {
            blocked = blocking().get("blocked").asBoolean();
        } catch (SQLException | RuntimeException ex) {
            blocked = true; // cannot tell: dashboards should not trust the data now
        }
        out.put("blocked", blocked);
        return out;
    }

    /** GET /api/blocking: whether dashboards should be blocked, and why. */
    public void blockingState(Exchange e) {
        read(e, "viewer", caller -> blocking());
    }

    /**
     * Dashboards should not trust the data when a source marked {@code critical} has an empty table, is more than 4x
     * its SLA late, or its last run was refused by a guard. Clears by itself with the condition.
     */
    ObjectNode blocking() throws SQLException {
        ObjectNode out = JSON.createObjectNode();
        ArrayNode reasons = JSON.createArrayNode();
        for (SourceRegistry.Source source : started()) {
            if (!Boolean.parseBoolean(parameter(source, "critical"))) {
                continue;
            }
            Watchdog.Freshness f = watchdog().freshness(source);
            String reason = null;
            String next = null;
            if (f.targetRows() == 0) {
                reason = "its table is empty";
                next = "the watchdog fires an emergency sync; check the source's last run (GET /api/sources/" + source.id() + ")";
            } else if ("critical".equals(f.severity())) {
                reason = "it is more than 4x its freshness SLA late (last good sync " + f.lastSuccess() + ")";
                next = "check the upstream and the source's last error; sync it (POST /api/sources/" + source.id() + "/sync)";
            } else if (f.lastStatus() != null && f.lastStatus().startsWith("refused")) {
                reason = "its last run was " + f.lastStatus() + " by a guard";
                next = "check the upstream's data; if it is right, allow the next run (POST /api/sources/" + source.id()
                        + "/allow-next, admin)";
            }
            if (reason != null) {
                reasons.addObject().put("source", source.id()).put("reason", reason).put("nextStep", next);
            }
        }
        out.put("blocked", !reasons.isEmpty());
        out.set("reasons", reasons);
        return out;
    }

    /** GET /api/watchdog: the latest pass's report. */
    public void watchdogReport(Exchange e) {
        read(e, "viewer", caller -> {
            String report = watchdog().latestReport();
            if (report == null) {
                throw new ApiException(404, "no watchdog pass yet (POST /api/watchdog runs one)");
            }
            return report;
        });
    }

    /** GET /api/reloads: the live reload of the routes folder: edits refused now (file, line, reason) and the latest events. */
    public void reloads(Exchange e) {
        read(e, "viewer", caller -> {
            io.syncwarden.ops.RoutesReloader reloader = context.getRegistry()
                    .lookupByNameAndType("routesReloader", io.syncwarden.ops.RoutesReloader.class);
            if (reloader == null || !reloader.isStarted()) {
                ObjectNode off = JSON.createObjectNode().put("enabled", false);
                off.putArray("refused");
                off.putArray("events");
                return off;
            }
            return JSON.valueToTree(reloader.report());
        });
    }

    /** POST /api/watchdog: runs a pass now (its route, as the schedule would) and answers its report. */
    public void watchdogPass(Exchange e) {
        act(e, "operator", "watchdog_pass", "watchdog", caller -> {
            new SyncTrigger(context).fire("watchdog", "api");
            return watchdog().latestReport();
        });
    }

    // ---------------------------------------------------------------- sources

    /** GET /api/sources: every source with its state. */
    public void sources(Exchange e) {
        read(e, "viewer", caller -> {
            ArrayNode out = JSON.createArrayNode();
            for (SourceRegistry.Source source : registry().sources()) {
                out.add(describe(source, caller));
            }
            ObjectNode body = JSON.createObjectNode();
            body.set("sources", out);
            body.put("blocked", blocking().get("blocked").asBoolean());
            return body;
        });
    }

    /** GET /api/sources/{id}. */
    public void source(Exchange e) {
        read(e, "viewer", caller -> describe(source(pathId(e)), caller));
    }

    /**
     * Error text and rows as read (they may quote upstream answers, URLs or personal data) are for operators; a
     * viewer sees the error's class and the counts.
     */
    private static <T extends JsonNode> T redact(T node, ApiAccess.Caller caller, String... fields) {
        if (node == null || caller != null && caller.may("operator")) {
            return node;
        }
        if (node instanceof ObjectNode o) {
            o.remove(List.of(fields));
            o.path("items").forEach(item -> ((ObjectNode) item).remove(List.of(fields)));
            o.path("live").forEach(item -> ((ObjectNode) item).remove(List.of(fields)));
            o.path("ended").forEach(item -> ((ObjectNode) item).remove(List.of(fields)));
        }
        return node;
    }

    /**
     * An error in plain words for anyone who may read the source: the stored text (already described for people)
     * without anything that looks like a connection string, a credential or a URL's path and query.
     */
    public static String plain(String error) {
        if (error == null || error.isBlank()) {
            return null;
        }
        String out = error.replaceAll("jdbc:[^\\s,;)]+", "jdbc:…")
                .replaceAll("(https?://[^/\\s]+)[^\\s,;)]*", "$1")
                .replaceAll("(?i)(bearer|basic)\\s+\\S+", "$1 …")
                .replaceAll("(?i)(\"?(?:password|passwd|pwd|secret|token|api[_-]?key|key|authorization)\"?)(\\s*[=:]\\s*)(\"[^\"]*\"|\\S+)", "$1$2…");
        return out.length() > 500 ? out.substring(0, 500) + "…" : out;
    }

    private ObjectNode describe(SourceRegistry.Source source, ApiAccess.Caller caller) throws Exception {
        ObjectNode out = JSON.createObjectNode();
        out.put("id", source.id());
        out.put("kind", source.kind());
        ServiceStatus route = context.getRouteController().getRouteStatus(source.id());
        boolean started = route != null && route.isStarted();
        out.put("enabled", started);
        out.put("critical", Boolean.parseBoolean(parameter(source, "critical")));
        out.put("schedule", parameter(source, "cron"));
        out.put("nextRun", nextFire(source.id()));
        String lastError;
        try (Connection c = db().dataSource().getConnection()) {
            List<ObjectNode> health = rows(c, "SELECT status, consecutive_failures, last_run_status, last_success_at, last_failure_at, "
                    + "last_row_count, circuit_state, circuit_since, paused, paused_reason, not_before, last_error FROM source_health "
                    + "WHERE source_id = ?", source.id());
            ObjectNode h = health.isEmpty() ? JSON.createObjectNode() : health.get(0);
            out.put("status", h.path("paused").asBoolean() ? "paused" : h.path("status").asText("unknown"));
            lastError = h.path("last_error").asText(null);
            out.set("health", redact(h, caller, "last_error"));
            List<ObjectNode> last = rows(c, "SELECT run_id, run_trigger, mode, status, rows_read, rows_inserted, rows_updated, "
                    + "rows_rejected, rows_deleted, started_at, finished_at, duration_ms, error_class, error_message FROM sync_run "
                    + "WHERE source_id = ? ORDER BY run_id DESC FETCH FIRST 1 ROWS ONLY", source.id());
            out.set("lastRun", last.isEmpty() ? null : redact(last.get(0), caller, "error_message"));
            List<ObjectNode> retry = rows(c, "SELECT retry_id, status, attempts, next_retry_at, error_class FROM retry_queue "
                    + "WHERE source_id = ? AND active_source IS NOT NULL", source.id());
            out.set("retry", retry.isEmpty() ? null : retry.get(0));
            out.put("openIncidents", rows(c, "SELECT COUNT(*) AS n FROM incident WHERE source_id = ? AND open_key IS NOT NULL",
                    source.id()).get(0).path("n").asLong());
        }
        if (started) {
            Watchdog.Freshness f = watchdog().freshness(source);
            ObjectNode fresh = out.putObject("freshness");
            fresh.put("severity", f.severity());
            fresh.put("lastSuccess", f.lastSuccess() == null ? null : f.lastSuccess().toString());
            fresh.put("minutesAgo", f.lastSuccess() == null ? null : Duration.between(f.lastSuccess(), Instant.now()).toMinutes());
            fresh.put("due", f.due() == null ? null : f.due().toString());
            ObjectNode counts = out.putObject("rows");
            counts.put("target", f.targetRows() < 0 ? null : f.targetRows());
            counts.put("lastGoodRun", f.lastGoodCount());
            // why is it stale: the facts a person checks first
            ObjectNode why = out.putObject("why");
            why.put("lastStatus", f.lastStatus());
            why.put("lastErrorClass", f.lastErrorClass());
            why.put("nextRetry", f.retryAt() == null ? null : f.retryAt().toString());
            why.put("paused", f.paused());
            why.put("lastError", plain(lastError));
            io.github.resilience4j.circuitbreaker.CircuitBreaker breaker = breakers() == null ? null : breakers().ofSource(source.id());
            why.put("breaker", breaker == null ? "closed" : breaker.getState().name().toLowerCase(Locale.ROOT));
        }
        SyncSource sync = SyncSource.of(context, source.id());
        if (sync != null && sync.keyRing() != null) {
            out.set("keys", JSON.valueToTree(sync.keyRing().states()));
        }
        RunContext running = runs().activeRun(source.id());
        if (running != null) {
            ObjectNode progress = out.putObject("progress");
            progress.put("runId", running.runId());
            progress.put("rowsSoFar", running.read());
            long total = running.expectedRows();
            if (total > 0) {
                double share = Math.min(1.0, running.read() / (double) total);
                progress.put("total", total);
                progress.put("percent", Math.round(share * 1000) / 10.0);
                long elapsed = Duration.between(running.startedAt(), Instant.now()).toMillis();
                if (share > 0.01) {
                    progress.put("etaSeconds", Math.round(elapsed / share * (1 - share) / 1000));
                }
            }
        }
        return out;
    }

    /** GET /api/sources/{id}/runs?page=&size=: the runs, newest first. */
    public void runs(Exchange e) {
        read(e, "viewer", caller -> {
            String id = source(pathId(e)).id();
            return redact(page(e, "SELECT run_id, run_trigger, mode, status, node_id, rows_read, rows_inserted, rows_updated, rows_unchanged, "
                    + "rows_rejected, rows_skipped, rows_deleted, attempts, started_at, finished_at, duration_ms, error_class, "
                    + "error_message, new_columns FROM sync_run WHERE source_id = ? ORDER BY run_id DESC", "SELECT COUNT(*) AS n FROM "
                    + "sync_run WHERE source_id = ?", id), caller, "error_message");
        });
    }

    /** GET /api/sources/{id}/rejected?page=&size=: rejected rows with their reasons, newest first. */
    public void rejected(Exchange e) {
        read(e, "viewer", caller -> {
            String id = source(pathId(e)).id();
            return redact(page(e, "SELECT rejected_id, run_id, row_key, row_position, reason, row_data, rejected_at, replayed_at, "
                    + "replay_run_id FROM rejected_row WHERE source_id = ? ORDER BY rejected_id DESC", "SELECT COUNT(*) AS n FROM "
                    + "rejected_row WHERE source_id = ?", id), caller, "row_data");
        });
    }

    /**
     * POST /api/sources/{id}/sync: a manual run, started in the background (202); 409 while one is active. Body
     * {@code {"restart": true}}: the checkpoint is dropped first, so everything is read again through the same guards.
     */
    public void sync(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "sync", id, caller -> new Accepted(start(source(id), "manual", caller.name(),
                body(e).path("restart").asBoolean(false))));
    }

    /**
     * POST /api/triggers/{id}: an external scheduler fires a source, authenticated by its signature instead of a token
     * (QStash's {@code Upstash-Signature}, or an HMAC with a timestamp; see {@link SignedTriggers}). 202, 409 while a
     * run is active, 401 for a signature that does not hold; audited either way.
     */
    public void signedTrigger(Exchange e) {
        String id = pathId(e);
        byte[] raw = e.getMessage().getBody(byte[].class);
        String upstash = e.getMessage().getHeader("Upstash-Signature", String.class);
        String hmac = e.getMessage().getHeader("X-Syncwarden-Signature", String.class);
        String who = upstash != null ? "qstash" : hmac != null ? "hmac" : "unsigned"; // the scheme tried, for the audit
        try {
            triggers.verify("/api/triggers/" + id, e.getMessage().getHeader("Upstash-Signature", String.class),
                    e.getMessage().getHeader("X-Syncwarden-Timestamp", String.class),
                    e.getMessage().getHeader("X-Syncwarden-Signature", String.class), raw == null ? new byte[0] : raw);
            Object result = start(source(id), "webhook", who, false);
            audit.record(who, null, "signed_trigger", id, "done", summary(result));
            answer(e, 202, result);
        } catch (Exception ex) {
            fail(e, ex, "signed_trigger", id, false);
            int status = e.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
            audit.record(who, null, "signed_trigger", id, status == 401 ? "denied"
                    : status >= 500 ? "failed" : "refused", ex.getMessage());
        }
    }

    /** Starts a run of the source in the background; 409 while one is active or the source is switched off. */
    private ObjectNode start(SourceRegistry.Source source, String trigger, String by, boolean restart) throws SQLException {
        String id = source.id();
        ServiceStatus route = context.getRouteController().getRouteStatus(id);
        if (route == null || !route.isStarted()) {
            throw new ApiException(409, "source " + id + " is switched off");
        }
        try (Connection c = db().dataSource().getConnection()) {
            c.setAutoCommit(true);
            List<ObjectNode> lock = rows(c, "SELECT run_id FROM source_lock WHERE source_id = ? AND lease_until > ?", id,
                    SyncRuns.utc(Instant.now()));
            if (!lock.isEmpty()) {
                throw new ApiException(409, "a run of " + id + " is active (run " + lock.get(0).path("run_id").asLong()
                        + "); DELETE /api/sources/" + id + "/sync stops it");
            }
        }
        if (!requested.add(id)) {
            throw new ApiException(409, "a run of " + id + " was requested already and is about to start");
        }
        try {
            runner().submit(() -> {
                try {
                    // restart: the run drops the checkpoint once it holds the lock (never under another run's feet)
                    SyncTrigger.Result result = new SyncTrigger(context).fire(id, trigger, restart);
                    LOG.info("API: {} sync of {} by {}: {}", trigger, id, by, result.status());
                } catch (Exception ex) {
                    LOG.warn("API: {} sync of {} by {} did not start: {}", trigger, id, by, ex.getMessage());
                } finally {
                    requested.remove(id);
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException ex) {
            requested.remove(id);
            throw new ApiException(429, "too many runs requested at once; try again shortly");
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("source", id);
        out.put("accepted", true);
        out.put("trigger", trigger);
        out.put("restart", restart);
        return out;
    }

    /** DELETE /api/sources/{id}/sync: the running sync stops at its next batch boundary (checkpoint kept). */
    public void stopSync(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "stop_sync", id, caller -> {
            String sourceId = source(id).id();
            Long run = runs().stopRun(sourceId, caller.name());
            if (run == null) {
                run = runs().requestStop(sourceId, caller.name()); // another node's run: it sees the request at its heartbeat
            }
            if (run == null) {
                throw new ApiException(409, "no run of " + id + " is active");
            }
            ObjectNode out = JSON.createObjectNode();
            out.put("source", id);
            out.put("runId", run);
            out.put("stopping", true);
            return new Accepted(out);
        });
    }

    /** POST /api/sources/{id}/pause: the schedule stops (kept across restarts) until resumed. */
    public void pause(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "pause", id, caller -> {
            String reason = body(e).path("reason").asText("paused by " + caller.name());
            boolean changed = pauses().pause(source(id).id(), reason, caller.name());
            return JSON.createObjectNode().put("source", id).put("paused", true).put("changed", changed);
        });
    }

    /** POST /api/sources/{id}/resume. */
    public void resume(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "resume", id, caller -> {
            boolean changed = pauses().resume(source(id).id(), caller.name());
            return JSON.createObjectNode().put("source", id).put("paused", false).put("changed", changed);
        });
    }

    /** POST /api/sources/{id}/allow-next (admin): the next run a guard would refuse goes through, once. */
    public void allowNext(Exchange e) {
        String id = pathId(e);
        act(e, "admin", "allow_next", id, caller -> {
            boolean set = pauses().allowNext(source(id).id(), caller.name());
            return JSON.createObjectNode().put("source", id).put("allowNext", set);
        });
    }

    /** POST /api/sources/{id}/rollback (admin), body {@code {"beforeRun": N}}: the table as it was before run N. */
    public void rollback(Exchange e) {
        String id = pathId(e);
        act(e, "admin", "rollback", id, caller -> {
            JsonNode body = body(e);
            if (!body.path("beforeRun").canConvertToLong()) {
                throw new IllegalArgumentException("body must be {\"beforeRun\": <run id>} (the run whose changes are undone)");
            }
            SyncSource sync = syncSource(id);
            return JSON.valueToTree(sync.rollback(context, body.path("beforeRun").asLong()));
        });
    }

    /** POST /api/sources/{id}/rejected/replay, body {@code {"runId": N}}: the run's rejected rows written again. */
    public void replayRejected(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "replay_rejected", id, caller -> {
            JsonNode body = body(e);
            if (!body.path("runId").canConvertToLong()) {
                throw new IllegalArgumentException("body must be {\"runId\": <run id>} (the run whose rejected rows are replayed)");
            }
            return JSON.valueToTree(syncSource(id).replayRejected(context, body.path("runId").asLong(),
                    Math.max(1, Math.min(5000, body.path("rowsPerSecond").asInt(500)))));
        });
    }

    /**
     * GET /api/diagnostic?name=X (or email=X): the record looked up in every upstream that can say and in the targets,
     * judged per source (operator: it shows the records' values and asks every upstream).
     */
    public void diagnose(Exchange e) {
        read(e, "operator", caller -> {
            String name = e.getMessage().getHeader("name", String.class);
            // a search for a person across every system: audited (who and when, not the value), one at a time
            if (!diagnosing.tryAcquire()) {
                throw new ApiException(429, "a diagnostic is running; try again in a moment");
            }
            try {
                ObjectNode out = diagnostic.look(name != null ? name : e.getMessage().getHeader("email", String.class));
                audit.record(caller.name(), caller.role(), "diagnostic", name != null ? "by name" : "by email", "done", null);
                return out;
            } finally {
                diagnosing.release();
            }
        });
    }

    private final java.util.concurrent.Semaphore diagnosing = new java.util.concurrent.Semaphore(1);

    // ---------------------------------------------------------------- backfill

    /** GET /api/sources/{id}/backfill/estimate?from=&to=: rows, days and time, and whether this caller may start it. */
    public void backfillEstimate(Exchange e) {
        read(e, "operator", caller -> backfills.estimate(source(pathId(e)).id(), Backfills.range(
                e.getMessage().getHeader("from", String.class), e.getMessage().getHeader("to", String.class)), caller));
    }

    /** POST /api/sources/{id}/backfill {"from","to"}: 202; at most 90 days for operators; 409 while one is active. */
    public void backfill(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "backfill", id, caller -> {
            JsonNode body = body(e);
            return new Accepted(backfills.start(source(id).id(), Backfills.range(body.path("from").asText(null),
                    body.path("to").asText(null)), caller));
        });
    }

    /** GET /api/sources/{id}/backfill/status: the source's latest backfill. */
    public void backfillStatus(Exchange e) {
        read(e, "viewer", caller -> {
            ObjectNode status = backfills.status(source(pathId(e)).id());
            if (status == null) {
                throw new ApiException(404, "no backfill of this source yet");
            }
            return redact(status, caller, "error");
        });
    }

    // ---------------------------------------------------------------- retries, incidents, audit

    /** GET /api/retries: live retry entries and the last 50 ended ones. */
    public void retries(Exchange e) {
        read(e, "viewer", caller -> {
            try (Connection c = db().dataSource().getConnection()) {
                ObjectNode out = JSON.createObjectNode();
                out.set("live", JSON.valueToTree(rows(c, "SELECT retry_id, source_id, status, attempts, failures, error_class, "
                        + "error_message, next_retry_at, created_at, first_run_id, last_run_id FROM retry_queue "
                        + "WHERE active_source IS NOT NULL ORDER BY next_retry_at")));
                out.set("ended", JSON.valueToTree(rows(c, "SELECT retry_id, source_id, status, attempts, outcome, finished_at FROM "
                        + "retry_queue WHERE active_source IS NULL ORDER BY retry_id DESC FETCH FIRST 50 ROWS ONLY")));
                return redact(out, caller, "error_message", "outcome");
            }
        });
    }

    /** POST /api/retries/{id}/retry-now: a pending entry is due at once (the retry queue's next tick takes it). */
    public void retryNow(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "retry_now", "retry " + id, caller -> {
            int n = update("UPDATE retry_queue SET next_retry_at = ?, updated_at = ? WHERE retry_id = ? AND status = 'pending'",
                    SyncRuns.utc(Instant.now()), SyncRuns.utc(Instant.now()), number(id));
            if (n == 0) {
                throw new ApiException(404, "no pending retry entry " + id);
            }
            return JSON.createObjectNode().put("retryId", number(id)).put("due", "now");
        });
    }

    /** DELETE /api/retries/{id} (admin): a pending entry is cancelled. */
    public void cancelRetry(Exchange e) {
        String id = pathId(e);
        act(e, "admin", "cancel_retry", "retry " + id, caller -> {
            int n = update("UPDATE retry_queue SET status = 'cancelled', active_source = NULL, finished_at = ?, updated_at = ?, "
                    + "outcome = ? WHERE retry_id = ? AND status = 'pending'", SyncRuns.utc(Instant.now()),
                    SyncRuns.utc(Instant.now()), "cancelled by " + caller.name(), number(id));
            if (n == 0) {
                throw new ApiException(409, "retry entry " + id + " is not pending (running, ended or unknown)");
            }
            return JSON.createObjectNode().put("retryId", number(id)).put("status", "cancelled");
        });
    }

    /** GET /api/incidents?status=open|all: incidents, newest first (open ones, or the last 200 of all). */
    public void incidents(Exchange e) {
        read(e, "viewer", caller -> {
            boolean all = "all".equals(e.getMessage().getHeader("status", String.class));
            try (Connection c = db().dataSource().getConnection()) {
                List<ObjectNode> list = rows(c, "SELECT incident_id, source_id, kind, severity, status, message, occurrences, run_id, "
                        + "opened_at, updated_at, resolved_at, resolved_by, acknowledged_at, acknowledged_by FROM incident "
                        + (all ? "" : "WHERE open_key IS NOT NULL ") + "ORDER BY incident_id DESC FETCH FIRST 200 ROWS ONLY");
                ObjectNode out = JSON.createObjectNode();
                out.set("incidents", JSON.valueToTree(list));
                return out;
            }
        });
    }

    /** POST /api/incidents/{id}/acknowledge: someone is on it (no repeated alerts; escalations still go out). */
    public void acknowledge(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "acknowledge", "incident " + id, caller -> {
            long incident = number(id);
            try (Connection c = db().dataSource().getConnection()) {
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("UPDATE incident SET acknowledged_at = ?, acknowledged_by = ?, "
                        + "updated_at = ? WHERE incident_id = ? AND open_key IS NOT NULL")) {
                    ps.setObject(1, SyncRuns.utc(Instant.now()));
                    ps.setString(2, caller.name());
                    ps.setObject(3, SyncRuns.utc(Instant.now()));
                    ps.setLong(4, incident);
                    if (ps.executeUpdate() == 0) {
                        c.rollback();
                        throw new ApiException(404, "no open incident " + id);
                    }
                }
                incidents().event(c, incident, "acknowledged", caller.name(), body(e).path("note").asText(null));
                c.commit();
            }
            return JSON.createObjectNode().put("incidentId", incident).put("acknowledged", true);
        });
    }

    /** POST /api/incidents/{id}/resolve: closed by hand (it opens again if the watchdog finds the condition). */
    public void resolveIncident(Exchange e) {
        String id = pathId(e);
        act(e, "operator", "resolve_incident", "incident " + id, caller -> {
            long incident = number(id);
            try (Connection c = db().dataSource().getConnection()) {
                c.setAutoCommit(false);
                List<ObjectNode> found = rows(c, "SELECT source_id, kind FROM incident WHERE incident_id = ? AND open_key IS NOT NULL",
                        incident);
                if (found.isEmpty()) {
                    c.rollback();
                    throw new ApiException(404, "no open incident " + id);
                }
                incidents().resolve(c, found.get(0).path("source_id").asText(), found.get(0).path("kind").asText(), caller.name(),
                        body(e).path("note").asText("resolved by hand"));
                c.commit();
            }
            return JSON.createObjectNode().put("incidentId", incident).put("resolved", true);
        });
    }

    /** GET /api/audit?page=&size= (admin). */
    public void auditLog(Exchange e) {
        read(e, "admin", caller -> page(e, "SELECT audit_id, at, actor, role, action, target, outcome, detail FROM audit_log "
                + "ORDER BY audit_id DESC", "SELECT COUNT(*) AS n FROM audit_log"));
    }

    /** Records a signed trigger's signature; false when any node saw it already (a replay). Old ones are let go. */
    private static boolean firstTime(TargetDatabase db, String signature, Instant now) {
        try (Connection c = db.dataSource().getConnection()) {
            c.setAutoCommit(true);
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM seen_signature WHERE seen_at < ?")) {
                ps.setObject(1, SyncRuns.utc(now.minus(Duration.ofMinutes(15))));
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO seen_signature (signature, seen_at) VALUES (?, ?)")) {
                ps.setString(1, signature.length() > 64 ? signature.substring(0, 64) : signature);
                ps.setObject(2, SyncRuns.utc(now));
                ps.executeUpdate();
                return true;
            } catch (SQLException e) {
                if (e.getSQLState() != null && e.getSQLState().startsWith("23")) {
                    return false;
                }
                throw e;
            }
        } catch (SQLException e) {
            throw new ApiException(503, "the target database did not answer; try again");
        }
    }

    // ---------------------------------------------------------------- helpers

    private ObjectNode page(Exchange e, String sql, String countSql, Object... params) throws SQLException {
        int page = Math.max(0, intParam(e, "page", 0));
        int size = Math.min(MAX_PAGE, Math.max(1, intParam(e, "size", 50)));
        try (Connection c = db().dataSource().getConnection()) {
            ObjectNode out = JSON.createObjectNode();
            out.put("page", page);
            out.put("size", size);
            out.put("total", rows(c, countSql, params).get(0).path("n").asLong());
            Object[] all = java.util.Arrays.copyOf(params, params.length + 2);
            all[params.length] = (long) page * size;
            all[params.length + 1] = size;
            out.set("items", JSON.valueToTree(rows(c, sql + " OFFSET ? ROWS FETCH NEXT ? ROWS ONLY", all)));
            return out;
        }
    }

    private static int intParam(Exchange e, String name, int fallback) {
        String value = e.getMessage().getHeader(name, String.class);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            return Integer.parseInt(value.strip());
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException(name + " must be a whole number, was '" + value + "'");
        }
    }

    private static long number(String id) {
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException("'" + id + "' is not an id");
        }
    }

    private static JsonNode body(Exchange e) {
        String text = e.getMessage().getBody(String.class);
        if (text == null || text.isBlank()) {
            return JSON.createObjectNode();
        }
        try {
            return JSON.readTree(text);
        } catch (Exception ex) {
            throw new IllegalArgumentException("the body is not JSON: " + ex.getMessage());
        }
    }

    private int update(String sql, Object... params) throws SQLException {
        try (Connection c = db().dataSource().getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            c.setAutoCommit(true);
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            return ps.executeUpdate();
        }
    }

    /** Rows as JSON objects (column names in lower case, timestamps as ISO-8601 instants). */
    static List<ObjectNode> rows(Connection c, String sql, Object... params) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < params.length; i++) {
                ps.setObject(i + 1, params[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                ResultSetMetaData md = rs.getMetaData();
                List<ObjectNode> out = new ArrayList<>();
                while (rs.next()) {
                    ObjectNode row = JSON.createObjectNode();
                    for (int i = 1; i <= md.getColumnCount(); i++) {
                        String name = md.getColumnLabel(i).toLowerCase(Locale.ROOT);
                        Object v = rs.getObject(i);
                        if (v == null) {
                            row.putNull(name);
                        } else if (v instanceof java.sql.Date || v instanceof java.time.LocalDate) {
                            row.put(name, v instanceof java.sql.Date d ? d.toLocalDate().toString() : v.toString());
                        } else if (v instanceof java.sql.Timestamp || v instanceof OffsetDateTime || v instanceof java.time.temporal.Temporal) {
                            OffsetDateTime t = rs.getObject(i, OffsetDateTime.class);
                            row.put(name, t == null ? v.toString() : t.toInstant().toString());
                        } else if (v instanceof Double || v instanceof Float || v instanceof java.math.BigDecimal) {
                            row.put(name, ((Number) v).doubleValue());
                        } else if (v instanceof Number n) {
                            row.put(name, n.longValue());
                        } else if (v instanceof Boolean b) {
                            row.put(name, b);
                        } else {
                            row.put(name, v.toString());
                        }
                    }
                    out.add(row);
                }
                return out;
            }
        }
    }

    private List<SourceRegistry.Source> started() {
        List<SourceRegistry.Source> out = new ArrayList<>();
        for (SourceRegistry.Source s : registry().sources()) {
            ServiceStatus status = context.getRouteController().getRouteStatus(s.id());
            if (status != null && status.isStarted()) {
                out.add(s);
            }
        }
        return out;
    }

    private SourceRegistry.Source source(String id) {
        return registry().sources().stream().filter(s -> s.id().equals(id)).findFirst()
                .orElseThrow(() -> new ApiException(404, "no source '" + (id == null ? "" : id.replaceAll("[^\\w.-]", "?")) + "'"));
    }

    private SyncSource syncSource(String id) {
        SyncSource sync = SyncSource.of(context, source(id).id());
        if (sync == null) {
            throw new ApiException(409, "source " + id + " is not running (switched off?)");
        }
        return sync;
    }

    private String parameter(SourceRegistry.Source source, String name) {
        Object value = source.parameters().get(name);
        return value == null ? null : context.resolvePropertyPlaceholders(value.toString());
    }

    private String nextFire(String sourceId) {
        try {
            org.apache.camel.component.quartz.QuartzComponent quartz = context.getComponent("quartz",
                    org.apache.camel.component.quartz.QuartzComponent.class);
            org.quartz.Trigger trigger = quartz.getScheduler().getTrigger(org.quartz.TriggerKey.triggerKey(sourceId, "syncwarden"));
            Date next = trigger == null ? null : trigger.getNextFireTime();
            return next == null ? null : next.toInstant().toString();
        } catch (Exception ex) {
            return null;
        }
    }

    private static String worse(String a, String b) {
        List<String> order = List.of("healthy", "degraded", "unhealthy");
        return order.indexOf(b) > order.indexOf(a) ? b : a;
    }

    private synchronized ExecutorService runner() {
        if (runner == null) {
            // two runs at a time, twenty waiting: a flood of requests is refused (409), not queued without end
            runner = context.getExecutorServiceManager().newThreadPool(this, "api-runs",
                    new org.apache.camel.builder.ThreadPoolProfileBuilder("api-runs").poolSize(2).maxPoolSize(2).maxQueueSize(20)
                            .rejectedPolicy(org.apache.camel.util.concurrent.ThreadPoolRejectedPolicy.Abort).build());
        }
        return runner;
    }

    private SourceRegistry registry() {
        return context.getRegistry().findSingleByType(SourceRegistry.class);
    }

    private Watchdog watchdog() {
        return context.getRegistry().lookupByNameAndType("watchdog", Watchdog.class);
    }

    private SyncRuns runs() {
        return context.getRegistry().findSingleByType(SyncRuns.class);
    }

    private TargetDatabase db() {
        return runs().database();
    }

    private Breakers breakers() {
        return context.getRegistry().findSingleByType(Breakers.class);
    }

    private SourcePause pauses() {
        return context.getRegistry().findSingleByType(SourcePause.class);
    }

    private Incidents incidents() {
        return context.getRegistry().findSingleByType(Incidents.class);
    }
}
