package io.syncwarden.source;

import com.google.api.services.sheets.v4.model.BatchUpdateSpreadsheetRequest;
import com.google.api.services.sheets.v4.model.BatchUpdateSpreadsheetResponse;
import com.google.api.services.sheets.v4.model.BatchUpdateValuesByDataFilterRequest;
import com.google.api.services.sheets.v4.model.BatchUpdateValuesByDataFilterResponse;
import com.google.api.services.sheets.v4.model.CellData;
import com.google.api.services.sheets.v4.model.CreateDeveloperMetadataRequest;
import com.google.api.services.sheets.v4.model.DataFilter;
import com.google.api.services.sheets.v4.model.DataFilterValueRange;
import com.google.api.services.sheets.v4.model.DeleteDeveloperMetadataRequest;
import com.google.api.services.sheets.v4.model.DeveloperMetadata;
import com.google.api.services.sheets.v4.model.DeveloperMetadataLocation;
import com.google.api.services.sheets.v4.model.DeveloperMetadataLookup;
import com.google.api.services.sheets.v4.model.DimensionProperties;
import com.google.api.services.sheets.v4.model.DimensionRange;
import com.google.api.services.sheets.v4.model.GridData;
import com.google.api.services.sheets.v4.model.Request;
import com.google.api.services.sheets.v4.model.RowData;
import com.google.api.services.sheets.v4.model.Sheet;
import com.google.api.services.sheets.v4.model.Spreadsheet;
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
 * match value gets the {@code update} cells that differ (one {@code values.batchUpdateByDataFilter}, the row found by
 * its tag, see {@link #write}); a record with no such row is added with the {@code append} cells (one
 * {@code values.append}). Values are written RAW, so text such as
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
        for (String[] e : Tabular.entries(text, sourceId, "write-back", "Sheet header=field", false)) {
            out.put(Tabular.normalise(e[0]), e[1]);
        }
        return out;
    }

    /** The developer-metadata key that marks a lead row with its (folded) match value. */
    String tagKey() {
        return "syncwarden:" + matchLabel.replaceAll("[^a-z0-9]+", "-");
    }

    /**
     * Writes the records. Rows are never addressed by position: between reading the sheet and writing to it, a person
     * may insert, delete or sort rows, and a write to "row 51" would land on someone else's lead. Each lead row that
     * needs a change carries a row tag (developer metadata, visible to the document) whose value is its e-mail; the
     * tag moves with its row, and the write names the tag (a data filter), so it lands on that person's row wherever it
     * is now. A tag is created from what was read and checked in the very request that creates it (the request returns
     * the sheet after the change): a tag that landed on a row holding another e-mail is removed and the write-back
     * fails, to be tried again. Only cells that differ are written; rows are appended for records with no row.
     */
    Result write(CamelContext context, List<Map<String, Object>> records) throws Exception {
        if (records.isEmpty()) {
            return new Result(0, 0, 0);
        }
        try (ProducerTemplate template = context.createProducerTemplate()) {
            Grid grid = read(template);
            List<List<Object>> values = grid.values;
            if (values.isEmpty()) {
                throw new NonRecoverableSyncException("Source " + sourceId + ": the write-back range " + range + " has no header row");
            }
            Map<String, Integer> header = Tabular.headerIndex(values.get(0));
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
            int matchAt = header.get(matchLabel);
            int firstCol = startColumn(range);
            Map<String, Integer> rowOf = new HashMap<>();
            for (int i = 1; i < values.size(); i++) {
                String v = cell(values.get(i), matchAt);
                if (v != null) {
                    rowOf.putIfAbsent(SyncSource.fold(v), i);
                }
            }
            String key = tagKey();
            Map<String, List<Object>> changes = new LinkedHashMap<>();
            List<List<Object>> added = new ArrayList<>();
            Map<Integer, String> toTag = new LinkedHashMap<>();
            java.util.Set<Integer> toUntag = new java.util.LinkedHashSet<>();
            int cells = 0;
            for (Map<String, Object> record : records) {
                Object match = record.get(matchField);
                if (match == null || String.valueOf(match).isBlank()) {
                    continue;
                }
                String folded = SyncSource.fold(String.valueOf(match));
                Integer at = rowOf.get(folded);
                if (at != null && at > 0) {
                    List<Object> cellsOut = new ArrayList<>();
                    List<Object> have = values.get(at);
                    for (Map.Entry<String, String> u : update.entrySet()) {
                        int col = header.get(u.getKey());
                        String want = value(u.getValue(), record);
                        if (!java.util.Objects.equals(want, cell(have, col))) {
                            // the data filter matches the whole row from column A: cells left null are not touched
                            int sheetCol = firstCol + col;
                            while (cellsOut.size() <= sheetCol) {
                                cellsOut.add(com.google.api.client.util.Data.NULL_STRING);
                            }
                            cellsOut.set(sheetCol, want == null ? "" : want);
                            cells++;
                        }
                    }
                    if (!cellsOut.isEmpty()) {
                        changes.put(folded, cellsOut);
                        // this row must carry the tag for its e-mail, and no other row may carry it
                        grid.tags.forEach((row, tag) -> {
                            if (tag.value().equals(folded) && row != at.intValue()) {
                                toUntag.add(row);
                            }
                        });
                        Tag tag = grid.tags.get(at);
                        if (tag == null || !tag.value().equals(folded)) {
                            if (tag != null) {
                                toUntag.add(at);
                            }
                            toTag.put(at, folded);
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
                    rowOf.put(folded, -1); // one new row per person, even with several bookings
                }
            }
            if (!toTag.isEmpty() || !toUntag.isEmpty()) {
                tag(template, grid, toTag, toUntag, matchAt, key);
            }
            int written = 0;
            if (!changes.isEmpty()) {
                written = update(template, changes, key);
            }
            if (!added.isEmpty()) {
                call(template, "data", "append", Map.of("range", range, "values", new ValueRange().setValues(added),
                        "valueInputOption", "RAW", "insertDataOption", "INSERT_ROWS"));
            }
            Result result = new Result(cells, written, added.size());
            LOG.info("Sync {}: wrote back to sheet {}: {} cell(s) in {} row(s) updated, {} row(s) appended",
                    sourceId, range, result.cells(), result.rowsUpdated(), result.rowsAppended());
            return result;
        }
    }

    /** A row tag: its id and its value (the folded e-mail). */
    record Tag(int id, String value) {
    }

    /** What one read of the range gives: the sheet's id, the cells as displayed, and the rows' tags by row index. */
    private record Grid(Integer sheetId, int startRow, List<List<Object>> values, Map<Integer, Tag> tags) {
    }

    /** One read: displayed values and row tags of the range ({@code spreadsheets.get} with a field mask). */
    private Grid read(ProducerTemplate template) throws Exception {
        Spreadsheet sheet = call(template, "spreadsheets", "get", Map.of("ranges", List.of(range), "includeGridData", true,
                "fields", "sheets(properties(sheetId,title),data(startRow,startColumn,rowData(values(formattedValue)),"
                        + "rowMetadata(developerMetadata(metadataId,metadataKey,metadataValue))))")).getBody(Spreadsheet.class);
        if (sheet == null || sheet.getSheets() == null || sheet.getSheets().isEmpty()) {
            throw new NonRecoverableSyncException("Source " + sourceId + ": the write-back range " + range + " names no sheet");
        }
        Sheet first = sheet.getSheets().get(0);
        GridData data = first.getData() == null || first.getData().isEmpty() ? new GridData() : first.getData().get(0);
        int startRow = data.getStartRow() == null ? 0 : data.getStartRow();
        return new Grid(first.getProperties() == null ? null : first.getProperties().getSheetId(), startRow,
                cells(data.getRowData()), tags(data.getRowMetadata()));
    }

    private static List<List<Object>> cells(List<RowData> rows) {
        List<List<Object>> out = new ArrayList<>();
        if (rows != null) {
            for (RowData row : rows) {
                List<Object> line = new ArrayList<>();
                if (row.getValues() != null) {
                    for (CellData c : row.getValues()) {
                        line.add(c == null || c.getFormattedValue() == null ? "" : c.getFormattedValue());
                    }
                }
                out.add(line);
            }
        }
        return out;
    }

    private Map<Integer, Tag> tags(List<DimensionProperties> rows) {
        Map<Integer, Tag> out = new HashMap<>();
        if (rows != null) {
            for (int i = 0; i < rows.size(); i++) {
                List<DeveloperMetadata> meta = rows.get(i).getDeveloperMetadata();
                if (meta != null) {
                    for (DeveloperMetadata m : meta) {
                        if (tagKey().equals(m.getMetadataKey()) && m.getMetadataId() != null) {
                            out.put(i, new Tag(m.getMetadataId(), String.valueOf(m.getMetadataValue())));
                        }
                    }
                }
            }
        }
        return out;
    }

    /**
     * Removes wrong tags and tags rows with their e-mail, in one request that answers with the match column as it is
     * after the change; every tag of ours is then checked against its row's cell. A tag on a row holding another
     * e-mail (rows moved since the read) is removed again, and the write-back fails so that it is tried afresh.
     */
    private void tag(ProducerTemplate template, Grid grid, Map<Integer, String> toTag, java.util.Set<Integer> toUntag,
                     int matchAt, String key) throws Exception {
        if (grid.sheetId() == null) {
            throw new NonRecoverableSyncException("Source " + sourceId + ": the write-back sheet's id is unknown");
        }
        List<Request> requests = new ArrayList<>();
        for (int row : toUntag) {
            requests.add(untag(grid.tags().get(row).id()));
        }
        for (Map.Entry<Integer, String> t : toTag.entrySet()) {
            int index = grid.startRow() + t.getKey();
            requests.add(new Request().setCreateDeveloperMetadata(new CreateDeveloperMetadataRequest().setDeveloperMetadata(
                    new DeveloperMetadata().setMetadataKey(key).setMetadataValue(t.getValue()).setVisibility("DOCUMENT")
                            .setLocation(new DeveloperMetadataLocation().setDimensionRange(new DimensionRange()
                                    .setSheetId(grid.sheetId()).setDimension("ROWS").setStartIndex(index).setEndIndex(index + 1))))));
        }
        String column = matchColumn(matchAt);
        BatchUpdateSpreadsheetResponse answer = call(template, "spreadsheets", "batchUpdate", Map.of("batchUpdateSpreadsheetRequest",
                new BatchUpdateSpreadsheetRequest().setRequests(requests).setIncludeSpreadsheetInResponse(true)
                        .setResponseIncludeGridData(true).setResponseRanges(List.of(column)))).getBody(BatchUpdateSpreadsheetResponse.class);
        List<Request> wrong = new ArrayList<>();
        Spreadsheet after = answer == null ? null : answer.getUpdatedSpreadsheet();
        if (after != null && after.getSheets() != null && !after.getSheets().isEmpty() && after.getSheets().get(0).getData() != null
                && !after.getSheets().get(0).getData().isEmpty()) {
            GridData data = after.getSheets().get(0).getData().get(0);
            List<List<Object>> emails = cells(data.getRowData());
            tags(data.getRowMetadata()).forEach((row, tag) -> {
                String email = row < emails.size() ? cell(emails.get(row), 0) : null;
                if (email == null || !SyncSource.fold(email).equals(tag.value())) {
                    wrong.add(untag(tag.id()));
                }
            });
        } else {
            throw new IllegalStateException("Source " + sourceId + ": the sheet did not answer with its rows after tagging them");
        }
        if (!wrong.isEmpty()) {
            call(template, "spreadsheets", "batchUpdate", Map.of("batchUpdateSpreadsheetRequest",
                    new BatchUpdateSpreadsheetRequest().setRequests(wrong)));
            throw new IllegalStateException("Source " + sourceId + ": rows of the write-back sheet moved while it was written ("
                    + wrong.size() + " row tag(s) landed on other rows and were removed); the write-back is tried again");
        }
    }

    private static Request untag(int metadataId) {
        return new Request().setDeleteDeveloperMetadata(new DeleteDeveloperMetadataRequest().setDataFilter(
                new DataFilter().setDeveloperMetadataLookup(new DeveloperMetadataLookup().setMetadataId(metadataId))));
    }

    /** The match column over the range's rows, in A1 form ({@code Leads!C1:C}). */
    private String matchColumn(int matchAt) {
        String letters = columnLetters(startColumn(range) + matchAt);
        String sheet = sheetName(range);
        return (sheet == null ? "" : sheet + "!") + letters + GoogleSheetsSource.startRow(range) + ":" + letters;
    }

    /** One values.batchUpdateByDataFilter: each row found by its tag, wherever it is now. Returns the rows written. */
    private int update(ProducerTemplate template, Map<String, List<Object>> changes, String key) throws Exception {
        List<DataFilterValueRange> data = new ArrayList<>();
        changes.forEach((folded, row) -> data.add(new DataFilterValueRange().setMajorDimension("ROWS").setValues(List.of(row))
                .setDataFilter(new DataFilter().setDeveloperMetadataLookup(new DeveloperMetadataLookup()
                        .setMetadataKey(key).setMetadataValue(folded).setLocationType("ROW")))));
        BatchUpdateValuesByDataFilterResponse answer = call(template, "data", "batchUpdateByDataFilter",
                Map.of("batchUpdateValuesByDataFilterRequest", new BatchUpdateValuesByDataFilterRequest()
                        .setValueInputOption("RAW").setData(data))).getBody(BatchUpdateValuesByDataFilterResponse.class);
        int rows = answer == null || answer.getTotalUpdatedRows() == null ? 0 : answer.getTotalUpdatedRows();
        if (rows < changes.size()) {
            LOG.warn("Sync {}: {} of {} lead row(s) to update were not found by their tag (deleted from the sheet meanwhile?)",
                    sourceId, changes.size() - rows, changes.size());
        }
        return rows;
    }

    private static String cell(List<Object> row, int col) {
        return row != null && col < row.size() ? GoogleSheetsSource.text(row.get(col)) : null;
    }

    private org.apache.camel.Message call(ProducerTemplate template, String api, String method, Map<String, Object> args) throws Exception {
        Exchange answer = template.request("google-sheets://" + api + "/" + method, e -> {
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
