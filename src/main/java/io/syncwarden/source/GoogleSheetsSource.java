package io.syncwarden.source;

import com.google.api.services.sheets.v4.model.ValueRange;
import io.syncwarden.sync.BatchWriter;
import io.syncwarden.sync.FullApply;
import io.syncwarden.sync.NonRecoverableSyncException;
import io.syncwarden.sync.RunContext;
import io.syncwarden.sync.SyncRuns;
import io.syncwarden.sync.TargetTable;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.Types;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.format.ResolverStyle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.camel.CamelContext;
import org.apache.camel.Exchange;
import org.apache.camel.ProducerTemplate;

/**
 * The {@code google-sheets} kind: the route calls camel-google-sheets {@code data/get} (spreadsheets.values.get) for
 * the instance's spreadsheet and range; this reader turns the {@code ValueRange} into rows. The first row of the range
 * is the header: it names the columns (normalised to SQL names, or through an explicit {@code mapping}). Sheets omits
 * trailing empty cells, so short rows are padded; fully empty rows are skipped and counted; a row without its key, or
 * with a date that does not parse, is rejected with its sheet row number. Dates arrive as displayed text
 * ({@code FORMATTED_VALUE}, parsed with the column's pattern) or as serial day numbers ({@code UNFORMATTED_VALUE}).
 */
public class GoogleSheetsSource extends SyncSource {
    static final String HEADER_PREFIX = "CamelGoogleSheets.";
    private static final LocalDate SERIAL_EPOCH = LocalDate.of(1899, 12, 30);
    private static final Pattern START_ROW = Pattern.compile("^\\$?[A-Za-z]*\\$?(\\d+)");

    private String spreadsheetId;
    private String range;
    private String mapping = "";
    private String columnTypes = "";
    private String dateColumns = "";
    private String valueRenderOption = "FORMATTED_VALUE";

    @Override
    public String kind() {
        return "google-sheets";
    }

    /** Sets the values.get arguments as the component's headers; nothing of the trigger travels along. */
    public void request(Exchange exchange) {
        exchange.getIn().removeHeaders("*");
        exchange.getIn().setBody(null);
        exchange.getIn().setHeader(HEADER_PREFIX + "spreadsheetId", required("spreadsheetId", spreadsheetId, sourceId()));
        exchange.getIn().setHeader(HEADER_PREFIX + "range", required("range", range, sourceId()));
        exchange.getIn().setHeader(HEADER_PREFIX + "majorDimension", "ROWS");
        exchange.getIn().setHeader(HEADER_PREFIX + "valueRenderOption", valueRenderOption);
        exchange.getIn().setHeader(HEADER_PREFIX + "dateTimeRenderOption", "SERIAL_NUMBER");
    }

    /** The range's first cell only, through the same camel-google-sheets endpoint and identity. */
    @Override
    public void probe(CamelContext context) throws Exception {
        String configured = required("range", range, sourceId());
        int bang = configured.lastIndexOf('!');
        String cell = (bang >= 0 ? configured.substring(0, bang + 1) : "") + "A1:A1";
        try (ProducerTemplate template = context.createProducerTemplate()) {
            Exchange answer = template.request("google-sheets://data/get", e -> {
                request(e);
                e.getIn().setHeader(HEADER_PREFIX + "range", cell);
            });
            if (answer.getException() != null) {
                Integer status = answer.getException() instanceof com.google.api.client.http.HttpResponseException g
                        ? Integer.valueOf(g.getStatusCode()) : null;
                if (status == null || status >= 500 || status == 429 || status == 408) {
                    throw answer.getException();
                }
            }
        }
    }

