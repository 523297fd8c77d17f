package io.syncwarden.sync;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.sql.Date;
import java.sql.Timestamp;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * A checkpoint position: the values of the ordering columns of the last committed row, kept with their
 * types so they bind back as the same SQL type on the next read.
 */
public final class Cursor {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Cursor() {
    }

    public static String encode(Object[] values) {
        ArrayNode array = JSON.createArrayNode();
        for (Object v : values) {
            ObjectNode node = array.addObject();
            if (v == null) {
                node.put("t", "null");
            } else if (v instanceof Timestamp ts) {
                node.put("t", "ts").put("v", ts.toLocalDateTime().toString());
            } else if (v instanceof LocalDateTime ldt) {
                node.put("t", "ts").put("v", ldt.toString());
            } else if (v instanceof OffsetDateTime odt) {
                node.put("t", "tstz").put("v", odt.toString());
            } else if (v instanceof Date d) {
                node.put("t", "date").put("v", d.toLocalDate().toString());
            } else if (v instanceof LocalDate d) {
                node.put("t", "date").put("v", d.toString());
            } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
                node.put("t", "long").put("v", ((Number) v).longValue());
            } else if (v instanceof BigDecimal bd) {
                node.put("t", "dec").put("v", bd.toPlainString());
            } else if (v instanceof Number n) {
                node.put("t", "double").put("v", n.doubleValue());
            } else {
                node.put("t", "str").put("v", v.toString());
            }
        }
        return array.toString();
    }

    public static Object[] decode(String text) {
        try {
            List<Object> out = new ArrayList<>();
            for (var node : JSON.readTree(text)) {
                String v = node.path("v").asText();
                out.add(switch (node.path("t").asText()) {
                    case "null" -> null;
                    case "ts" -> Timestamp.valueOf(LocalDateTime.parse(v));
                    case "tstz" -> OffsetDateTime.parse(v);
                    case "date" -> Date.valueOf(LocalDate.parse(v));
                    case "long" -> node.path("v").asLong();
                    case "dec" -> new BigDecimal(v);
                    case "double" -> node.path("v").asDouble();
                    default -> v;
                });
            }
            return out.toArray();
        } catch (Exception e) {
            throw new IllegalStateException("Unreadable checkpoint cursor " + text + ": " + e.getMessage(), e);
        }
    }
}
