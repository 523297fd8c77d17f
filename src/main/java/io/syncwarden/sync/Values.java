package io.syncwarden.sync;

import java.math.BigDecimal;
import java.sql.JDBCType;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.util.Locale;

/** Text from an upstream turned into the target column's type, so a bad value is one rejected row, not a failed batch. */
public final class Values {
    private Values() {
    }

    static boolean isText(int jdbcType) {
        return switch (jdbcType) {
            case Types.CHAR, Types.VARCHAR, Types.NCHAR, Types.NVARCHAR, Types.LONGVARCHAR, Types.LONGNVARCHAR,
                 Types.CLOB, Types.NCLOB, Types.OTHER, Types.JAVA_OBJECT -> true;
            default -> false;
        };
    }

    static String typeName(int jdbcType) {
        try {
            return JDBCType.valueOf(jdbcType).getName();
        } catch (IllegalArgumentException e) {
            return "type " + jdbcType;
        }
    }

    /** Parses text for a non-text column; blank is NULL. Throws on text that is not a value of that type. */
    public static Object coerce(String text, int jdbcType) {
        String t = text.trim();
        if (t.isEmpty()) {
            return null;
        }
        return switch (jdbcType) {
            case Types.TINYINT, Types.SMALLINT, Types.INTEGER -> Integer.valueOf(t);
            case Types.BIGINT -> Long.valueOf(t);
            case Types.NUMERIC, Types.DECIMAL -> new BigDecimal(t);
            case Types.REAL, Types.FLOAT, Types.DOUBLE -> Double.valueOf(t);
            case Types.BOOLEAN, Types.BIT -> bool(t);
            case Types.DATE -> LocalDate.parse(t);
            case Types.TIMESTAMP -> LocalDateTime.parse(t.replace(' ', 'T'));
            case Types.TIMESTAMP_WITH_TIMEZONE -> OffsetDateTime.parse(t.replace(' ', 'T'));
            default -> text;
        };
    }

    private static Boolean bool(String t) {
        return switch (t.toLowerCase(Locale.ROOT)) {
            case "true", "t", "yes", "y", "1" -> Boolean.TRUE;
            case "false", "f", "no", "n", "0" -> Boolean.FALSE;
            default -> throw new IllegalArgumentException("not a boolean: " + t);
        };
    }
}
