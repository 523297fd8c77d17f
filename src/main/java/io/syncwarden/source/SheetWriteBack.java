package io.syncwarden.source;

import com.google.api.services.sheets.v4.model.BatchUpdateValuesRequest;
import com.google.api.services.sheets.v4.model.ValueRange;
import io.syncwarden.sync.NonRecoverableSyncException;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes records into a Google sheet through camel-google-sheets: the row whose match column equals the record's
 * match value gets the {@code update} cells that differ (one {@code values.batchUpdate}); a record with no such row is
 * added with the {@code append} cells (one {@code values.append}). Values are written RAW, so text such as
 * {@code +3361...} keeps its plus sign. Cell expressions: a record field ({@code attendee_email}), a literal
 * ({@code 'Cal.com}) or a time field with a pattern ({@code created_at|M/d/yyyy}).
 */
final class SheetWriteBack {
    private static final Logger LOG = LoggerFactory.getLogger(SheetWriteBack.class);
    private final String sourceId;
    private final String spreadsheetId;
    private final String range;
    private final String matchLabel;
    private final String matchField;
    private final Map<String, String> update;
    private final Map<String, String> append;

    /** Counts of one write-back: cells updated, rows updated, rows appended. */
    record Result(int cells, int rowsUpdated, int rowsAppended) {
    }

    SheetWriteBack(String sourceId, String spreadsheetId, String range, String matchLabel, String matchField,
                   String update, String append) {
        this.sourceId = sourceId;
        this.spreadsheetId = spreadsheetId;
        this.range = range;
        this.matchLabel = Tabular.normalise(matchLabel);
        this.matchField = matchField;
        this.update = pairs(update);
        this.append = pairs(append);
    }

    private Map<String, String> pairs(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        if (text == null) {
            return out;
        }
        for (String pair : text.split(";")) {
            if (pair.isBlank()) {
                continue;
            }
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new NonRecoverableSyncException("Source " + sourceId + ": write-back entry '" + pair.trim()
                        + "' is not 'Sheet header=field'");
            }
            out.put(Tabular.normalise(pair.substring(0, eq)), pair.substring(eq + 1).trim());
        }
        return out;
    }

    Result write(CamelContext context, List<Map<String, Object>> records) throws Exception {
        if (records.isEmpty()) {
            return new Result(0, 0, 0);
        }
        try (ProducerTemplate template = context.createProducerTemplate()) {
            ValueRange sheet = call(template, "get", Map.of("range", range, "valueRenderOption", "FORMATTED_VALUE",
                    "majorDimension", "ROWS")).getBody(ValueRange.class);
            List<List<Object>> values = sheet == null || sheet.getValues() == null ? List.of() : sheet.getValues();
            if (values.isEmpty()) {
                throw new NonRecoverableSyncException("Source " + sourceId + ": the write-back range " + range + " has no header row");
            }
            Map<String, Integer> header = Tabular.headerIndex(values.get(0));
            Integer matchAt = header.get(matchLabel);
            List<String> unknown = new ArrayList<>();
            for (String label : concat(update.keySet(), append.keySet(), List.of(matchLabel))) {
                if (!header.containsKey(label)) {
                    unknown.add(label);
                }
            }
            if (!unknown.isEmpty()) {
                throw new NonRecoverableSyncException("Source " + sourceId + ": the write-back sheet has no column(s) "
                        + unknown + " (header: " + header.keySet() + ")");
            }
            String sheetName = sheetName(range);
            int firstRow = GoogleSheetsSource.startRow(range);
            int firstCol = startColumn(range);
            Map<String, Integer> rowOf = new HashMap<>();
            for (int i = 1; i < values.size(); i++) {
                List<Object> cells = values.get(i);
                String v = matchAt < cells.size() ? GoogleSheetsSource.text(cells.get(matchAt)) : null;
                if (v != null) {
                    rowOf.putIfAbsent(SyncSource.fold(v), i);
                }
            }
            List<ValueRange> changes = new ArrayList<>();
            List<List<Object>> added = new ArrayList<>();
            java.util.Set<Integer> touched = new java.util.HashSet<>();
            for (Map<String, Object> record : records) {
                Object key = record.get(matchField);
                if (key == null || String.valueOf(key).isBlank()) {
                    continue;
                }
                Integer at = rowOf.get(SyncSource.fold(String.valueOf(key)));
                if (at != null && at > 0) {
                    List<Object> cells = values.get(at);
                    for (Map.Entry<String, String> u : update.entrySet()) {
                        int col = header.get(u.getKey());
                        String want = value(u.getValue(), record);
                        String have = col < cells.size() ? GoogleSheetsSource.text(cells.get(col)) : null;
                        if (!java.util.Objects.equals(want, have)) {
                            changes.add(new ValueRange().setRange(a1(sheetName, firstCol + col, firstRow + at))
                                    .setValues(List.of(List.of(want == null ? "" : want))));
                            touched.add(at);
                        }
                    }
                } else if (at == null && !append.isEmpty()) {
                    List<Object> row = new ArrayList<>();
                    for (int c = 0; c < values.get(0).size(); c++) {
                        row.add("");
                    }
                    for (Map.Entry<String, String> a : append.entrySet()) {
                        String v = value(a.getValue(), record);
                        row.set(header.get(a.getKey()), v == null ? "" : v);
                    }
                    added.add(row);
                    rowOf.put(SyncSource.fold(String.valueOf(key)), -1); // one new row per person, even with several bookings
                }
            }
            if (!changes.isEmpty()) {
                call(template, "batchUpdate", Map.of("batchUpdateValuesRequest",
                        new BatchUpdateValuesRequest().setValueInputOption("RAW").setData(changes)));
            }
            if (!added.isEmpty()) {
                call(template, "append", Map.of("range", range, "values", new ValueRange().setValues(added),
                        "valueInputOption", "RAW", "insertDataOption", "INSERT_ROWS"));
            }
            Result result = new Result(changes.size(), touched.size(), added.size());
            LOG.info("Sync {}: wrote back to sheet {}: {} cell(s) in {} row(s) updated, {} row(s) appended",
                    sourceId, range, result.cells(), result.rowsUpdated(), result.rowsAppended());
            return result;
        }
    }

    private org.apache.camel.Message call(ProducerTemplate template, String method, Map<String, Object> args) throws Exception {
        Exchange answer = template.request("google-sheets://data/" + method, e -> {
            e.getIn().setHeader(GoogleSheetsSource.HEADER_PREFIX + "spreadsheetId", spreadsheetId);
            args.forEach((k, v) -> e.getIn().setHeader(GoogleSheetsSource.HEADER_PREFIX + k, v));
        });
        if (answer.getException() != null) {
            throw answer.getException();
        }
        return answer.getMessage();
    }

    /** A cell's value from a record: {@code field}, {@code 'literal} or {@code time_field|pattern}. */
    static String value(String expression, Map<String, Object> record) {
        if (expression.startsWith("'")) {
            return expression.substring(1);
        }
        int bar = expression.indexOf('|');
        String field = bar < 0 ? expression : expression.substring(0, bar);
        Object v = record.get(field.trim());
        if (v == null) {
            return null;
        }
        if (bar >= 0) {
            DateTimeFormatter format = DateTimeFormatter.ofPattern(expression.substring(bar + 1).trim(), Locale.ROOT);
            return LocalDateTime.parse(String.valueOf(v)).format(format);
        }
        return String.valueOf(v);
    }

    /** The sheet a range names: {@code Leads!A1:H} and {@code Leads} -> Leads; bare cells {@code A1:H} -> none (the first sheet). */
    static String sheetName(String range) {
        if (range.contains("!")) {
            return range.substring(0, range.lastIndexOf('!'));
        }
        return range.matches("\\$?[A-Za-z]{1,3}\\$?\\d*(:\\$?[A-Za-z]{1,3}\\$?\\d*)?") ? null : range;
    }

    static String a1(String sheetName, int column, long row) {
        return (sheetName == null ? "" : sheetName + "!") + columnLetters(column) + row;
    }

    /** 0 -> A, 25 -> Z, 26 -> AA. */
    static String columnLetters(int column) {
        StringBuilder sb = new StringBuilder();
        for (int c = column + 1; c > 0; c = (c - 1) / 26) {
            sb.insert(0, (char) ('A' + (c - 1) % 26));
        }
        return sb.toString();
    }

    /** The 0-based first column of an A1 range ({@code Leads!C2:H} -> 2); a whole-sheet range starts at A. */
    static int startColumn(String a1) {
        String cells = a1.substring(a1.lastIndexOf('!') + 1).replace("$", "");
        int col = 0;
        int i = 0;
        for (; i < cells.length() && Character.isLetter(cells.charAt(i)); i++) {
            col = col * 26 + (Character.toUpperCase(cells.charAt(i)) - 'A' + 1);
        }
        return i == 0 || i == cells.length() && !a1.contains("!") ? 0 : col - 1;
    }

    @SafeVarargs
    private static List<String> concat(java.util.Collection<String>... parts) {
        List<String> out = new ArrayList<>();
        for (java.util.Collection<String> p : parts) {
            out.addAll(p);
        }
        return out;
    }
}