    @Override
    protected void read(RunContext run, SyncRuns runs, Exchange exchange) throws Exception {
        String id = sourceId();
        run.mode("full");
        ValueRange answer = exchange.getIn().getBody(ValueRange.class);
        if (answer == null) {
            throw new MalformedAnswerException("Google Sheets", "no value range in the answer (an empty body)", null, null, true);
        }
        List<List<Object>> values = answer.getValues();
        if (values == null || values.size() <= 1) {
            run.markEmpty(); // no data rows: nothing is written, the table keeps what it has
            return;
        }
        Sheet sheet = layout(values.get(0), id);
        if (run.committedPosition() == 0) {
            // the sheet's data rows against the last good run's, before a row is applied
            runs.guardCount(run, values.stream().skip(1).filter(cells -> cells != null && cells.stream().anyMatch(c -> text(c) != null)).count());
        }
        List<String> keys = keys();
        Map<String, String> types = new LinkedHashMap<>();
        sheet.dates.keySet().forEach(c -> types.put(c, "DATE"));
        types.putAll(Tabular.parseTypes(columnTypes, id));
        int firstRow = startRow(answer.getRange() != null ? answer.getRange() : range);
        if (run.committedPosition() > 0) {
            return; // this run's read was applied already (a redelivery after its commit): nothing more to do
        }
        var db = runs.database();
        try (Connection tc = db.dataSource().getConnection()) {
            tc.setAutoCommit(false);
            List<TargetTable.Column> offered = sheet.columns.stream().map(c -> new TargetTable.Column(c,
                    types.containsKey(c) ? Types.OTHER : Types.VARCHAR, 0, 0)).toList();
            // without a mapping every header column is read: one added to the sheet is added to the table (as text)
            TargetTable table = TargetTable.ensure(tc, db, targetTable(), offered, keys, types, !sheet.mapped);
            // the whole sheet in one transaction, after the guards: a failure half-way, or a refusal, leaves the target
            // as it was
            FullApply apply = FullApply.begin(tc, runs, run, table, deletions());
            try (BatchWriter writer = apply.writer(sheet.columns, keys, batchSize()).positionName("sheet row")) {
                apply.columns(values.get(0).stream().map(h -> Tabular.normalise(String.valueOf(h))).filter(h -> !h.isEmpty()).toList());
                for (int i = 1; i < values.size(); i++) {
                    List<Object> cells = values.get(i);
                    long sheetRow = firstRow + i;
                    if (cells == null || cells.stream().allMatch(c -> text(c) == null)) {
                        writer.skip(sheetRow);
                        continue;
                    }
                    Object[] row = new Object[sheet.columns.size()];
                    String problem = extraCells(cells, sheet.width, sheetRow);
                    for (int c = 0; c < row.length; c++) {
                        int at = sheet.index[c];
                        Object cell = at < cells.size() ? cells.get(at) : null;
                        DateTimeFormatter format = sheet.dates.get(sheet.columns.get(c));
                        try {
                            row[c] = format != null ? date(cell, format) : text(cell);
                        } catch (IllegalArgumentException e) {
                            problem = problem != null ? problem : "sheet row " + sheetRow + ": column " + sheet.columns.get(c) + " " + e.getMessage();
                        }
                    }
                    if (problem != null) {
                        writer.rejectRead(row, sheetRow, problem);
                    } else {
                        writer.add(row, sheetRow);
                    }
                }
                apply.commit(false);
            } catch (Exception | Error e) {
                apply.abort();
                throw e;
            }
        }
    }

    /** Reads the sheet (as the route does) and returns the rows whose lookup columns match, as column maps. */
    @Override
    public List<Map<String, Object>> find(CamelContext context, String nameOrEmail) throws Exception {
        List<Map<String, Object>> out = new ArrayList<>();
        try (ProducerTemplate template = context.createProducerTemplate()) {
            Exchange answer = template.request("google-sheets://data/get", this::request);
            if (answer.getException() != null) {
                throw answer.getException();
            }
            ValueRange range = answer.getMessage().getBody(ValueRange.class);
            List<List<Object>> values = range == null ? null : range.getValues();
            if (values == null || values.isEmpty()) {
                return out;
            }
            Sheet sheet = layout(values.get(0), sourceId());
            for (int i = 1; i < values.size() && out.size() < LOOKUP_LIMIT; i++) {
                List<Object> cells = values.get(i);
                Map<String, Object> row = new LinkedHashMap<>();
                boolean hit = false;
                for (int c = 0; c < sheet.columns.size(); c++) {
                    int at = sheet.index[c];
                    String v = cells != null && at < cells.size() ? text(cells.get(at)) : null;
                    row.put(sheet.columns.get(c), v);
                    hit |= isLookupColumn(sheet.columns.get(c)) && matches(v, nameOrEmail);
                }
                if (hit) {
                    row.put("sheet_row", startRow(range.getRange() != null ? range.getRange() : this.range) + i);
                    out.add(row);
                }
            }
        }
        return out;
    }

