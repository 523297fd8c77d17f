package io.syncwarden.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/** The SQL differences between the target databases Syncwarden supports. */
public enum Dialect {
    H2, POSTGRESQL;

    /** PostgreSQL stores a timestamp with at most microseconds. */
    private static final int PG_MAX_FRACTION = 6;

    public static Dialect of(Connection c) throws SQLException {
        String product = c.getMetaData().getDatabaseProductName().toLowerCase(Locale.ROOT);
        if (product.contains("h2")) {
            return H2;
        }
        if (product.contains("postgres")) {
            return POSTGRESQL;
        }
        throw new IllegalStateException("Unsupported target database '" + product + "': use H2 or PostgreSQL");
    }

    public static Dialect ofUrl(String url) {
        if (url.startsWith("jdbc:h2:")) {
            return H2;
        }
        if (url.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        throw new IllegalArgumentException("Unsupported target database URL '" + TargetDatabase.masked(url)
                + "': use jdbc:h2:... or jdbc:postgresql:...");
    }

    /** A plain name as this database stores it unquoted (H2 upper case, PostgreSQL lower case). */
    public String fold(String name) {
        return this == H2 ? name.toUpperCase(Locale.ROOT) : name.toLowerCase(Locale.ROOT);
    }

    /**
     * One upsert per row that writes nothing when the stored row already equals the new one, so a row's update count
     * tells written (1) from unchanged (0). Names are quoted as stored; {@code castTypes} are the target columns' exact
     * types (H2's MERGE source has no column types of its own, so its parameters are cast to them).
     */
    public String upsertSql(String table, List<String> columns, List<String> keys, List<String> castTypes, String syncedAtColumn) {
        List<String> values = columns.stream().filter(c -> !keys.contains(c)).toList();
        String cols = columns.stream().map(Identifiers::quote).collect(Collectors.joining(", "));
        String synced = syncedAtColumn == null ? null : Identifiers.quote(syncedAtColumn);
        if (this == POSTGRESQL) {
            String params = columns.stream().map(c -> "?").collect(Collectors.joining(", "));
            StringBuilder sql = new StringBuilder("INSERT INTO ").append(table).append(" AS t (").append(cols)
                    .append(synced != null ? ", " + synced : "").append(") VALUES (").append(params)
                    .append(synced != null ? ", CURRENT_TIMESTAMP" : "").append(") ON CONFLICT (")
                    .append(keys.stream().map(Identifiers::quote).collect(Collectors.joining(", "))).append(") DO ");
            if (values.isEmpty()) {
                return sql.append("NOTHING").toString();
            }
            sql.append("UPDATE SET ").append(values.stream().map(c -> Identifiers.quote(c) + " = EXCLUDED." + Identifiers.quote(c))
                    .collect(Collectors.joining(", ")));
            if (synced != null) {
                sql.append(", ").append(synced).append(" = CURRENT_TIMESTAMP");
            }
            String mine = values.stream().map(c -> "t." + Identifiers.quote(c)).collect(Collectors.joining(", "));
            String theirs = values.stream().map(c -> "EXCLUDED." + Identifiers.quote(c)).collect(Collectors.joining(", "));
            // a one-column row constructor needs no parentheses (and with them is not a row)
            return values.size() == 1 ? sql.append(" WHERE ").append(mine).append(" IS DISTINCT FROM ").append(theirs).toString()
                    : sql.append(" WHERE (").append(mine).append(") IS DISTINCT FROM (").append(theirs).append(")").toString();
        }
        StringBuilder src = new StringBuilder();
        for (int i = 0; i < columns.size(); i++) {
            String type = castTypes.get(i);
            src.append(i == 0 ? "" : ", ").append(type == null ? "?" : "CAST(? AS " + type + ")");
        }
        StringBuilder sql = new StringBuilder("MERGE INTO ").append(table).append(" T USING (VALUES (").append(src)
                .append(")) S(").append(cols).append(") ON ")
                .append(keys.stream().map(k -> "T." + Identifiers.quote(k) + " = S." + Identifiers.quote(k)).collect(Collectors.joining(" AND ")));
        if (!values.isEmpty()) {
            sql.append(" WHEN MATCHED AND (").append(values.stream().map(c -> "T." + Identifiers.quote(c) + " IS DISTINCT FROM S." + Identifiers.quote(c))
                    .collect(Collectors.joining(" OR "))).append(") THEN UPDATE SET ")
                    .append(values.stream().map(c -> Identifiers.quote(c) + " = S." + Identifiers.quote(c)).collect(Collectors.joining(", ")));
            if (synced != null) {
                sql.append(", ").append(synced).append(" = CURRENT_TIMESTAMP");
            }
        }
        sql.append(" WHEN NOT MATCHED THEN INSERT (").append(cols).append(synced != null ? ", " + synced : "")
                .append(") VALUES (").append(columns.stream().map(c -> "S." + Identifiers.quote(c)).collect(Collectors.joining(", ")))
                .append(synced != null ? ", CURRENT_TIMESTAMP" : "").append(")");
        return sql.toString();
    }

    /**
     * Column type for a table Syncwarden creates, from what the source reported of the column (JDBC type, the
     * database's own type name, precision and scale), keeping lengths, precisions, fractional seconds and time zones
     * so values survive the copy exactly.
     */
    public String columnType(int jdbcType, String typeName, int precision, int scale) {
        boolean pg = this == POSTGRESQL;
        String name = typeName == null ? "" : typeName.toLowerCase(Locale.ROOT);
        switch (name) {
            case "timestamptz", "timestamp with time zone":
                return timestamp("TIMESTAMP", scale) + " WITH TIME ZONE";
            case "timetz", "time with time zone":
                return timestamp("TIME", scale) + " WITH TIME ZONE";
            case "uuid":
                return "UUID";
            case "json", "jsonb":
                return pg ? "JSONB" : "JSON";
            default:
                break;
        }
        switch (jdbcType) {
            case Types.CHAR, Types.NCHAR:
                return precision > 0 && precision <= 10_000 ? "CHAR(" + precision + ")" : pg ? "TEXT" : "VARCHAR";
            case Types.VARCHAR, Types.NVARCHAR, Types.LONGVARCHAR, Types.LONGNVARCHAR:
                return precision > 0 && precision <= 10_000 ? "VARCHAR(" + precision + ")" : pg ? "TEXT" : "VARCHAR";
            case Types.CLOB, Types.NCLOB:
                return pg ? "TEXT" : "CLOB";
            case Types.TINYINT, Types.SMALLINT:
                return "SMALLINT";
            case Types.INTEGER:
                return "INTEGER";
            case Types.BIGINT:
                return "BIGINT";
            case Types.NUMERIC, Types.DECIMAL:
                return precision > 0 && precision <= 1000 ? "NUMERIC(" + precision + ", " + Math.max(scale, 0) + ")" : "NUMERIC";
            case Types.REAL:
                return "REAL";
            case Types.FLOAT, Types.DOUBLE:
                return "DOUBLE PRECISION";
            case Types.BOOLEAN, Types.BIT:
                return "BOOLEAN";
            case Types.DATE:
                return "DATE";
            case Types.TIME:
                return timestamp("TIME", scale);
            case Types.TIME_WITH_TIMEZONE:
                return timestamp("TIME", scale) + " WITH TIME ZONE";
            case Types.TIMESTAMP:
                return timestamp("TIMESTAMP", scale);
            case Types.TIMESTAMP_WITH_TIMEZONE:
                return timestamp("TIMESTAMP", scale) + " WITH TIME ZONE";
            case Types.BINARY, Types.VARBINARY, Types.LONGVARBINARY, Types.BLOB:
                return pg ? "BYTEA" : "VARBINARY";
            default:
                return pg ? "TEXT" : "VARCHAR";
        }
    }

    private String timestamp(String base, int fraction) {
        int digits = this == POSTGRESQL ? Math.min(fraction, PG_MAX_FRACTION) : fraction;
        return digits >= 0 && digits <= 9 ? base + "(" + digits + ")" : base;
    }

    /** Identifier case the database folds unquoted names to, for metadata look-ups. */
    public String metadataName(String name) {
        return fold(name);
    }
}
