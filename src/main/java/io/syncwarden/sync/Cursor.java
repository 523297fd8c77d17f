package io.syncwarden.sync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.sql.Date;
import java.sql.Time;
import java.sql.Timestamp;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;

/**
 * A checkpoint position: the values of the ordering columns of the last committed row, kept with their types so they
 * bind back as the same SQL type on the next read (a UUID as a UUID, a timestamp with its nanoseconds and zone).
 */
public final class Cursor {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Cursor() {
    }

    public static String encode(Object[] values) {
        return toJson(values).toString();
    }

    static ArrayNode toJson(Object[] values) {
        ArrayNode array = JSON.createArrayNode();
        for (Object v : values) {
            array.add(value(v));
        }
        return array;
    }

    /** One value with its type: {@code {"t": "ts", "v": "2026-03-01T09:00:00.123456789"}}. */
    public static ObjectNode value(Object v) {
        ObjectNode node = JSON.createObjectNode();
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
        } else if (v instanceof Time t) {
            node.put("t", "time").put("v", t.toLocalTime().toString());
        } else if (v instanceof LocalTime t) {
            node.put("t", "time").put("v", t.toString());
        } else if (v instanceof OffsetTime t) {
            node.put("t", "timetz").put("v", t.toString());
        } else if (v instanceof UUID u) {
            node.put("t", "uuid").put("v", u.toString());
        } else if (v instanceof Boolean b) {
            node.put("t", "bool").put("v", b);
        } else if (v instanceof byte[] b) {
            node.put("t", "bin").put("v", HexFormat.of().formatHex(b));
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            node.put("t", "long").put("v", ((Number) v).longValue());
        } else if (v instanceof BigDecimal bd) {
            node.put("t", "dec").put("v", bd.toPlainString());
        } else if (v instanceof Number n) {
            node.put("t", "double").put("v", n.doubleValue());
        } else {
            node.put("t", "str").put("v", v.toString());
        }
        return node;
    }

    public static Object[] decode(String text) {
        try {
            return fromJson(JSON.readTree(text));
        } catch (Exception e) {
            throw new IllegalStateException("Unreadable checkpoint cursor " + text + ": " + e.getMessage(), e);
        }
    }

    static Object[] fromJson(JsonNode array) {
        List<Object> out = new ArrayList<>();
        for (JsonNode node : array) {
            out.add(value(node));
        }
        return out.toArray();
    }

    public static Object value(JsonNode node) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            return null;
        }
        String v = node.path("v").asText();
        return switch (node.path("t").asText()) {
            case "null" -> null;
            case "ts" -> LocalDateTime.parse(v);
            case "tstz" -> OffsetDateTime.parse(v);
            case "date" -> LocalDate.parse(v);
            case "time" -> LocalTime.parse(v);
            case "timetz" -> OffsetTime.parse(v);
            case "uuid" -> UUID.fromString(v);
            case "bool" -> node.path("v").asBoolean();
            case "bin" -> HexFormat.of().parseHex(v);
            case "long" -> node.path("v").asLong();
            case "dec" -> new BigDecimal(v);
            case "double" -> node.path("v").asDouble();
            case "str" -> v;
            default -> throw new IllegalArgumentException("unknown cursor value type '" + node.path("t").asText() + "'");
        };
    }
}
