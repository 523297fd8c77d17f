package io.syncwarden.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncwarden.sync.BatchWriter;
import io.syncwarden.sync.Checkpoints;
import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.TargetTable;
import java.io.InputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.StreamCache;

/**
 * The {@code calcom-bookings} kind: Cal.com API v2 {@code GET /v2/bookings}, in either of two API versions chosen by
 * the {@code apiVersion} parameter. The route loops {@link #request} - camel-http - {@link #sync} per page; each page
 * is committed with its checkpoint. A run has two passes: bookings changed since the updatedAt watermark, then
 * bookings created since the createdAt watermark (a booking never changed may have no updatedAt, which an
 * afterUpdatedAt filter cannot return). The first run reads everything in one pass.
 *
 * <p><b>{@code 2024-08-13}</b> (offset paging, {@code pagination.hasNextPage}): each pass reads in its watermark's
 * ascending order and pages by keyset on the watermark: each page asks {@code afterUpdatedAt=<newest updatedAt
 * committed> - 1 ms} (so bookings sharing that instant are not lost whether the API compares with &gt; or &gt;=;
 * re-reading them is a harmless unchanged upsert), with {@code skip} used only to step through a page-sized run of
 * identical {@code updatedAt}. A booking changed while the run pages moves behind the anchor instead of shifting
 * unread bookings out of reach, so nothing is skipped. Checkpoint: {@code pass|updated|created|tieSkip|runUpdated|runCreated}.
 *
 * <p><b>{@code 2026-05-01}</b> (cursor paging, {@code cursor} / {@code pagination.nextCursor} / {@code pagination.hasMore},
 * {@code limit} up to 100, at most one {@code status}): the order is Cal.com's own (by booking uuid, derived from the
 * status), not a watermark's, so a pass keeps its filter ({@code afterUpdatedAt} / {@code afterCreatedAt}) for the
 * whole walk and follows the cursors to the last page; each committed page checkpoints the next cursor, and an
 * interrupted run resumes there. Because a booking changed during the walk may sit behind the cursor, the next run's
 * watermarks are the walk's start less the clock-skew allowance (then less the lookback): everything changed after
 * that is read again, everything before it was in the walk. A cursor inherited from an earlier run is tried once:
 * the checkpoint forgets it first, so a cursor Cal.com no longer accepts costs one failed run, then the pass walks
 * again from its first page. Checkpoint: JSON with the version, pass, anchors, next cursor and walk start.
 */
public class CalcomBookingsSource extends SyncSource {
    public static final String PAGING = "syncwardenPaging";
    public static final String MORE_PAGES = "syncwardenMorePages";
    static final String TABLE = "syncwardenTargetTable";
    static final List<String> COLUMNS = List.of("uid", "booking_id", "title", "status", "start_time", "end_time",
            "attendee_name", "attendee_email", "attendee_time_zone", "event_type_id", "event_type_slug", "location",
            "created_at", "updated_at", "cancellation_reason");
    static final Map<String, String> TYPES = Map.of("booking_id", "BIGINT", "event_type_id", "BIGINT",
            "start_time", "TIMESTAMP", "end_time", "TIMESTAMP", "created_at", "TIMESTAMP", "updated_at", "TIMESTAMP",
            "title", "VARCHAR(1000)", "location", "VARCHAR(2000)", "cancellation_reason", "VARCHAR(2000)");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Allowance for the difference between Cal.com's clock and ours. */
    private static final Duration CLOCK_SKEW = Duration.ofMinutes(5);
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(CalcomBookingsSource.class);

    private String apiKey;
    private KeyRing keys = new KeyRing("");
    private String baseUrl = "https://api.cal.com";
    static final String V2024 = "2024-08-13";
    static final String V2026 = "2026-05-01";
    /** The values of Cal.com's {@code status} filter. */
    static final List<String> STATUSES = List.of("upcoming", "recurring", "past", "cancelled", "unconfirmed");
    private String apiVersion = V2024;
    private int take = 100;
    private Duration lookback = Duration.ofMinutes(10);
    private String status = "";
    private String writeBackSpreadsheetId = "";
    private String writeBackRange = "";
    private String writeBackMatch = "Email";
    private String writeBackUpdate = "";
    private String writeBackAppend = "";

    /**
     * Where the run stands. A run has two passes: {@code U} reads bookings changed since the updatedAt watermark,
     * {@code C} reads bookings created since the createdAt watermark (a booking never changed may have no updatedAt,
     * and an afterUpdatedAt filter cannot return it). The first run reads everything in one {@code C} pass.
     */
    static final class Paging {
        char pass;
        String updated;
        String created;
        long tieSkip;
        final String runUpdated;
        final String runCreated;
        int pages;
        /** 2026-05-01: the cursor of the next page (null: the pass's first page). */
        String pageCursor;
        /** 2026-05-01: when the run's walk began; the next run's watermarks are taken from it. */
        String walkStart;
        /** 2026-05-01: the cursor came from an earlier run's checkpoint and has not answered yet. */
        boolean inherited;
        /** 2026-05-01: the cursors this pass was given, to stop a walk that would go round in circles. */
        final java.util.Set<String> seen = new java.util.HashSet<>();
        int emptyPages;

        Paging(char pass, String updated, String created, long tieSkip, String runUpdated, String runCreated) {
            this.pass = pass;
            this.updated = updated;
            this.created = created;
            this.tieSkip = tieSkip;
            this.runUpdated = runUpdated;
            this.runCreated = runCreated;
        }