    /** Which cell feeds which column, and which columns are dates with which pattern. */
    private record Sheet(List<String> columns, int[] index, Map<String, DateTimeFormatter> dates, boolean mapped, int width) {
    }

    private Sheet layout(List<Object> header, String id) {
        List<String> columns = new ArrayList<>();
        List<Integer> index = new ArrayList<>();
        boolean mapped = mapping != null && !mapping.isBlank();
        if (mapped) {
            Map<String, String> labels = Tabular.parseMapping(mapping, id);
            int[] at = Tabular.locate(header, labels, id, "sheet");
            columns.addAll(labels.values());
            Arrays.stream(at).forEach(index::add);
        } else {
            Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < header.size(); i++) {
                String name = Tabular.columnName(String.valueOf(header.get(i)), i + 1);
                int n = seen.merge(name, 1, Integer::sum);
                columns.add(n == 1 ? name : name + "_" + n);
                index.add(i);
            }
        }
        Map<String, DateTimeFormatter> dates = new LinkedHashMap<>();
        Tabular.parsePairs(dateColumns, id, "dateColumns").forEach((column, pattern) -> {
            if (!columns.contains(column)) {
                throw new NonRecoverableSyncException("Source " + id + ": dateColumns names '" + column
                        + "', which is not a column of the sheet " + columns);
            }
            try {
                dates.put(column, DateTimeFormatter.ofPattern(pattern, Locale.ROOT).withResolverStyle(ResolverStyle.SMART));
            } catch (IllegalArgumentException e) {
                throw new NonRecoverableSyncException("Source " + id + ": date pattern '" + pattern + "' of column "
                        + column + " is not valid: " + e.getMessage());
            }
        });
        return new Sheet(columns, index.stream().mapToInt(Integer::intValue).toArray(), dates, mapped, header.size());
    }

    private static String extraCells(List<Object> cells, int width, long sheetRow) {
        for (int i = width; i < cells.size(); i++) {
            if (text(cells.get(i)) != null) {
                return "sheet row " + sheetRow + " has a value in column " + (i + 1) + ", beyond the header's " + width + " columns";
            }
        }
        return null;
    }

    /** A cell as text: numbers without exponent, blank as null, everything else as the sheet shows it. */
    static String text(Object cell) {
        if (cell == null) {
            return null;
        }
        String t = cell instanceof BigDecimal d ? d.toPlainString() : String.valueOf(cell);
        return t.isBlank() ? null : t;
    }

    /** A displayed date parsed with the column's pattern, or a serial day number (days since 1899-12-30). */
    static LocalDate date(Object cell, DateTimeFormatter format) {
        String t = text(cell);
        if (t == null) {
            return null;
        }
        if (cell instanceof Number || t.matches("\\d+(\\.\\d+)?")) {
            return SERIAL_EPOCH.plusDays(new BigDecimal(t).longValue());
        }
        try {
            return LocalDate.parse(t.trim(), format);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("'" + t + "' is not a date in the configured format or a serial number");
        }
    }

    /** First sheet row of an A1 range: {@code Leads!A2:H} -> 2; a whole-sheet or column range starts at row 1. */
    static int startRow(String a1) {
        String cells = a1.substring(a1.lastIndexOf('!') + 1);
        Matcher m = START_ROW.matcher(cells);
        return m.find() ? Integer.parseInt(m.group(1)) : 1;
    }

    public void setSpreadsheetId(String spreadsheetId) { this.spreadsheetId = spreadsheetId; }
    public void setRange(String range) { this.range = range; }
    public void setMapping(String mapping) { this.mapping = mapping; }
    public void setColumnTypes(String columnTypes) { this.columnTypes = columnTypes; }
    public void setDateColumns(String dateColumns) { this.dateColumns = dateColumns; }
    public void setValueRenderOption(String option) {
        if (!List.of("FORMATTED_VALUE", "UNFORMATTED_VALUE").contains(option)) {
            throw new IllegalArgumentException("valueRenderOption must be FORMATTED_VALUE or UNFORMATTED_VALUE, got " + option);
        }
        this.valueRenderOption = option;
    }
}
