package io.syncwarden;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Every {@code syncwarden.*} setting, declared once: its type, default, unit, allowed range and meaning. Values are
 * read (application.properties, {@code -D}, the environment through {@code {{env:...}}}) and checked together at
 * start-up; a wrong value stops the start with one line per problem naming the key and what it must be. The table in
 * docs/configuration.md is printed from here ({@code java -jar syncwarden.jar settings}).
 */
public final class Config {
    public enum Type { TEXT, SECRET, INT, LONG, DECIMAL, BOOL, CRON, CHOICE }

    /** One setting. {@code min}/{@code max} bound numbers; {@code choices} the values of a CHOICE. */
    public record Key(String name, Type type, String defaultValue, String unit, Double min, Double max, List<String> choices,
                      String meaning) {
    }

    private static final List<Key> KEYS = new ArrayList<>();

    private static Key key(String name, Type type, String defaultValue, String unit, Double min, Double max, String meaning) {
        Key k = new Key(name, type, defaultValue, unit, min, max, List.of(), meaning);
        KEYS.add(k);
        return k;
    }

    private static void text(String name, String defaultValue, String meaning) {
        key(name, Type.TEXT, defaultValue, "", null, null, meaning);
    }

    private static void secret(String name, String env, String meaning) {
        key(name, Type.SECRET, "", "env " + env, null, null, meaning);
    }

    private static void number(String name, Type type, String defaultValue, String unit, double min, String meaning) {
        key(name, type, defaultValue, unit, min, null, meaning);
    }

    private static void flag(String name, String defaultValue, String meaning) {
        key(name, Type.BOOL, defaultValue, "", null, null, meaning);
    }

    private static void cron(String name, String defaultValue, String meaning) {
        key(name, Type.CRON, defaultValue, "Quartz cron", null, null, meaning);
    }

    private static void choice(String name, String defaultValue, List<String> choices, String meaning) {
        KEYS.add(new Key(name, Type.CHOICE, defaultValue, "", null, null, choices, meaning));
    }

    private static final Type INT = Type.INT;
    private static final Type LONG = Type.LONG;
    private static final Type DECIMAL = Type.DECIMAL;