        /** A run that starts from these watermarks: changes first (when there is a watermark), then new bookings. */
        static Paging from(String updated, String created) {
            return new Paging(updated == null ? 'C' : 'U', updated, created, 0, updated, created);
        }

        /** The first run (no watermark yet): everything is read, so both watermarks may be taken from what it sees. */
        boolean fullRead() {
            return runUpdated == null && runCreated == null;
        }

        static String cursor(char pass, String updated, String created, long tieSkip, String runUpdated, String runCreated) {
            return pass + "|" + nz(updated) + "|" + nz(created) + "|" + tieSkip + "|" + nz(runUpdated) + "|" + nz(runCreated);
        }

        String cursor() {
            return cursor(pass, updated, created, tieSkip, runUpdated, runCreated);
        }

        private static String nz(String s) {
            return s == null ? "" : s;
        }

        private static String orNull(String s) {
            return s.isEmpty() ? null : s;
        }

        /** The 2026-05-01 checkpoint: JSON, so an opaque Cal.com cursor travels as it is. */
        String json() {
            ObjectNode n = JSON.createObjectNode();
            n.put("v", V2026);
            n.put("pass", String.valueOf(pass));
            n.put("updated", updated);
            n.put("created", created);
            n.put("runUpdated", runUpdated);
            n.put("runCreated", runCreated);
            n.put("cursor", pageCursor);
            n.put("walkStart", walkStart);
            return n.toString();
        }

        /** Either checkpoint format: JSON (2026-05-01) or {@code pass|updated|created|skip|runUpdated|runCreated}. */
        static Paging decode(String cursor) {
            if (cursor.startsWith("{")) {
                try {
                    JsonNode n = JSON.readTree(cursor);
                    Paging p = new Paging(n.path("pass").asText("C").charAt(0), text(n, "updated"), text(n, "created"), 0,
                            text(n, "runUpdated"), text(n, "runCreated"));
                    p.pageCursor = text(n, "cursor");
                    p.walkStart = text(n, "walkStart");
                    return p;
                } catch (JsonProcessingException | RuntimeException e) {
                    throw new NonRecoverableSyncException("Checkpoint '" + cursor + "' is not readable (" + e.getMessage()
                            + "); delete the source's sync_checkpoint row to start over");
                }
            }
            String[] p = cursor.split("\\|", -1);
            if (p.length != 6 || p[0].length() != 1) {
                throw new NonRecoverableSyncException("Checkpoint '" + cursor + "' is not pass|updated|created|skip|runUpdated|"
                        + "runCreated; delete the source's sync_checkpoint row to start over");
            }
            return new Paging(p[0].charAt(0), orNull(p[1]), orNull(p[2]), Long.parseLong(p[3]), orNull(p[4]), orNull(p[5]));
        }
    }

    @Override
    public String kind() {
        return "calcom-bookings";
    }

