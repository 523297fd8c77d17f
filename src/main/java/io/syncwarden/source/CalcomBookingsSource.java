package io.syncwarden.source;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.sql.SQLException;
import java.sql.Types;
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
 * The {@code calcom-bookings} kind: Cal.com API v2 {@code GET /v2/bookings} ({@code cal-api-version: 2024-08-13}),
 * paged with {@code take}/{@code skip} until {@code pagination.hasNextPage} is false, incremental by
 * {@code afterUpdatedAt} with {@code sortUpdatedAt=asc}. The route loops {@link #request} - camel-http - {@link #sync}
 * per page; each page is committed with its checkpoint, so an interrupted run resumes at the page it stopped on.
 *
 * <p>The checkpoint cursor is {@code anchor|skip|newest}: the {@code afterUpdatedAt} the run pages under, how many
 * bookings of that query are committed, and the newest {@code updatedAt} applied (the next run's anchor).
 */
public class CalcomBookingsSource extends SyncSource {
    public static final String PAGING = "syncwardenPaging";
    public static final String MORE_PAGES = "syncwardenMorePages";
    public static final String WRITTEN = "syncwardenWrittenBookings";
    static final List<String> COLUMNS = List.of("uid", "booking_id", "title", "status", "start_time", "end_time",
            "attendee_name", "attendee_email", "attendee_time_zone", "event_type_id", "event_type_slug", "location",
            "created_at", "updated_at", "cancellation_reason");
    static final Map<String, String> TYPES = Map.of("booking_id", "BIGINT", "event_type_id", "BIGINT",
            "start_time", "TIMESTAMP", "end_time", "TIMESTAMP", "created_at", "TIMESTAMP", "updated_at", "TIMESTAMP",
            "title", "VARCHAR(1000)", "location", "VARCHAR(2000)", "cancellation_reason", "VARCHAR(2000)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private String apiKey;
    private String baseUrl = "https://api.cal.com";
    private String apiVersion = "2024-08-13";
    private int take = 100;
    private String status = "";
    private long concurrentChangeMarginMs = 300_000;
    private String writeBackSpreadsheetId = "";
    private String writeBackRange = "";
    private String writeBackMatch = "Email";
    private String writeBackUpdate = "";
    private String writeBackAppend = "";

    /** Where the run stands: the query anchor, bookings committed under it, newest updatedAt applied, pages done. */
    static final class Paging {
        final String anchor;
        long skip;
        String newest;
        int pages;
        boolean changedDuringRun;

        Paging(String anchor, long skip, String newest) {
            this.anchor = anchor;
            this.skip = skip;
            this.newest = newest;
        }

        String cursor() {
            return (anchor == null ? "" : anchor) + "|" + skip + "|" + (newest == null ? "" : newest);
        }

        static Paging decode(String cursor) {
            String[] p = cursor.split("\\|", -1);
            if (p.length != 3) {
                throw new NonRecoverableSyncException("Checkpoint '" + cursor + "' is not anchor|skip|newest; "
                        + "delete the source's sync_checkpoint row to start over");
            }
            return new Paging(p[0].isEmpty() ? null : p[0], Long.parseLong(p[1]), p[2].isEmpty() ? null : p[2]);
        }
    }

    @Override
    public String kind() {
        return "calcom-bookings";
    }

    /** Opens the paging state from the checkpoint: resume an interrupted run, or start after the last watermark. */
    public void start(Exchange exchange) throws SQLException {
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        run.startAttempt();
        run.mode("incremental");
        required("apiKey", apiKey, sourceId());
        Paging paging;
        try (Connection c = runs(exchange).database().dataSource().getConnection()) {
            Checkpoints.Checkpoint cp = Checkpoints.load(c, sourceId());
            if (cp == null || cp.cursor() == null) {
                paging = new Paging(null, 0, null);
            } else if (Checkpoints.IN_PROGRESS.equals(cp.phase())) {
                paging = Paging.decode(cp.cursor());
                run.resumedFrom(cp.cursor());
            } else {
                Paging done = Paging.decode(cp.cursor());
                paging = new Paging(done.newest, 0, done.newest);
            }
        }
        exchange.setProperty(PAGING, paging);
        exchange.setProperty(MORE_PAGES, true);
    }

    /** Prepares the next page's request: only our headers travel (the last response's headers are dropped). */
    public void request(Exchange exchange) {
        request(exchange, query(exchange.getProperty(PAGING, Paging.class)));
    }

    private void request(Exchange exchange, String query) {
        required("apiKey", apiKey, sourceId());
        exchange.getIn().removeHeaders("*");
        exchange.getIn().setBody(null);
        exchange.getIn().setHeader("Authorization", "Bearer " + apiKey.trim());
        exchange.getIn().setHeader("cal-api-version", apiVersion);
        exchange.getIn().setHeader("Accept", "application/json");
        exchange.getIn().setHeader(Exchange.HTTP_METHOD, "GET");
        exchange.getIn().setHeader(Exchange.HTTP_QUERY, query);
    }

    String query(Paging paging) {
        StringBuilder q = new StringBuilder();
        if (paging.anchor != null) {
            q.append("afterUpdatedAt=").append(URLEncoder.encode(paging.anchor, StandardCharsets.UTF_8)).append('&');
        }
        if (status != null && !status.isBlank()) {
            q.append("status=").append(URLEncoder.encode(status.trim(), StandardCharsets.UTF_8)).append('&');
        }
        return q.append("sortUpdatedAt=asc&take=").append(take).append("&skip=").append(paging.skip).toString();
    }

    /** Writes one page of bookings and commits it with the checkpoint; decides whether another page follows. */
    @Override
    public void sync(Exchange exchange) throws Exception {
        RunContext run = exchange.getProperty(RunContext.PROPERTY, RunContext.class);
        read(run, runs(exchange), exchange);
    }

    @Override
    protected void read(RunContext run, SyncRuns runs, Exchange exchange) throws Exception {
        Paging paging = exchange.getProperty(PAGING, Paging.class);
        JsonNode page = parse(exchange);
        JsonNode data = page.path("data");
        if (!data.isArray()) {
            throw new NonRecoverableSyncException("Cal.com answered without a 'data' array (status '"
                    + page.path("status").asText("") + "'): not a bookings page");
        }
        String target = targetTable() == null || targetTable().isBlank() ? "bookings" : targetTable();
        var db = runs.database();
        Instant runStart = run.startedAt();
        try (Connection tc = db.dataSource().getConnection()) {
            tc.setAutoCommit(false);
            List<TargetTable.Column> offered = COLUMNS.stream().map(c -> new TargetTable.Column(c, Types.VARCHAR, 0, 0)).toList();
            TargetTable table = TargetTable.ensure(tc, db.dialect(), target, offered, List.of("uid"), TYPES);
            String pageStart = paging.cursor();
            BatchWriter.CheckpointSink sink = (c, last, done) -> Checkpoints.save(c, run, pageStart, Checkpoints.IN_PROGRESS, done);
            int position = 0;
            String newest = paging.newest;
            try (BatchWriter writer = new BatchWriter(tc, db.dialect(), table, COLUMNS, List.of("uid"),
                    Math.max(take, data.size()) + 1, run, runs, sink, paging.skip)) {
                for (JsonNode booking : data) {
                    position++;
                    Object[] row;
                    try {
                        row = row(booking);
                    } catch (IllegalArgumentException e) {
                        Object[] seen = new Object[COLUMNS.size()];
                        seen[0] = booking.path("uid").asText(null);
                        seen[1] = booking.path("id").asText(null);
                        writer.rejectRead(seen, paging.skip + position, e.getMessage());
                        continue;
                    }
                    String updated = booking.path("updatedAt").asText(null); // before add: the writer converts row values
                    Map<String, Object> seen = writeBackOn() ? asMap(row) : null;
                    long rejectedBefore = run.rejected();
                    writer.add(row, paging.skip + position);
                    if (seen != null && run.rejected() == rejectedBefore) {
                        written(exchange).add(seen);
                    }
                    if (updated != null && (newest == null || instant(updated).isAfter(instant(newest)))) {
                        newest = updated;
                    }
                    if (updated != null && instant(updated).toEpochMilli() >= runStart.toEpochMilli() - concurrentChangeMarginMs) {
                        paging.changedDuringRun = true;
                    }
                }
                writer.finish();
            }
            paging.skip += data.size();
            paging.newest = newest;
            paging.pages++;
            Checkpoints.save(tc, run, paging.cursor(), Checkpoints.IN_PROGRESS, paging.skip);
            tc.commit();
        }
        boolean more = page.path("pagination").path("hasNextPage").asBoolean(false) && !data.isEmpty();
        exchange.setProperty(MORE_PAGES, more);
        if (!more) {
            finish(run, runs, paging);
        } else if (paging.pages % 10 == 0) {
            org.slf4j.LoggerFactory.getLogger(CalcomBookingsSource.class).info("Sync {} run {}: {} pages, {} bookings so far",
                    sourceId(), run.runId(), paging.pages, run.read());
        }
    }

    /**
     * Optional write-back (Cal.com -> sheet -> database): each booking this run wrote updates the lead row of the
     * configured sheet whose match column (default Email) equals the attendee's e-mail, or adds a row when none
     * does; the sheet's own sync then carries it into the database. Retried like any step; it writes only the cells
     * that differ, so a retry does not duplicate work.
     */
    public void writeBack(Exchange exchange) throws Exception {
        if (!writeBackOn()) {
            return;
        }
        List<Map<String, Object>> bookings = written(exchange);
        new SheetWriteBack(sourceId(), writeBackSpreadsheetId.trim(), required("writeBackRange", writeBackRange, sourceId()),
                writeBackMatch, "attendee_email", writeBackUpdate, writeBackAppend).write(exchange.getContext(), bookings);
    }

    private boolean writeBackOn() {
        return writeBackSpreadsheetId != null && !writeBackSpreadsheetId.isBlank();
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> written(Exchange exchange) {
        List<Map<String, Object>> list = exchange.getProperty(WRITTEN, List.class);
        if (list == null) {
            list = new ArrayList<>();
            exchange.setProperty(WRITTEN, list);
        }
        return list;
    }

    /**
     * Marks the run's checkpoint complete. The next run starts after the newest updatedAt applied, except when a
     * booking changed while this run paged: a change moves a booking to the end of the updatedAt order, shifting the
     * unread ones back by one under skip paging, so the next run re-reads from this run's anchor (idempotent).
     */
    private void finish(RunContext run, SyncRuns runs, Paging paging) throws SQLException {
        String next = paging.changedDuringRun ? paging.anchor : paging.newest;
        try (Connection c = runs.database().dataSource().getConnection()) {
            c.setAutoCommit(false);
            Checkpoints.save(c, run, new Paging(next, 0, next).cursor(), Checkpoints.COMPLETE, paging.skip);
            c.commit();
        }
        if (run.read() == 0 && run.resumedFrom() == null && paging.anchor == null) {
            run.markEmpty();
        }
    }

    private static JsonNode parse(Exchange exchange) throws Exception {
        Object body = exchange.getMessage().getBody();
        if (body instanceof StreamCache cache) {
            cache.reset();
        }
        try (InputStream in = exchange.getMessage().getBody(InputStream.class)) {
            if (in == null) {
                throw new NonRecoverableSyncException("Cal.com answered with an empty body: not a bookings page");
            }
            return JSON.readTree(in);
        } catch (JsonProcessingException e) {
            throw new NonRecoverableSyncException("Cal.com answered with malformed JSON (" + e.getOriginalMessage()
                    + " at line " + e.getLocation().getLineNr() + "); nothing of this page was written");
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
     * {@code attendeeName}; the newest 100 (by updatedAt).
     */
    @Override
    public List<Map<String, Object>> find(CamelContext context, String nameOrEmail) throws Exception {
        String text = nameOrEmail == null ? "" : nameOrEmail.trim();
        String filter = (text.contains("@") ? "attendeeEmail=" : "attendeeName=") + URLEncoder.encode(text, StandardCharsets.UTF_8);
        List<Map<String, Object>> out = new ArrayList<>();
        try (ProducerTemplate template = context.createProducerTemplate()) {
            Exchange answer = template.request(baseUrl + "/v2/bookings?throwExceptionOnFailure=true", e -> {
                request(e, filter + "&sortUpdatedAt=desc&take=" + LOOKUP_LIMIT);
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

    public void setApiKey(String apiKey) { this.apiKey = apiKey; }
    public void setWriteBackSpreadsheetId(String id) { this.writeBackSpreadsheetId = id; }
    public void setWriteBackRange(String range) { this.writeBackRange = range; }
    public void setWriteBackMatch(String label) { this.writeBackMatch = label; }
    public void setWriteBackUpdate(String cells) { this.writeBackUpdate = cells; }
    public void setWriteBackAppend(String cells) { this.writeBackAppend = cells; }
    public void setBaseUrl(String baseUrl) {
        this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
    }
    public void setApiVersion(String apiVersion) { this.apiVersion = apiVersion; }
    public void setTake(int take) {
        if (take < 1 || take > 250) {
            throw new IllegalArgumentException("take must be 1..250 (Cal.com's limit), got " + take);
        }
        this.take = take;
    }
    public void setStatus(String status) { this.status = status; }
    public void setConcurrentChangeMarginMs(long ms) { this.concurrentChangeMarginMs = ms; }

}