    static {
        // target database
        text("syncwarden.db.url", "jdbc:h2:file:./data/syncwarden", "target database JDBC URL (H2 file by default; PostgreSQL in production)");
        text("syncwarden.db.username", "sa", "target database user");
        secret("syncwarden.db.password", "SYNCWARDEN_DB_PASSWORD", "target database password");
        number("syncwarden.db.pool-size", INT, "10", "connections", 1, "target connection pool size (HikariCP)");
        text("syncwarden.db.schema", "syncwarden", "schema of Syncwarden's own tables (created by the migrations)");
        text("syncwarden.db.data-schema", "default", "schema synced tables are created and looked up in; default = the database's default schema");
        number("syncwarden.db.connect-timeout-ms", LONG, "10000", "ms", 1, "getting a target connection");
        number("syncwarden.db.lock-timeout-ms", LONG, "60000", "ms", 1, "waiting for a row lock in the target");
        number("syncwarden.db.statement-timeout-ms", LONG, "600000", "ms", 1, "one target statement");
        number("syncwarden.db.socket-timeout-ms", LONG, "660000", "ms", 0, "one socket read from the target (PostgreSQL; 0 = none)");
        number("syncwarden.db.h2-cache-kb", INT, "16384", "KiB", 0, "H2 target only: its page cache, held in this JVM's heap (a CACHE_SIZE in the URL wins)");
        number("syncwarden.db.breaker.failures", INT, "5", "attempts", 1, "target database breaker: connection attempts in a row that found it unreachable before it opens");
        number("syncwarden.db.breaker.open-ms", LONG, "10000", "ms", 1, "target database breaker: how long connections are refused before one is tried");
        // runs
        text("syncwarden.node-id", "auto", "node name in runs and locks; auto = host name + pid + a random suffix; a fixed id must be unique per instance");
        number("syncwarden.lock.lease-ms", LONG, "120000", "ms", 1000, "a run's lock lease, renewed every quarter of it; a dead node's sources are taken over after it");
        number("syncwarden.health.unhealthy-after-failures", INT, "3", "runs", 1, "consecutive failed runs before a source is unhealthy (before: degraded)");
        number("syncwarden.health.long-run-factor", DECIMAL, "3", "", 1, "a run longer than this multiple of the source's usual duration shows as long_running");
        number("syncwarden.health.long-run-min-ms", LONG, "60000", "ms", 0, "... and at least this long");
        number("syncwarden.shutdown.grace-ms", LONG, "6000", "ms", 0, "on stop, how long running syncs get to reach a batch boundary");
        number("syncwarden.runs.pending-retry-ms", LONG, "5000", "ms", 1, "how often run records that could not be written (target down) are tried again");
        number("syncwarden.runs.progress-log-ms", LONG, "30000", "ms", 1, "how often a long run logs its progress");
        // in-route retries
        number("syncwarden.retry.max-redeliveries", INT, "3", "attempts", 0, "in-route retries of a failing sync step");
        number("syncwarden.retry.initial-delay-ms", LONG, "2000", "ms", 0, "first in-route retry delay");
        number("syncwarden.retry.backoff-multiplier", DECIMAL, "2", "", 1, "in-route retry delay multiplier");
        number("syncwarden.retry.max-delay-ms", LONG, "60000", "ms", 0, "largest in-route retry delay");
        number("syncwarden.retry.rate-limit-wait-ms", LONG, "60000", "ms", 0, "wait after a 429 that names no wait");
        number("syncwarden.retry.max-rate-limit-wait-ms", LONG, "300000", "ms", 0, "longest upstream-named wait held in-route; a longer one goes to the retry queue");
        number("syncwarden.retry.max-rate-limit-hold-ms", LONG, "86400000", "ms", 0, "longest an upstream's rate-limit reset may hold a source");
        // retry queue
        cron("syncwarden.retry-queue.cron", "0 0/2 * * * ?", "when the retry-queue route claims due entries");
        number("syncwarden.retry-queue.batch", INT, "10", "entries", 1, "entries claimed per tick");
        number("syncwarden.retry-queue.concurrent-runs", INT, "2", "runs", 1, "sources re-run at once by the retry queue");
        number("syncwarden.retry-queue.initial-delay-ms", LONG, "300000", "ms", 0, "wait before the first queue attempt");
        number("syncwarden.retry-queue.backoff-multiplier", DECIMAL, "2", "", 1, "queue wait multiplier per attempt");
        number("syncwarden.retry-queue.max-delay-ms", LONG, "2400000", "ms", 0, "largest wait between queue attempts");
        number("syncwarden.retry-queue.max-attempts", INT, "3", "attempts", 1, "queue attempts before the entry fails and an incident opens");
        number("syncwarden.retry-queue.busy-delay-ms", LONG, "60000", "ms", 0, "next try when the source was busy with another run");
        number("syncwarden.retry-queue.claim-timeout-ms", LONG, "600000", "ms", 1000, "a claim this old whose source no run holds is freed");
        number("syncwarden.retry-queue.keep-days", INT, "7", "days", 1, "finished retry entries are deleted after");
        cron("syncwarden.recovery.cron", "0 * * * * ?", "how often failing sources are probed with one cheap request");
        // breakers, guards, anomaly, snapshots, pause
        number("syncwarden.breaker.failures", INT, "5", "calls", 1, "failed upstream calls in a row that open a source's circuit breaker");
        number("syncwarden.breaker.open-s", LONG, "300", "s", 1, "seconds a source's breaker stays open before one trial call");
        key("syncwarden.guard.max-drop", DECIMAL, "0.5", "share", 0.0, 1.0, "a full read shrinking the table by more than this share is refused before apply");
        number("syncwarden.anomaly.threshold", DECIMAL, "3.5", "z-score", 0, "robust z-score past which a row count is an anomaly (0 = off)");
        number("syncwarden.anomaly.window", INT, "20", "runs", 2, "good runs of the same mode the anomaly check looks back at");
        number("syncwarden.anomaly.min-runs", INT, "5", "runs", 2, "good runs needed before counts are judged");
        key("syncwarden.anomaly.min-spread", DECIMAL, "0.05", "share", 0.0, 1.0, "the spread is never taken below this share of the median");
        number("syncwarden.snapshots.keep", INT, "3", "snapshots", 0, "snapshots of the target kept per full-read source, for a rollback (0 = none)");
        number("syncwarden.pause.after-non-recoverable", INT, "3", "runs", 0, "non-recoverable failures in a row that pause a source (0 = never)");
        // watchdog, alerts, maintenance
        cron("syncwarden.watchdog.cron", "0 */5 * * * ?", "when the watchdog checks every source");
        key("syncwarden.watchdog.error-rate", DECIMAL, "0.5", "share", 0.0, 1.0, "an error_rate incident past this share of failed runs in the last hour");
        number("syncwarden.watchdog.error-rate-min-runs", INT, "4", "runs", 1, "... with at least this many runs ended");
        secret("syncwarden.alerts.slack.webhook-url", "SLACK_WEBHOOK_URL", "Slack incoming webhook (high and critical incidents); empty = off");
        text("syncwarden.alerts.pagerduty.url", "https://events.pagerduty.com/v2/enqueue", "PagerDuty Events v2 URL (env PAGERDUTY_EVENTS_URL)");
        secret("syncwarden.alerts.pagerduty.routing-key", "PAGERDUTY_ROUTING_KEY", "PagerDuty routing key (critical incidents); empty = off");
        number("syncwarden.alerts.cooldown-minutes", LONG, "15", "min", 0, "at most one message per source, condition and channel within");
        number("syncwarden.alerts.repeat-minutes", LONG, "240", "min", 0, "an open incident is repeated on Slack after (0 = never)");
        number("syncwarden.alerts.max-attempts", INT, "8", "attempts", 1, "delivery attempts of one alert");
        number("syncwarden.alerts.retry-delay-ms", LONG, "30000", "ms", 1, "first wait before a failed delivery is retried (doubling)");
        number("syncwarden.alerts.delay-ms", LONG, "15000", "ms", 10, "how often the alert outbox is delivered");
        cron("syncwarden.retention.cron", "0 30 3 * * ?", "when old control rows are deleted");
        number("syncwarden.retention.months", INT, "13", "months", 1, "control rows older than this are deleted");
        number("syncwarden.retention.batch", INT, "1000", "rows", 1, "rows deleted per transaction");
        cron("syncwarden.full-sync.cron", "0 17 */6 * * ?", "when every source is synced once more and verified (resilient full sync)");
        // operations API, triggers, Jolokia
        secret("syncwarden.api.tokens", "SYNCWARDEN_API_TOKENS", "API tokens as name:role:sha256hex entries, comma-separated");
        flag("syncwarden.api.health-public", "true", "GET /api/health answers without a token");
        text("syncwarden.api.public-url", "http://localhost:8080", "the service's address as callers see it (env SYNCWARDEN_PUBLIC_URL; QStash's sub claim)");
        secret("syncwarden.triggers.qstash.current-key", "QSTASH_CURRENT_SIGNING_KEY", "QStash current signing key");
        secret("syncwarden.triggers.qstash.next-key", "QSTASH_NEXT_SIGNING_KEY", "QStash next signing key");
        secret("syncwarden.triggers.hmac-secret", "SYNCWARDEN_TRIGGER_HMAC_SECRET", "shared HMAC secret of signed triggers (at least 32 bytes)");
        text("syncwarden.jolokia.user", "", "Jolokia user besides API tokens (env SYNCWARDEN_JOLOKIA_USER)");
        secret("syncwarden.jolokia.password", "SYNCWARDEN_JOLOKIA_PASSWORD", "that user's password");
        choice("syncwarden.jolokia.role", "viewer", List.of("viewer", "operator", "admin"), "that user's role");
        flag("syncwarden.jolokia.writes-enabled", "false", "admins may start and stop routes through Jolokia (Hawtio)");
        // live reload
        flag("syncwarden.reload.enabled", "true", "live reload of the routes folder");
        text("syncwarden.reload.dir", "routes", "the routes folder the live reload looks at");
        number("syncwarden.reload.poll-ms", LONG, "1000", "ms", 50, "how often the routes folder is looked at");
        number("syncwarden.reload.quiet-ms", LONG, "2000", "ms", 0, "an edit is taken once the file has not changed for this long");
        // demo and sources
        flag("syncwarden.demo.enabled", "true", "seed and sync the demo replica");
        text("syncwarden.demo.url", "jdbc:h2:file:./data/demo-replica", "demo replica database");
        number("syncwarden.demo.rows", INT, "500", "rows", 0, "rows seeded into the demo replica on first start");
        number("syncwarden.demo.batch-size", INT, "1000", "rows", 1, "rows per committed batch of the demo sync");
        cron("syncwarden.demo.cron", "0 0 */6 * * ?", "demo schedule");
        flag("syncwarden.replica.enabled", "false", "turn on the replica-orders source");
        text("syncwarden.replica.url", "", "its replica's JDBC URL (env REPLICA_JDBC_URL)");
        text("syncwarden.replica.username", "", "its user (env REPLICA_USERNAME)");
        secret("syncwarden.replica.password", "REPLICA_PASSWORD", "its password");
        number("syncwarden.source.connect-timeout-ms", LONG, "10000", "ms", 1, "replica connections: connect timeout");
        number("syncwarden.source.socket-timeout-ms", LONG, "300000", "ms", 0, "replica connections: socket read timeout");
        number("syncwarden.upstream.connect-timeout-ms", INT, "30000", "ms", 1, "every HTTP upstream: connect timeout");
        number("syncwarden.upstream.read-timeout-ms", INT, "300000", "ms", 1, "every HTTP upstream: read timeout");
        text("syncwarden.google.root-url", "https://sheets.googleapis.com/", "Sheets API root (change only for a proxy)");
        text("syncwarden.google.token-url", "https://oauth2.googleapis.com/token", "Google OAuth token URL");
    }