    /**
     * Opens the paging state from the checkpoint: resume an interrupted run, or start after the last watermarks less
     * the lookback window (a booking changed late, with an {@code updatedAt} behind one already read, is still seen).
     */
    public void start(Exchange exchange) throws SQLException {
        RunContext run = current(exchange);
        run.mode("incremental");
        required("apiKey", apiKey, sourceId());
        checkStatusAndLimit();
        Paging paging;
        SyncRuns runs = runs(exchange);
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            Checkpoints.Checkpoint cp = Checkpoints.load(c, sourceId());
            c.commit();
            if (cp == null || cp.cursor() == null) {
                paging = Paging.from(null, null);
            } else if (Checkpoints.IN_PROGRESS.equals(cp.phase())) {
                paging = Paging.decode(cp.cursor());
                if (cursorPaging() != cp.cursor().startsWith("{")) {
                    // the apiVersion changed mid-run: its position means nothing to this version; re-read its window
                    paging = Paging.from(paging.runUpdated, paging.runCreated);
                } else if (cp.runId() != null && cp.runId() != run.runId()) {
                    run.resumedFrom(cp.cursor());
                    if (paging.pageCursor != null) {
                        // tried once: should Cal.com refuse it, the next run walks this pass again from its first page
                        paging.inherited = true;
                        Paging forget = Paging.decode(cp.cursor());
                        forget.pageCursor = null;
                        runs.checkLease(c, run);
                        Checkpoints.save(c, run, forget.json(), Checkpoints.IN_PROGRESS, cp.rowsDone());
                        c.commit();
                    }
                }
            } else {
                Paging done = Paging.decode(cp.cursor());
                paging = Paging.from(minus(done.updated, lookback), minus(done.created, lookback));
            }
        }
        if (cursorPaging() && paging.walkStart == null) {
            paging.walkStart = Instant.now().toString();
        }
        exchange.setProperty(PAGING, paging);
        exchange.setProperty(MORE_PAGES, true);
    }

    private boolean cursorPaging() {
        return V2026.equals(apiVersion);
    }

    /** The status filter and page size each version accepts, checked before any request. */
    private List<String> statuses() {
        return status == null || status.isBlank() ? List.of()
                : java.util.Arrays.stream(status.split(",")).map(String::trim).filter(x -> !x.isEmpty()).toList();
    }

    private void checkStatusAndLimit() {
        List<String> statuses = statuses();
        for (String st : statuses) {
            if (!STATUSES.contains(st)) {
                throw new NonRecoverableSyncException("Source " + sourceId() + ": status '" + st + "' is not a Cal.com "
                        + "booking status filter (" + String.join(", ", STATUSES) + ")");
            }
        }
        if (cursorPaging() && statuses.size() > 1) {
            throw new NonRecoverableSyncException("Source " + sourceId() + ": cal-api-version " + V2026 + " takes at most "
                    + "one status per request (Cal.com answers 400 to '" + status.trim() + "'); give one status, none to read "
                    + "every booking, or apiVersion " + V2024);
        }
        if (cursorPaging() && take > 100) {
            throw new NonRecoverableSyncException("Source " + sourceId() + ": cal-api-version " + V2026 + " pages at most 100 "
                    + "bookings (limit); take is " + take);
        }
    }

    private static String minus(String instant, Duration window) {
        return instant == null ? null : instant(instant).minus(window).toString();
    }

    @Override
    public String target() {
        return targetTable() == null || targetTable().isBlank() ? "bookings" : targetTable();
    }

    /** Bookings have dates: a range of them can be read again. */
    @Override
    public String backfillRefusal() {
        return null;
    }

    /**
     * The estimate of a backfill, from the source's own count: the bookings of the range the target holds (Cal.com
     * answers no count for a filter without reading it).
     */
    @Override
    public long countRange(CamelContext context, java.time.LocalDate from, java.time.LocalDate to) throws Exception {
        SyncRuns runs = context.getRegistry().findSingleByType(SyncRuns.class);
        try (Connection c = runs.database().dataSource().getConnection()) {
            TargetTable table = TargetTable.existing(c, runs.database(), target());
            if (table == null) {
                return 0;
            }
            try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT COUNT(*) FROM " + table.qualified() + " WHERE "
                    + table.quoted("start_time") + " >= ? AND " + table.quoted("start_time") + " < ?")) {
                ps.setObject(1, from.atStartOfDay());
                ps.setObject(2, to.plusDays(1).atStartOfDay());
                try (java.sql.ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        }
    }

    /**
     * Reads again the bookings that start on or after {@code from} and end before the day after {@code to} (UTC;
     * Cal.com's {@code afterStart} / {@code beforeEnd}), page by page in the configured API version, through the same
     * writer as a sync, as a run of its own: the checkpoint (and so the next sync's watermarks) stays as it is. A
     * rate limit or an error ends the backfill (its job says why); what it wrote stays.
     */
    @Override
    protected void readRange(CamelContext context, SyncRuns runs, RunContext run, java.time.LocalDate from, java.time.LocalDate to,
                          BackfillProgress progress) throws Exception {
        required("apiKey", apiKey, sourceId());
        checkStatusAndLimit();
        var db = runs.database();
        Instant start = from.atStartOfDay(ZoneOffset.UTC).toInstant();
        Instant end = to.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        // asked a little wider (a booking starting exactly at the range's start, or ending after its last midnight),
        // then judged here by its start: in the range when from <= start < to + 1 day
        String after = start.minusMillis(1).toString();
        String before = end.plus(java.time.Duration.ofDays(1)).toString();
        String filter = "afterStart=" + URLEncoder.encode(after, StandardCharsets.UTF_8) + "&beforeEnd="
                + URLEncoder.encode(before, StandardCharsets.UTF_8)
                + (statuses().isEmpty() ? "" : "&status=" + URLEncoder.encode(String.join(",", statuses()), StandardCharsets.UTF_8));
        try (Connection tc = db.dataSource().getConnection(); ProducerTemplate template = context.createProducerTemplate()) {
            tc.setAutoCommit(false);
            List<TargetTable.Column> offered = COLUMNS.stream().map(c -> new TargetTable.Column(c, Types.VARCHAR, 0, 0)).toList();
            TargetTable table = TargetTable.ensure(tc, db, target(), offered, List.of("uid"), TYPES);
            tc.commit();
            // a page is a batch: what was read is written before the next request (a stop or an error loses nothing)
            try (BatchWriter writer = new BatchWriter(tc, db.dialect(), table, COLUMNS, List.of("uid"), take, run, runs,
                    null, 0)) {
                writer.positionName("booking");
                if (writeBackOn()) {
                    writer.onWritten((c, rows) -> queueWriteBack(c, rows));
                }
                long position = 0;
                long skip = 0;
                String cursor = null;
                java.util.Set<String> seen = new java.util.HashSet<>();
                java.util.Set<String> uids = new java.util.HashSet<>();
                int emptyPages = 0;
                for (int pages = 0; ; pages++) {
                    if (run.interruptRequested()) {
                        writer.finish();
                        throw new io.syncwarden.sync.RunInterruptedException("Backfill of " + sourceId() + " run " + run.runId()
                                + " stopped: " + run.interruptReason());
                    }
                    if (pages >= 10_000) {
                        throw new NonRecoverableSyncException("Cal.com paged on for 10,000 pages: stopped (paging does not end)");
                    }
                    String query = filter + (cursorPaging()
                            ? "&limit=" + take + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8))
                            : "&sortStart=asc&take=" + take + "&skip=" + skip);
                    JsonNode page = backfillPage(template, query);
                    JsonNode data = page.path("data");
                    if (!data.isArray()) {
                        throw new NonRecoverableSyncException("Cal.com answered without a 'data' array: not a bookings page");
                    }
                    boolean fresh = false;
                    for (JsonNode booking : data) {
                        String uid = booking.path("uid").asText(null);
                        if (uid != null && !uids.add(uid)) {
                            continue; // shifted into this page by a change upstream: read already
                        }
                        fresh = true;
                        String startsAt = text(booking, "start");
                        try {
                            Instant starts = startsAt == null ? null : instant(startsAt);
                            if (starts != null && (starts.isBefore(start) || !starts.isBefore(end))) {
                                continue; // asked wider, outside the range by its start
                            }
                        } catch (DateTimeParseException e) {
                            // its row says what is wrong with it
                        }
                        position++;
                        try {
                            writer.add(row(booking), position);
                        } catch (IllegalArgumentException e) {
                            Object[] read = new Object[COLUMNS.size()];
                            read[0] = uid;
                            read[1] = booking.path("id").asText(null);
                            writer.rejectRead(read, position, e.getMessage());
                        }
                    }
                    writer.finish(); // the page is written before the next is asked for
                    progress.at(run.runId(), position);
                    JsonNode pagination = page.path("pagination");
                    if (cursorPaging()) {
                        if (!pagination.path("hasMore").isBoolean()) {
                            throw new NonRecoverableSyncException("Cal.com answered without pagination.hasMore: not the " + V2026
                                    + " bookings shape");
                        }
                        if (!pagination.get("hasMore").asBoolean()) {
                            break;
                        }
                        cursor = pagination.path("nextCursor").isTextual() ? pagination.get("nextCursor").asText() : null;
                        if (cursor == null || cursor.isBlank() || !seen.add(cursor)) {
                            throw new NonRecoverableSyncException("Cal.com answered hasMore=true without a new nextCursor: "
                                    + "the next page cannot be asked for");
                        }
                        emptyPages = data.isEmpty() ? emptyPages + 1 : 0;
                        if (emptyPages >= 10) {
                            throw new NonRecoverableSyncException("Cal.com answered 10 empty pages in a row, each saying there is more");
                        }
                    } else {
                        if (!pagination.path("hasNextPage").isBoolean()) {
                            throw new NonRecoverableSyncException("Cal.com answered without pagination.hasNextPage: not the "
                                    + V2024 + " bookings shape");
                        }
                        if (!pagination.get("hasNextPage").asBoolean() || data.isEmpty() || !fresh) {
                            break; // the last page, or one that brought nothing new (skip ignored or capped)
                        }
                        skip += data.size();
                    }
                }
                writer.finish();
            }
        }
    }

    /**
     * One page of a backfill. A 429 rests the key that met it (for its Retry-After, or a minute) and the page is asked
     * again with the next key; when every key rests the backfill ends, saying until when.
     */
    private JsonNode backfillPage(ProducerTemplate template, String query) throws Exception {
        for (int attempt = 0; attempt <= keys.size(); attempt++) {
            Exchange answer = template.request(baseUrl + "/v2/bookings?throwExceptionOnFailure=false", e -> request(e, query, true));
            if (answer.getException() != null) {
                throw answer.getException();
            }
            Integer status = answer.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, Integer.class);
            if (status != null && status == 429) {
                String retryAfter = answer.getMessage().getHeader("Retry-After", String.class);
                long seconds = 60;
                try {
                    seconds = retryAfter == null ? 60 : Math.max(1, Long.parseLong(retryAfter.strip()));
                } catch (NumberFormatException e) {
                    // not seconds: a minute
                }
                keys.rest(keys.lastUsed(), Instant.now().plusSeconds(seconds));
                if (keys.pick(Instant.now()) < 0) {
                    throw new IllegalStateException("Cal.com rate-limited every key until " + keys.earliestReset(Instant.now())
                            + ": start the backfill again then (what it read so far is written)");
                }
                continue;
            }
            if (status == null || status < 200 || status >= 300) {
                throw new IllegalStateException("Cal.com answered HTTP " + status + " to a backfill page");
            }
            return parse(answer);
        }
        throw new IllegalStateException("Cal.com rate-limited every key: start the backfill again later");
    }

    /** One booking asked for (the smallest page) with the same key and API version. */
    @Override
    public void probe(CamelContext context) throws Exception {
        try (ProducerTemplate template = context.createProducerTemplate()) {
            answered(template.request(baseUrl + "/v2/bookings?throwExceptionOnFailure=false",
                    e -> request(e, cursorPaging() ? "limit=1" : "take=1", false)), "Cal.com");
        }
    }

    /** Prepares the next page's request: only our headers travel (the last response's headers are dropped). */
    public void request(Exchange exchange) {
        request(exchange, query(exchange.getProperty(PAGING, Paging.class)), true);
    }

    /** {@code run}: a page of the run (its key is the one a 429 rests); probes and lookups do not move the run's key. */
    private void request(Exchange exchange, String query, boolean run) {
        required("apiKey", apiKey, sourceId());
        exchange.getIn().removeHeaders("*");
        exchange.getIn().setBody(null);
        // several keys (comma-separated): the first one the upstream has not rate-limited; the error handling rests a
        // key on a 429 and the next attempt takes the next key
        java.time.Instant now = java.time.Instant.now();
        exchange.getIn().setHeader("Authorization", "Bearer " + (run ? keys.next(now) : keys.peek(now)));
        exchange.getIn().setHeader("cal-api-version", apiVersion);
        exchange.getIn().setHeader("Accept", "application/json");
        exchange.getIn().setHeader(Exchange.HTTP_METHOD, "GET");
        exchange.getIn().setHeader(Exchange.HTTP_QUERY, query);
    }

    String query(Paging paging) {
        return cursorPaging() ? cursorQuery(paging) : offsetQuery(paging);
    }

    private String offsetQuery(Paging paging) {
        StringBuilder q = new StringBuilder();
        String watermark = paging.pass == 'U' ? paging.updated : paging.created;
        if (watermark != null) {
            String anchor = instant(watermark).minusMillis(1).toString();
            q.append(paging.pass == 'U' ? "afterUpdatedAt=" : "afterCreatedAt=")
                    .append(URLEncoder.encode(anchor, StandardCharsets.UTF_8)).append('&');
        }
        if (!statuses().isEmpty()) {
            q.append("status=").append(URLEncoder.encode(String.join(",", statuses()), StandardCharsets.UTF_8)).append('&');
        }
        return q.append(paging.pass == 'U' ? "sortUpdatedAt=asc" : "sortCreated=asc").append("&take=").append(take)
                .append("&skip=").append(paging.tieSkip).toString();
    }

    /** 2026-05-01: the pass's fixed filter, the status, the page size and the cursor of the next page. */
    private String cursorQuery(Paging paging) {
        StringBuilder q = new StringBuilder();
        String anchor = paging.pass == 'U' ? paging.runUpdated : paging.runCreated;
        if (anchor != null) {
            q.append(paging.pass == 'U' ? "afterUpdatedAt=" : "afterCreatedAt=")
                    .append(URLEncoder.encode(instant(anchor).minusMillis(1).toString(), StandardCharsets.UTF_8)).append('&');
        }
        if (!statuses().isEmpty()) {
            q.append("status=").append(URLEncoder.encode(String.join(",", statuses()), StandardCharsets.UTF_8)).append('&');
        }
        q.append("limit=").append(take);
        if (paging.pageCursor != null) {
            q.append("&cursor=").append(URLEncoder.encode(paging.pageCursor, StandardCharsets.UTF_8));
        }
        return q.toString();
    }

    /**
     * Writes one page of bookings. The page's rows, its rejected bookings, the run's counts and the paging position
     * after the page commit in one transaction, so a page that fails is retried whole and counted once.
     */
    @Override
    protected void read(RunContext run, SyncRuns runs, Exchange exchange) throws Exception {
        Paging paging = exchange.getProperty(PAGING, Paging.class);
        JsonNode page = parse(exchange);
        JsonNode data = page.path("data");
        if (!data.isArray()) {
            throw new NonRecoverableSyncException("Cal.com answered without a 'data' array (status '"
                    + page.path("status").asText("") + "'): not a bookings page");
        }
        JsonNode pagination = page.path("pagination");
        boolean hasMore;
        String nextCursor = null;
        if (cursorPaging()) {
            if (!pagination.path("hasMore").isBoolean()) {
                throw new NonRecoverableSyncException(pagination.has("hasNextPage")
                        ? "Cal.com answered cal-api-version " + V2026 + " with offset paging (pagination.hasNextPage): this "
                        + "instance does not serve that version of the bookings list yet; set apiVersion to " + V2024
                        : "Cal.com answered without pagination.hasMore: not the " + V2026 + " bookings shape");
            }
            hasMore = pagination.get("hasMore").asBoolean();
            nextCursor = pagination.path("nextCursor").isTextual() ? pagination.get("nextCursor").asText() : null;
            if (hasMore && (nextCursor == null || nextCursor.isBlank())) {
                throw new NonRecoverableSyncException("Cal.com answered hasMore=true without a nextCursor: the next page "
                        + "cannot be asked for");
            }
            if (hasMore && (nextCursor.equals(paging.pageCursor) || paging.seen.contains(nextCursor))) {
                throw new NonRecoverableSyncException("Cal.com answered a cursor this pass was already given: paging "
                        + "would go round in circles");
            }
            paging.emptyPages = data.isArray() && data.isEmpty() && hasMore ? paging.emptyPages + 1 : 0;
            if (paging.emptyPages >= 10) {
                throw new NonRecoverableSyncException("Cal.com answered 10 empty pages in a row, each saying there is more");
            }
            if (paging.inherited && !hasMore && data.isArray() && data.isEmpty()) {
                // an inherited cursor that leads nowhere may be one Cal.com no longer knows: walk the pass from its start
                LOG.warn("Sync {}: the cursor inherited from an earlier run gave nothing; reading pass {} from its first page",
                        sourceId(), paging.pass);
                paging.inherited = false;
                paging.pageCursor = null;
                paging.seen.clear();
                exchange.setProperty(MORE_PAGES, true);
                return;
            }
            paging.inherited = false;
            if (hasMore) {
                paging.seen.add(nextCursor);
            }
        } else {
            JsonNode hasNext = pagination.path("hasNextPage");
            if (!hasNext.isBoolean()) {
                throw new NonRecoverableSyncException(pagination.has("hasMore")
                        ? "Cal.com answered cal-api-version " + V2024 + " with cursor paging (pagination.hasMore): check the "
                        + "apiVersion parameter (" + V2026 + " pages with cursors)"
                        : "Cal.com answered without pagination.hasNextPage: not the " + V2024 + " bookings shape (check the "
                        + "cal-api-version)");
            }
            hasMore = hasNext.asBoolean();
        }
        var db = runs.database();
        String updated = paging.updated;
        String created = paging.created;
        try (Connection tc = db.dataSource().getConnection()) {
            tc.setAutoCommit(false);
            TargetTable table = table(exchange, tc, db);
            String[] next = new String[1];
            BatchWriter.CheckpointSink sink = last -> next[0]; // known once the whole page was added
            try (BatchWriter writer = new BatchWriter(tc, db.dialect(), table, COLUMNS, List.of("uid"),
                    data.size() + 1, run, runs, sink, run.read())) {
                writer.positionName("booking");
                if (writeBackOn()) {
                    writer.onWritten((c, rows) -> queueWriteBack(c, rows));
                }
                long position = run.read();
                for (JsonNode booking : data) {
                    position++;
                    Object[] row;
                    try {
                        row = row(booking);
                    } catch (IllegalArgumentException e) {
                        Object[] seen = new Object[COLUMNS.size()];
                        seen[0] = booking.path("uid").asText(null);
                        seen[1] = booking.path("id").asText(null);
                        writer.rejectRead(seen, position, e.getMessage());
                        continue;
                    }
                    // a watermark moves only in the pass that reads in its order (and in the first run, which reads all);
                    // 2026-05-01 reads in Cal.com's order: its next watermarks come from the walk's start instead
                    if (paging.pass == 'U' || paging.fullRead() || cursorPaging()) {
                        updated = later(updated, booking.path("updatedAt").asText(null));
                    }
                    if (paging.pass == 'C' || cursorPaging()) {
                        created = later(created, booking.path("createdAt").asText(null));
                    }
                    writer.add(row, position);
                }
                // a page that did not move the watermark (a page-sized run of one updatedAt) is stepped over with skip
                String before = paging.pass == 'U' ? paging.updated : paging.created;
                String after = paging.pass == 'U' ? updated : created;
                boolean progressed = after != null && (before == null || instant(after).isAfter(instant(before)));
                boolean passDone = !hasMore || (data.isEmpty() && !cursorPaging());
                char pass = passDone && paging.pass == 'U' ? 'C' : paging.pass;
                long tieSkip = passDone || progressed || cursorPaging() ? 0 : paging.tieSkip + data.size();
                Paging state = new Paging(pass, updated, created, tieSkip, paging.runUpdated, paging.runCreated);
                state.pageCursor = passDone ? null : nextCursor;
                state.walkStart = paging.walkStart;
                next[0] = cursorPaging() ? state.json() : state.cursor();
                if (next[0].length() > 4000) {
                    throw new NonRecoverableSyncException("Cal.com's cursor (" + (nextCursor == null ? 0 : nextCursor.length())
                            + " characters) does not fit a checkpoint (4000)");
                }
                writer.progress("page " + (paging.pages + 1) + ": " + next[0]);
                writer.finish();
                // only now, after the commit: a retried page must start from the same state
                boolean morePages = !passDone || paging.pass == 'U'; // after the updatedAt pass comes the createdAt pass
                paging.updated = updated;
                paging.created = created;
                paging.pass = pass;
                paging.tieSkip = tieSkip;
                paging.pageCursor = state.pageCursor;
                if (passDone) {
                    paging.seen.clear();
                }
                paging.pages++;
                exchange.setProperty(MORE_PAGES, morePages);
            }
        }
        boolean more = exchange.getProperty(MORE_PAGES, Boolean.class);
        if (more && paging.pages % 10 == 0) {
            LOG.info("Sync {} run {}: {} pages, {} bookings so far", sourceId(), run.runId(), paging.pages, run.read());
        }
    }

    private TargetTable table(Exchange exchange, Connection tc, io.syncwarden.store.TargetDatabase db) throws SQLException {
        TargetTable table = exchange.getProperty(TABLE, TargetTable.class);
        if (table == null) { // once per run, not per page: it reads the database's metadata
            String target = targetTable() == null || targetTable().isBlank() ? "bookings" : targetTable();
            List<TargetTable.Column> offered = COLUMNS.stream().map(c -> new TargetTable.Column(c, Types.VARCHAR, 0, 0)).toList();
            table = TargetTable.ensure(tc, db, target, offered, List.of("uid"), TYPES);
            exchange.setProperty(TABLE, table);
        }
        return table;
    }

    /**
     * Ends the paging: the optional write-back (Cal.com -> sheet -> database), then the checkpoint is marked complete
     * at the newest watermarks. Write-back: every attendee with a booking some run inserted or changed is owed a
     * write-back ({@code write_back_pending}, filled in each page's transaction); for each, the attendee's latest booking
     * in the table (by creation, then start) fills their lead row in the configured sheet (matched by e-mail), or adds
     * a row when none matches; the sheet's own sync then carries it into the database. One rule per attendee, so a
     * cell never flips between two bookings' values. Entries are removed once written; a write-back that fails (or a
     * run stopped before it) leaves them for the next run, which writes them even if nothing changed meanwhile.
     */
    public void finish(Exchange exchange) throws Exception {
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        Paging paging = exchange.getProperty(PAGING, Paging.class);
        SyncRuns runs = runs(exchange);
        if (writeBackOn()) {
            List<String> owed = pendingWriteBacks(runs);
            if (!owed.isEmpty()) {
                List<Map<String, Object>> latest = latestPerAttendee(runs, table(exchange, runs), owed);
                new SheetWriteBack(sourceId(), writeBackSpreadsheetId.trim(), required("writeBackRange", writeBackRange, sourceId()),
                        writeBackMatch, "attendee_email", writeBackUpdate, writeBackAppend).write(exchange.getContext(), latest);
                clearWriteBacks(runs, run, owed);
            }
        }
        if (cursorPaging()) {
            // read in Cal.com's order, not the watermarks': everything changed or created since the walk began (less
            // the clock-skew allowance) is read again next run, everything before it was in this walk
            String since = instant(paging.walkStart).minus(CLOCK_SKEW).toString();
            Paging done = new Paging('U', since, since, 0, since, since);
            saveComplete(runs, run, done.json());
            if (run.read() == 0 && run.resumedFrom() == null && paging.fullRead()) {
                run.markEmpty();
            }
            return;
        }
        String updated = paging.updated;
        if (paging.fullRead()) {
            // The first run read in createdAt order: a booking changed behind it while it ran may carry an updatedAt older
            // than the newest it saw, and a calendar whose bookings were never changed has no updatedAt at all. Either
            // way the next run's changes start from before this run began, so the updatedAt pass always runs.
            String safe = run.startedAt().minus(CLOCK_SKEW).toString();
            updated = updated == null || instant(updated).isAfter(instant(safe)) ? safe : updated;
        }
        saveComplete(runs, run, Paging.cursor('U', updated, paging.created, 0, updated, paging.created));
        if (run.read() == 0 && run.resumedFrom() == null && paging.fullRead()) {
            run.markEmpty();
        }
    }

    private TargetTable table(Exchange exchange, SyncRuns runs) throws SQLException {
        try (Connection tc = runs.database().dataSource().getConnection()) {
            tc.setAutoCommit(false);
            return table(exchange, tc, runs.database());
        }
    }

    /** In a page's transaction: the attendees of the bookings it inserted or changed are owed a write-back. */
    private void queueWriteBack(Connection c, List<Object[]> rows) throws SQLException {
        int at = COLUMNS.indexOf("attendee_email");
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO write_back_pending (source_id, match_value, queued_at) "
                + "SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM write_back_pending WHERE source_id = ? AND match_value = ?)")) {
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (Object[] row : rows) {
                Object email = row[at];
                if (email == null || String.valueOf(email).isBlank() || !seen.add(fold(String.valueOf(email)))) {
                    continue;
                }
                String folded = fold(String.valueOf(email));
                ps.setString(1, sourceId());
                ps.setString(2, folded);
                ps.setObject(3, Instant.now().atOffset(ZoneOffset.UTC));
                ps.setString(4, sourceId());
                ps.setString(5, folded);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    private List<String> pendingWriteBacks(SyncRuns runs) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT match_value FROM write_back_pending WHERE source_id = ? ORDER BY queued_at")) {
            ps.setString(1, sourceId());
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
            }
        }
        return out;
    }

    private void clearWriteBacks(SyncRuns runs, RunContext run, List<String> written) throws SQLException {
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            runs.checkLease(c, run);
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM write_back_pending WHERE source_id = ? AND match_value = ?")) {
                for (String email : written) {
                    ps.setString(1, sourceId());
                    ps.setString(2, email);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
        }
    }

    /**
     * The latest booking (by createdAt, then start time, then uid) of each attendee owed a write-back (folded e-mails),
     * as the table holds it now.
     */
    private static List<Map<String, Object>> latestPerAttendee(SyncRuns runs, TargetTable table, List<String> emails)
            throws SQLException {
        List<Map<String, Object>> out = new ArrayList<>();
        try (Connection c = runs.database().dataSource().getConnection();
             PreparedStatement ps = c.prepareStatement("SELECT " + table.select(COLUMNS) + " FROM " + table.qualified()
                     + " WHERE LOWER(" + table.quoted("attendee_email") + ") = ? ORDER BY " + table.quoted("created_at")
                     + " DESC NULLS LAST, " + table.quoted("start_time") + " DESC NULLS LAST, " + table.quoted("uid") + " DESC")) {
            ps.setMaxRows(1);
            for (String email : emails) {
                ps.setString(1, email);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        Object[] row = new Object[COLUMNS.size()];
                        for (int i = 0; i < row.length; i++) {
                            Object v = rs.getObject(i + 1);
                            row[i] = v instanceof java.sql.Timestamp ts ? ts.toLocalDateTime() : v;
                        }
                        out.add(asMap(row));
                    }
                }
            }
            c.rollback();
        }
        return out;
    }

    private static void saveComplete(SyncRuns runs, RunContext run, String cursor) throws SQLException {
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            runs.checkLease(c, run);
            Checkpoints.save(c, run, cursor, Checkpoints.COMPLETE, run.read());
            c.commit();
        }
    }

    /** Bookings are keyed by their uid. */
    @Override
    public List<String> keys() {
        return List.of("uid");
    }

    /** A replayed booking is owed a write-back like a synced one (the next run writes it to the sheet). */
    @Override
    protected BatchWriter.WrittenSink replaySink() {
        return writeBackOn() ? this::queueWriteBack : null;
    }

    private boolean writeBackOn() {
        return writeBackSpreadsheetId != null && !writeBackSpreadsheetId.isBlank();
    }

    /** The later of two ISO instants (null and blank ignored). */
    private static String later(String current, String candidate) {
        if (candidate == null || candidate.isBlank()) {
            return current;
        }
        return current == null || instant(candidate).isAfter(instant(current)) ? candidate : current;
    }

    private static JsonNode parse(Exchange exchange) throws Exception {
        Object body = exchange.getMessage().getBody();
        if (body instanceof StreamCache cache) {
            cache.reset();
        }
        byte[] bytes;
        try (InputStream in = exchange.getMessage().getBody(InputStream.class)) {
            bytes = in == null ? new byte[0] : in.readAllBytes();
        }
        try {
            JsonNode page = JSON.readTree(bytes);
            if (page == null || page.isMissingNode()) {
                throw new MalformedAnswerException("Cal.com", "an empty body where a bookings page was expected", bytes, null, true);
            }
            return page;
        } catch (JsonProcessingException e) {
            // a page cut off or replaced by a proxy's page: passing, so asked again (by the retry queue: a redelivery of
            // this step would read the same bytes); nothing of this page was written
            throw new MalformedAnswerException("Cal.com", "not JSON (" + e.getOriginalMessage() + " at line "
                    + e.getLocation().getLineNr() + ")", bytes, e, true);
        }
    }

    /** One booking as a row in {@link #COLUMNS} order; throws IllegalArgumentException naming what is wrong. */
    static Object[] row(JsonNode b) {
        if (!b.isObject()) {
            throw new IllegalArgumentException("booking is not a JSON object");
        }
        String uid = text(b, "uid");
        if (uid == null || uid.isBlank()) {
            throw new IllegalArgumentException("booking has no uid");
        }
        JsonNode attendee = b.path("attendees").path(0);
        JsonNode eventType = b.path("eventType");
        Object eventTypeId = eventType.hasNonNull("id") ? (Object) eventType.get("id").asLong()
                : b.hasNonNull("eventTypeId") ? (Object) b.get("eventTypeId").asLong() : null;
        return new Object[] {uid, b.hasNonNull("id") ? b.get("id").asLong() : null, text(b, "title"), text(b, "status"),
                time(b, "start"), time(b, "end"), text(attendee, "name"), text(attendee, "email"), text(attendee, "timeZone"),
                eventTypeId, text(eventType, "slug"), text(b, "location"), time(b, "createdAt"), time(b, "updatedAt"),
                text(b, "cancellationReason")};
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.path(field);
        return v.isMissingNode() || v.isNull() ? null : v.isValueNode() ? v.asText() : v.toString();
    }

    /** ISO-8601 instants are kept as UTC timestamps (text, converted by the writer); anything else rejects the row. */
    private static String time(JsonNode n, String field) {
        String t = text(n, field);
        if (t == null || t.isBlank()) {
            return null;
        }
        try {
            return instant(t).atOffset(ZoneOffset.UTC).toLocalDateTime().toString();
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("field " + field + " is not an ISO-8601 time: '" + t + "'");
        }
    }

    private static Instant instant(String t) {
        return t.endsWith("Z") || t.matches(".*[+-]\\d\\d:\\d\\d$") ? OffsetDateTime.parse(t).toInstant()
                : java.time.LocalDateTime.parse(t).toInstant(ZoneOffset.UTC);
    }

    /**
     * Asks Cal.com for the bookings of an attendee: {@code attendeeEmail} when the text is an e-mail address, else
     * {@code attendeeName}; the newest 100 (2024-08-13: by updatedAt; 2026-05-01: the first page in Cal.com's own
     * order, newest bookings first when no status is given).
     */
    @Override
    public List<Map<String, Object>> find(CamelContext context, String nameOrEmail) throws Exception {
        String text = nameOrEmail == null ? "" : nameOrEmail.trim();
        String filter = (text.contains("@") ? "attendeeEmail=" : "attendeeName=") + URLEncoder.encode(text, StandardCharsets.UTF_8);
        List<Map<String, Object>> out = new ArrayList<>();
        try (ProducerTemplate template = context.createProducerTemplate()) {
            Exchange answer = template.request(baseUrl + "/v2/bookings?throwExceptionOnFailure=true", e -> {
                request(e, filter + (cursorPaging() ? "&limit=" + LOOKUP_LIMIT : "&sortUpdatedAt=desc&take=" + LOOKUP_LIMIT), false);
            });
            if (answer.getException() != null) {
                throw answer.getException();
            }
            for (JsonNode booking : parse(answer).path("data")) {
                boolean attendee = false;
                for (JsonNode a : booking.path("attendees")) {
                    attendee |= matches(a.path("email").asText(null), text) || matches(a.path("name").asText(null), text);
                }
                if (!attendee) {
                    continue; // Cal.com's own filters are looser (partial names); answer exact matches only
                }
                try {
                    out.add(asMap(row(booking)));
                } catch (IllegalArgumentException e) {
                    // a booking we could not map is not an answer
                }
            }
        }
        return out;
    }

    /** The lookup answer for one booking: the columns as a map. */
    static Map<String, Object> asMap(Object[] row) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < COLUMNS.size(); i++) {
            m.put(COLUMNS.get(i), row[i]);
        }
        return m;
    }

    @Override
    public KeyRing keyRing() {
        return keys;
    }

    public void setApiKey(String apiKey) {
        this.apiKey = apiKey;
        this.keys = new KeyRing(apiKey);
    }
    public void setWriteBackSpreadsheetId(String id) { this.writeBackSpreadsheetId = id; }
    public void setWriteBackRange(String range) { this.writeBackRange = range; }
    public void setWriteBackMatch(String label) { this.writeBackMatch = label; }
    public void setWriteBackUpdate(String cells) { this.writeBackUpdate = cells; }
    public void setWriteBackAppend(String cells) { this.writeBackAppend = cells; }
    public void setBaseUrl(String baseUrl) {
        this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    }
    public void setApiVersion(String apiVersion) {
        String v = apiVersion == null ? "" : apiVersion.trim();
        if (!V2024.equals(v) && !V2026.equals(v)) {
            throw new IllegalArgumentException("cal-api-version '" + apiVersion + "' is not supported for the bookings list: "
                    + V2024 + " (offset paging) or " + V2026 + " (cursor paging)");
        }
        this.apiVersion = v;
    }
    public void setTake(int take) {
        if (take < 1 || take > 250) {
            throw new IllegalArgumentException("take must be 1..250 (Cal.com's limit), got " + take);
        }
        this.take = take;
    }
    public void setStatus(String status) { this.status = status; }
    /** Re-read window at the start of each run, e.g. {@code PT10M} or {@code 10m}. */
    public void setLookback(String lookback) { this.lookback = JdbcSource.duration(lookback); }

}
