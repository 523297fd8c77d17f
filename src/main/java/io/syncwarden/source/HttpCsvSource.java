package io.syncwarden.source;

import io.syncwarden.sync.BatchWriter;
import io.syncwarden.sync.FullApply;
import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.TargetTable;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.Types;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.apache.camel.StreamCache;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;

/**
 * The {@code http-csv} kind (Finale reports and any CSV over HTTP): the route GETs the report with camel-http;
 * this reader parses the body as a stream (UTF-8 BOM, CRLF or LF, RFC 4180 quoting with embedded newlines and doubled
 * quotes) and maps report column labels to table columns through the instance's {@code mapping}. A record that
 * cannot be mapped is rejected with its line number; a body with no data rows makes the run {@code empty}.
 */
public class HttpCsvSource extends SyncSource {
    private String mapping;
    private String columnTypes = "";
    private String url;
    private String username = "";
    private String password = "";
    private KeyRing ring;
    private List<String> keys = List.of();
    private List<String> secrets = List.of();

    @Override
    public String kind() {
        return "http-csv";
    }

    /**
     * Prepares the report request: only our headers travel (the trigger's do not), and the credentials go in an
     * {@code Authorization} header built here, never in the endpoint URI (where route dumps and JMX would show them).
     * With several key/secret pairs the first pair not resting from a rate limit is used (and remembered, so a 429
     * rests that pair and the next attempt takes another).
     */
    public void request(Exchange exchange) {
        request(exchange, true);
    }

    /** {@code run}: a run's request (the pair used is remembered); false for a probe or a lookup. */
    private void request(Exchange exchange, boolean run) {
        exchange.getIn().removeHeaders("*");
        exchange.getIn().setBody(null);
        if (username != null && !username.isBlank()) {
            KeyRing ring = keyRing();
            String user = username;
            String secret = password;
            if (ring != null) {
                java.time.Instant now = java.time.Instant.now();
                int position = keys.indexOf(run ? ring.next(now) : ring.peek(now));
                user = keys.get(position);
                secret = secrets.get(position);
            }
            exchange.getIn().setHeader("Authorization", basic(user, secret));
        }
    }

    /** The key/secret pairs when {@code username} and {@code password} list several (in the same order); else null. */
    @Override
    public synchronized KeyRing keyRing() {
        if (ring == null && username != null && username.contains(",")) {
            keys = java.util.Arrays.stream(username.split(",")).map(String::trim).toList();
            secrets = java.util.Arrays.stream((password == null ? "" : password).split(",", -1)).map(String::trim).toList();
            if (keys.size() != secrets.size() || keys.stream().anyMatch(String::isEmpty) || keys.stream().distinct().count() != keys.size()) {
                throw new NonRecoverableSyncException("Source " + sourceId() + ": username lists " + keys.size()
                        + " key(s) and password " + secrets.size() + " secret(s): give one secret per key, comma-separated in "
                        + "the same order, each key once");
            }
            ring = new KeyRing(username);
        }
        return ring;
    }

    /** A HEAD request to the report URL with the same credentials (nothing is downloaded). */
    @Override
    public void probe(CamelContext context) throws Exception {
        String base = required("url", url, sourceId());
        try (ProducerTemplate template = context.createProducerTemplate()) {
            answered(template.request(base + (base.contains("?") ? "&" : "?") + "httpMethod=HEAD&throwExceptionOnFailure=false",
                    e -> request(e, false)), "the report server");
        }
    }