    private Config() {
    }

    public static List<Key> keys() {
        return List.copyOf(KEYS);
    }

    public static Optional<Key> key(String name) {
        return KEYS.stream().filter(k -> k.name().equals(name)).findFirst();
    }

    /** Typed values of every setting, checked. */
    public static final class Values {
        private final Map<String, Object> values;

        private Values(Map<String, Object> values) {
            this.values = values;
        }

        private Object get(String name) {
            if (!values.containsKey(name)) {
                throw new IllegalArgumentException("setting " + name + " is not declared in io.syncwarden.Config");
            }
            return values.get(name);
        }

        public String text(String name) {
            return (String) get(name);
        }

        public int integer(String name) {
            return ((Number) get(name)).intValue();
        }

        public long longValue(String name) {
            return ((Number) get(name)).longValue();
        }

        public double decimal(String name) {
            return ((Number) get(name)).doubleValue();
        }

        public boolean bool(String name) {
            return (Boolean) get(name);
        }
    }

    /**
     * Reads and checks every setting. {@code lookup} gives a key's value (placeholders resolved) or empty when unset;
     * {@code present} are the {@code syncwarden.*} keys that were set, checked for misspellings. Throws one
     * IllegalArgumentException listing every problem.
     */
    public static Values load(Function<String, Optional<String>> lookup, Collection<String> present) {
        Map<String, Object> out = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (Key k : KEYS) {
            try {
                String raw = lookup.apply(k.name()).orElse(k.defaultValue());
                out.put(k.name(), parse(k, raw == null ? "" : raw.strip()));
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage());
            }
        }
        if (problems.isEmpty()) {
            atMost(out, "syncwarden.anomaly.min-runs", "syncwarden.anomaly.window", problems);
            atMost(out, "syncwarden.retry.initial-delay-ms", "syncwarden.retry.max-delay-ms", problems);
            atMost(out, "syncwarden.retry-queue.initial-delay-ms", "syncwarden.retry-queue.max-delay-ms", problems);
        }
        for (String name : present) {
            if (name.startsWith("syncwarden.") && key(name).isEmpty() && !name.equals("syncwarden.config")) {
                String near = closest(name);
                problems.add("unknown setting " + name + (near == null ? "" : " (did you mean " + near + "?)")
                        + ": see docs/configuration.md for every setting");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("Invalid configuration (" + problems.size() + " problem"
                    + (problems.size() == 1 ? "" : "s") + "):\n  " + String.join("\n  ", problems));
        }
        return new Values(out);
    }

