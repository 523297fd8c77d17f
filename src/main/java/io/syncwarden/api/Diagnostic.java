package io.syncwarden.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.syncwarden.source.SourceLookup;
import io.syncwarden.source.SyncSource;
import io.syncwarden.store.TargetDatabase;
import io.syncwarden.sync.SourceRegistry;
import io.syncwarden.sync.TargetTable;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.time.temporal.TemporalAccessor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.apache.camel.CamelContext;
import org.apache.camel.ServiceStatus;

/**
 * GET /api/diagnostic: "is this record in sync?" The record is looked up by name or e-mail in every running
 * source's upstream (the sources' own lookup, {@link SourceLookup}) and in its target table, matched by the source's
 * key, and judged per record: {@code IN_SYNC}, {@code DIFFERENT} (with the differing fields, both values),
 * {@code MISSING_IN_TARGET} (the upstream has it, the sync lost or has not yet brought it) or
 * {@code MISSING_IN_SOURCE} (the target keeps what the upstream no longer has). An upstream that cannot be asked says
 * why, in plain words.
 */
public class Diagnostic {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int LIMIT = 100;
    /** Columns the sync adds itself: never a difference. */
    private static final List<String> OWN = List.of("synced_at", TargetTable.DELETED_AT, "sheet_row");

    private final CamelContext context;
    private final TargetDatabase db;
    private final Function<Throwable, String> describe;

    public Diagnostic(CamelContext context, TargetDatabase db, Function<Throwable, String> describe) {
        this.context = context;
        this.db = db;
        this.describe = describe;
    }

    ObjectNode look(String text) throws SQLException {
        if (text == null || text.isBlank() || text.length() > 320) {
            throw new ApiException(400, "give ?name= or ?email= (at most 320 characters)");
        }
        String wanted = text.strip();
        ObjectNode out = JSON.createObjectNode();
        out.put("query", wanted);
        ObjectNode sources = out.putObject("sources");
        SourceLookup lookup = context.getRegistry().lookupByNameAndType("sourceLookup", SourceLookup.class);
        SourceRegistry registry = context.getRegistry().findSingleByType(SourceRegistry.class);
        for (SourceRegistry.Source s : registry.sources()) {
            ServiceStatus status = context.getRouteController().getRouteStatus(s.id());
            SyncSource source = SyncSource.of(context, s.id());
            if (status == null || !status.isStarted() || source == null) {
                continue;
            }
            ObjectNode result = sources.putObject(s.id());
            List<Map<String, Object>> upstream = null;
            try {
                upstream = lookup.findIn(s.id(), wanted);
            } catch (Exception e) {
                result.put("upstreamError", "the upstream could not be asked: " + Api.plain(describe.apply(e)));
            }
            List<Map<String, Object>> target = target(source, wanted, upstream == null ? List.of() : upstream);
            result.set("records", judge(source.keys(), upstream, target));
        }
        return out;
    }

