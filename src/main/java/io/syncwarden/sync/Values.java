package io.syncwarden.sync;

import java.math.BigDecimal;
import java.sql.JDBCType;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.util.Locale;
import java.util.UUID;

/** Text from an upstream turned into the target column's type, so a bad value is one rejected row, not a failed batch. */
public final class Values {
    private Values() {
    }

    /** True for columns that take text as it is (character types, and types the database parses itself). */
    static boolean isText(int jdbcType, String typeName) {
        if (typeName != null && typeName.equalsIgnoreCase("uuid")) {
            return false;
        }
        return switch (jdbcType) {
            case Types.CHAR, Types.VARCHAR, Types.NCHAR, Types.NVARCHAR, Types.LONGVARCHAR, Types.LONGNVARCHAR,
                 Types.CLOB, Types.NCLOB, Types.OTHER, Types.JAVA_OBJECT -> true;
            default -> false;
        };
    }

    static boolean isText(int jdbcType) {
        return isText(jdbcType, null);
    }

    static String typeName(int jdbcType) {
        try {
            return JDBCType.valueOf(jdbcType).getName();
        } catch (IllegalArgumentException e) {
            return "type " + jdbcType;
        }
    }

    public static Object coerce(String text, int jdbcType) {
        return coerce(text, jdbcType, null);
    }

    /** Parses text for a non-text column; blank is NULL. Throws on text that is not a value of that type. */
    public static Object coerce(String text, int jdbcType, String typeName) {
        String t = text.trim();
        if (t.isEmpty()) {
            return null;
        }
        if (typeName != null && typeName.equalsIgnoreCase("uuid")) {
            return UUID.fromString(t);
        }
        return switch (jdbcType) {
            case Types.TINYINT, Types.SMALLINT, Types.INTEGER -> Integer.valueOf(t);
            case Types.BIGINT -> Long.valueOf(t);
            case Types.NUMERIC, Types.DECIMAL -> new BigDecimal(t);
            case Types.REAL -> Float.valueOf(t);
            case Types.FLOAT, Types.DOUBLE -> Double.valueOf(t);
            case Types.BOOLEAN, Types.BIT -> bool(t);
            case Types.DATE -> LocalDate.parse(t);
            case Types.TIME -> typeName != null && typeName.toLowerCase(Locale.ROOT).contains("tz")
                    ? OffsetTime.parse(t) : LocalTime.parse(t);
            case Types.TIME_WITH_TIMEZONE -> OffsetTime.parse(t);
            case Types.TIMESTAMP -> typeName != null && typeName.equalsIgnoreCase("timestamptz")
                    ? instant(t) : localDateTime(t);
            case Types.TIMESTAMP_WITH_TIMEZONE -> instant(t);
            default -> text;
        };
    }

    /**
     * {@code yyyy-MM-dd HH:mm[:ss[.fffffffff]]} (space or {@code T}) read without a formatter: report and sheet columns
     * hold millions of them; anything else goes to the ISO parser (and its error message).
     */
    static LocalDateTime localDateTime(String t) {
        int n = t.length();
        if (n >= 16 && n <= 29 && t.charAt(4) == '-' && t.charAt(7) == '-' && (t.charAt(10) == ' ' || t.charAt(10) == 'T')
                && t.charAt(13) == ':') {
            try {
                int year = digits(t, 0, 4);
                int month = digits(t, 5, 7);
                int day = digits(t, 8, 10);
                int hour = digits(t, 11, 13);
                int minute = digits(t, 14, 16);
                int second = 0;
                int nanos = 0;
                if (n > 16) {
                    if (t.charAt(16) != ':' || n < 19) {
                        throw new NumberFormatException();
                    }
                    second = digits(t, 17, 19);
                    if (n > 19) {
                        if (t.charAt(19) != '.' || n == 20) {
                            throw new NumberFormatException();
                        }
                        nanos = digits(t, 20, n);
                        for (int i = n - 20; i < 9; i++) {
                            nanos *= 10;
                        }
                    }
                }
                return LocalDateTime.of(year, month, day, hour, minute, second, nanos);
            } catch (NumberFormatException | java.time.DateTimeException e) {
                // not this shape: the ISO parser below says what is wrong
            }
        }
        return LocalDateTime.parse(t.replace(' ', 'T'));
    }

    private static int digits(String t, int from, int to) {
        int v = 0;
        for (int i = from; i < to; i++) {
            char ch = t.charAt(i);
            if (ch < '0' || ch > '9') {
                throw new NumberFormatException();
            }
            v = v * 10 + (ch - '0');
        }
        return v;
    }

    /** A time with an offset; without one it is read as UTC (upstreams that drop the offset send UTC). */
    private static OffsetDateTime instant(String t) {
        String iso = t.replace(' ', 'T');
        try {
            return OffsetDateTime.parse(iso);
        } catch (java.time.format.DateTimeParseException e) {
            return LocalDateTime.parse(iso).atOffset(java.time.ZoneOffset.UTC);
        }
    }

    private static Boolean bool(String t) {
        return switch (t.toLowerCase(Locale.ROOT)) {
            case "true", "t", "yes", "y", "1" -> Boolean.TRUE;
            case "false", "f", "no", "n", "0" -> Boolean.FALSE;
            default -> throw new IllegalArgumentException("not a boolean: " + t);
        };
    }
}