    private static void atMost(Map<String, Object> values, String low, String high, List<String> problems) {
        Number a = (Number) values.get(low);
        Number b = (Number) values.get(high);
        if (a.doubleValue() > b.doubleValue()) {
            problems.add(low + " must be <= " + high + ", were " + a + " and " + b);
        }
    }

    static Object parse(Key k, String value) {
        String unit = k.unit().isEmpty() || k.unit().startsWith("env") ? "" : " " + k.unit();
        switch (k.type()) {
            case TEXT:
            case SECRET:
                return value;
            case BOOL:
                if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
                    throw new IllegalArgumentException(k.name() + " must be true or false, was '" + value + "'");
                }
                return Boolean.parseBoolean(value.toLowerCase(Locale.ROOT));
            case CHOICE:
                if (!k.choices().contains(value)) {
                    throw new IllegalArgumentException(k.name() + " must be one of " + String.join(", ", k.choices())
                            + ", was '" + value + "'");
                }
                return value;
            case CRON:
                try {
                    org.quartz.CronExpression.validateExpression(value);
                } catch (java.text.ParseException e) {
                    throw new IllegalArgumentException(k.name() + " must be a Quartz cron (seconds minutes hours "
                            + "day-of-month month day-of-week, e.g. '" + k.defaultValue() + "'), was '" + value + "': " + e.getMessage());
                }
                return value;
            default:
                break;
        }
        Number n;
        try {
            n = switch (k.type()) {
                case INT -> Integer.parseInt(value);
                case LONG -> Long.parseLong(value);
                default -> Double.parseDouble(value);
            };
        } catch (NumberFormatException e) {
            String what = k.type() == Type.DECIMAL ? "a number" : "a whole number";
            throw new IllegalArgumentException(k.name() + " must be " + what + (unit.isEmpty() ? "" : " (" + unit.strip() + ")")
                    + ", was '" + value + "'");
        }
        if (k.type() == Type.DECIMAL && (Double.isNaN(n.doubleValue()) || Double.isInfinite(n.doubleValue()))) {
            throw new IllegalArgumentException(k.name() + " must be a finite number, was '" + value + "'");
        }
        if (k.min() != null && n.doubleValue() < k.min()) {
            throw new IllegalArgumentException(k.name() + " must be >= " + plain(k.min()) + ", was " + value);
        }
        if (k.max() != null && n.doubleValue() > k.max()) {
            throw new IllegalArgumentException(k.name() + " must be <= " + plain(k.max()) + ", was " + value);
        }
        return n;
    }

    private static String plain(double d) {
        return d == Math.rint(d) ? String.valueOf((long) d) : String.valueOf(d);
    }

    private static String closest(String name) {
        return io.syncwarden.ops.Suggest.closest(name, KEYS.stream().map(Key::name).toList(), 3);
    }

    /** The settings as a Markdown table (docs/configuration.md). */
    public static String markdown() {
        StringBuilder md = new StringBuilder();
        md.append("# Configuration\n\n")
                .append("Every `syncwarden.*` setting, printed by `java -jar target/syncwarden.jar settings` from its one declaration\n")
                .append("(`io.syncwarden.Config`). Set them in `application.properties`, as `-Dkey=value`, or through the\n")
                .append("environment variable a value reads (`{{env:NAME:default}}`). Every value is checked at start-up: a wrong one\n")
                .append("stops the start with a line naming the key and what it must be; an unknown `syncwarden.*` key too.\n\n")
                .append("| key | type | default | unit | allowed | meaning |\n|---|---|---|---|---|---|\n");
        for (Key k : KEYS) {
            String allowed = k.type() == Type.CHOICE ? String.join(", ", k.choices())
                    : k.min() != null && k.max() != null ? plain(k.min()) + " to " + plain(k.max())
                    : k.min() != null ? ">= " + plain(k.min()) : "";
            md.append("| `").append(k.name()).append("` | ").append(k.type().name().toLowerCase(Locale.ROOT)).append(" | ")
                    .append(k.type() == Type.SECRET ? "" : k.defaultValue().isEmpty() ? "(empty)" : "`" + k.defaultValue() + "`")
                    .append(" | ").append(k.unit()).append(" | ").append(allowed).append(" | ").append(k.meaning().replace("|", "\\|"))
                    .append(" |\n");
        }
        return md.toString();
    }
}