    /**
     * The target rows whose lookup columns hold the text (trimmed, case ignored) or whose key is one of the upstream
     * records' (a record whose name changed upstream is still found), at most {@value #LIMIT}.
     */
    private List<Map<String, Object>> target(SyncSource source, String wanted, List<Map<String, Object>> upstream) throws SQLException {
        List<Map<String, Object>> out = new ArrayList<>();
        String table = source.target();
        if (table == null || table.isBlank()) {
            return out;
        }
        try (Connection c = db.dataSource().getConnection()) {
            TargetTable tt = TargetTable.existing(c, db, table);
            if (tt == null) {
                return out;
            }
            List<String> lookupColumns = tt.columnNames().stream().filter(source::isLookupColumn).toList();
            List<String> keys = source.keys().stream().filter(tt.columnNames()::contains).toList();
            List<String> where = new ArrayList<>();
            List<String> params = new ArrayList<>();
            for (String col : lookupColumns) {
                where.add("LOWER(TRIM(CAST(" + tt.quoted(col) + " AS VARCHAR(4000)))) = ?");
                params.add(wanted.replaceAll("\\s+", " ").toLowerCase(Locale.ROOT));
            }
            if (keys.size() == source.keys().size()) {
                for (Map<String, Object> record : upstream) {
                    List<String> parts = new ArrayList<>();
                    for (String k : keys) {
                        parts.add("TRIM(CAST(" + tt.quoted(k) + " AS VARCHAR(4000))) = ?");
                        params.add(norm(record.get(k)));
                    }
                    where.add("(" + String.join(" AND ", parts) + ")");
                }
            }
            if (where.isEmpty()) {
                return out;
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT * FROM " + tt.qualified() + " WHERE " + String.join(" OR ", where)
                    + " FETCH FIRST " + LIMIT + " ROWS ONLY")) {
                for (int i = 0; i < params.size(); i++) {
                    ps.setString(i + 1, params.get(i));
                }
                ps.setQueryTimeout(30);
                try (ResultSet rs = ps.executeQuery()) {
                    ResultSetMetaData md = rs.getMetaData();
                    while (rs.next()) {
                        Map<String, Object> row = new LinkedHashMap<>();
                        for (int i = 1; i <= md.getColumnCount(); i++) {
                            row.put(md.getColumnLabel(i).toLowerCase(Locale.ROOT), rs.getObject(i));
                        }
                        out.add(row);
                    }
                }
            }
        }
        return out;
    }

    /** Pairs upstream records and target rows by key and judges each pair. */
    static ArrayNode judge(List<String> keys, List<Map<String, Object>> upstream, List<Map<String, Object>> target) {
        ArrayNode out = JSON.createArrayNode();
        Map<String, Map<String, Object>> byKey = new LinkedHashMap<>();
        for (Map<String, Object> row : target) {
            byKey.put(key(keys, row), row);
        }
        if (upstream != null) {
            for (Map<String, Object> record : upstream) {
                String key = key(keys, record);
                Map<String, Object> row = byKey.remove(key);
                ObjectNode r = out.addObject();
                r.put("key", key);
                if (row == null) {
                    r.put("status", "MISSING_IN_TARGET");
                    continue;
                }
                ObjectNode differences = JSON.createObjectNode();
                for (Map.Entry<String, Object> field : record.entrySet()) {
                    String col = field.getKey();
                    if (OWN.contains(col) || !row.containsKey(col) || same(field.getValue(), row.get(col))) {
                        continue;
                    }
                    differences.putObject(col).put("upstream", text(field.getValue())).put("target", text(row.get(col)));
                }
                boolean deleted = row.get(TargetTable.DELETED_AT) != null;
                r.put("status", differences.isEmpty() && !deleted ? "IN_SYNC" : "DIFFERENT");
                if (deleted) {
                    differences.putObject(TargetTable.DELETED_AT).put("upstream", (String) null).put("target", text(row.get(TargetTable.DELETED_AT)));
                }
                if (!differences.isEmpty()) {
                    r.set("differences", differences);
                }
            }
        }
        for (Map.Entry<String, Map<String, Object>> left : byKey.entrySet()) {
            ObjectNode r = out.addObject();
            r.put("key", left.getKey());
            // an upstream that could not be asked proves nothing missing
            r.put("status", upstream == null ? "UNKNOWN" : "MISSING_IN_SOURCE");
        }
        return out;
    }

    private static String key(List<String> keys, Map<String, Object> row) {
        List<String> parts = new ArrayList<>();
        for (String k : keys) {
            parts.add(norm(row.get(k)));
        }
        return String.join("|", parts);
    }

    /** The same value as the upstream gives it and as the target keeps it: numbers by value, times by their text. */
    static boolean same(Object upstream, Object target) {
        String a = norm(upstream);
        String b = norm(target);
        if (a.equals(b)) {
            return true;
        }
        try {
            return new BigDecimal(a).compareTo(new BigDecimal(b)) == 0;
        } catch (NumberFormatException e) {
            // not two numbers
        }
        if (target instanceof TemporalAccessor || target instanceof java.util.Date) {
            String t = b.replace('T', ' ').replaceAll("(\\.0+)?(Z|[+-]00(:00)?)?$", "");
            String u = a.replace('T', ' ').replaceAll("(\\.0+)?(Z|[+-]00(:00)?)?$", "");
            return t.equals(u) || t.startsWith(u) && t.substring(u.length()).matches(":00(\\.0+)?");
        }
        return false;
    }

    private static String norm(Object value) {
        if (value == null) {
            return "";
        }
        if (value instanceof java.sql.Timestamp ts) {
            return ts.toLocalDateTime().toString();
        }
        return String.valueOf(value).strip();
    }

    private static String text(Object value) {
        return value == null ? null : norm(value);
    }
}