    static String basic(String user, String secret) {
        String pair = user + ":" + (secret == null ? "" : secret);
        return "Basic " + java.util.Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    protected void read(RunContext run, SyncRuns runs, Exchange current) throws Exception {
        String id = sourceId();
        Map<String, String> labels = Tabular.parseMapping(required("mapping", mapping, id), id);
        List<String> columns = new ArrayList<>(labels.values());
        List<String> keys = keys();
        Map<String, String> types = Tabular.parseTypes(columnTypes, id);
        run.mode("full");
        Object body = current.getIn().getBody();
        if (body instanceof StreamCache cache) {
            cache.reset(); // a redelivered attempt reads the report again from the start
        }
        InputStream in = current.getIn().getBody(InputStream.class);
        if (in == null) {
            run.markEmpty();
            return;
        }
        if (run.committedPosition() > 0) {
            return; // this run's read was applied already (a redelivery after its commit): nothing more to do
        }
        var db = runs.database();
        try (CSVParser parser = open(in); Connection tc = db.dataSource().getConnection()) {
            tc.setAutoCommit(false);
            List<String> names = parser.getHeaderNames();
            if (names.isEmpty() || (names.size() == 1 && Tabular.normalise(names.get(0)).isEmpty())) {
                run.markEmpty();
                return;
            }
            int[] source = Tabular.locate(names, labels, id, "report");
            List<TargetTable.Column> offered = columns.stream().map(col -> new TargetTable.Column(col,
                    types.containsKey(col) ? Types.OTHER : Types.VARCHAR, 0, 0)).toList();
            // the whole report in one transaction, after the guards (size, deletions): a failure half-way, or a refusal,
            // leaves the target as it was
            FullApply apply = FullApply.begin(tc, runs, run, TargetTable.ensure(tc, db, targetTable(), offered, keys, types), deletions());
            try (BatchWriter writer = apply.writer(columns, keys, batchSize()).positionName("line")) {
                apply.columns(names.stream().map(Tabular::normalise).filter(n -> !n.isEmpty()).toList());
                for (CSVRecord record : parser) {
                    long line = parser.getCurrentLineNumber();
                    Object[] row = new Object[columns.size()];
                    String problem = null;
                    if (record.size() != names.size()) {
                        problem = "line " + line + " has " + record.size() + " fields, the header has " + names.size();
                    }
                    for (int i = 0; i < source.length && problem == null; i++) {
                        String v = record.get(source[i]);
                        row[i] = v.isEmpty() ? null : v;
                    }
                    if (problem != null) {
                        writer.rejectRead(row, line, problem);
                    } else {
                        writer.add(row, line);
                    }
                }
                apply.commit(true);
            } catch (Exception | Error e) {
                apply.abort();
                throw e;
            }
            if (run.read() == 0) {
                run.markEmpty();
            }
        } catch (java.io.UncheckedIOException | IllegalArgumentException e) {
            // broken quoting: the same report fails the same way on a retry
            throw new NonRecoverableSyncException("Source " + id + ": the report is not readable CSV: " + e.getMessage()
                    + "; nothing of this report was applied");
        }
    }

    /** RFC 4180 with a header row, UTF-8 with or without a BOM, CRLF or LF. */
    private static CSVParser open(InputStream in) throws java.io.IOException {
        // repeated labels are judged by Tabular.locate (a mapped label that repeats is ambiguous and fails the run)
        CSVFormat format = CSVFormat.RFC4180.builder().setHeader().setSkipHeaderRecord(true)
                .setAllowMissingColumnNames(true).setDuplicateHeaderMode(org.apache.commons.csv.DuplicateHeaderMode.ALLOW_ALL)
                .setIgnoreEmptyLines(true).get();
        return CSVParser.parse(withoutBom(new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))), format);
    }

    private static Reader withoutBom(BufferedReader reader) throws java.io.IOException {
        reader.mark(1);
        if (reader.read() != '\uFEFF') {
            reader.reset();
        }
        return reader;
    }

    /** Fetches the report (as the route does) and returns the mapped records whose lookup columns match. */
    @Override
    public List<Map<String, Object>> find(CamelContext context, String nameOrEmail) throws Exception {
        String id = sourceId();
        Map<String, String> labels = Tabular.parseMapping(required("mapping", mapping, id), id);
        String uri = required("url", url, id);
        uri += (uri.contains("?") ? "&" : "?") + "httpMethod=GET&throwExceptionOnFailure=true";
        List<Map<String, Object>> out = new ArrayList<>();
        try (ProducerTemplate template = context.createProducerTemplate()) {
            Exchange answer = template.request(uri, e -> request(e, false));
            if (answer.getException() != null) {
                throw answer.getException();
            }
            InputStream in = answer.getMessage().getBody(InputStream.class);
            if (in == null) {
                return out;
            }
            try (CSVParser parser = open(in)) {
                int[] source = Tabular.locate(parser.getHeaderNames(), labels, id, "report");
                List<String> mapped = new ArrayList<>(labels.values());
                for (CSVRecord record : parser) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    boolean hit = false;
                    for (int i = 0; i < source.length; i++) {
                        String v = source[i] < record.size() ? record.get(source[i]) : null;
                        row.put(mapped.get(i), v == null || v.isEmpty() ? null : v);
                        hit |= isLookupColumn(mapped.get(i)) && matches(v, nameOrEmail);
                    }
                    if (hit && out.size() < LOOKUP_LIMIT) {
                        out.add(row);
                    }
                }
            }
        }
        return out;
    }

    public void setUrl(String url) { this.url = url; }
    public synchronized void setUsername(String username) { this.username = username; this.ring = null; }
    public synchronized void setPassword(String password) { this.password = password; this.ring = null; }
    public void setMapping(String mapping) { this.mapping = mapping; }
    public void setColumnTypes(String columnTypes) { this.columnTypes = columnTypes; }
}
