package io.syncwarden.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;
import java.util.stream.Collectors;

/** The SQL differences between the target databases Syncwarden supports. */
public enum Dialect {
    H2, POSTGRESQL;

    public static Dialect of(Connection c) throws SQLException {
        String product = c.getMetaData().getDatabaseProductName().toLowerCase();
        if (product.contains("h2")) {
            return H2;
        }
        if (product.contains("postgres")) {
            return POSTGRESQL;
        }
        throw new IllegalStateException("Unsupported target database '" + product + "': use H2 or PostgreSQL");
    }

    /**
     * One-row upsert that writes nothing when the stored row already equals the new one, so the update
     * count tells changed (1) from unchanged (0). {@code sqlTypes} are the target column type names (H2 casts).
     */
    public String upsertSql(String table, List<String> columns, List<String> keys, List<String> sqlTypes, String syncedAtColumn) {
        List<String> values = columns.stream().filter(c -> !keys.contains(c)).toList();
        String cols = String.join(", ", columns);
        if (this == POSTGRESQL) {
            String params = columns.stream().map(c -> "?").collect(Collectors.joining(", "));
            StringBuilder sql = new StringBuilder("INSERT INTO ").append(table).append(" (").append(cols)
                    .append(syncedAtColumn != null ? ", " + syncedAtColumn : "").append(") VALUES (").append(params)
                    .append(syncedAtColumn != null ? ", CURRENT_TIMESTAMP" : "").append(") ON CONFLICT (")
                    .append(String.join(", ", keys)).append(") DO ");
            if (values.isEmpty()) {
                return sql.append("NOTHING").toString();
            }
            sql.append("UPDATE SET ").append(values.stream().map(c -> c + " = EXCLUDED." + c).collect(Collectors.joining(", ")));
            if (syncedAtColumn != null) {
                sql.append(", ").append(syncedAtColumn).append(" = CURRENT_TIMESTAMP");
            }
            sql.append(" WHERE (").append(values.stream().map(c -> table + "." + c).collect(Collectors.joining(", ")))
                    .append(") IS DISTINCT FROM (").append(values.stream().map(c -> "EXCLUDED." + c).collect(Collectors.joining(", ")))
                    .append(")");
            // a one-column row constructor needs ROW() to stay a row
            if (values.size() == 1) {
                return sql.toString().replace("WHERE (" + table + "." + values.get(0) + ") IS DISTINCT FROM (EXCLUDED." + values.get(0) + ")",
                        "WHERE " + table + "." + values.get(0) + " IS DISTINCT FROM EXCLUDED." + values.get(0));
            }
            return sql.toString();
        }
        StringBuilder src = new StringBuilder();
        for (int i = 0; i < columns.size(); i++) {
            src.append(i == 0 ? "" : ", ").append("CAST(? AS ").append(sqlTypes.get(i)).append(")");
        }
        StringBuilder sql = new StringBuilder("MERGE INTO ").append(table).append(" T USING (VALUES (").append(src)
                .append(")) S(").append(cols).append(") ON ")
                .append(keys.stream().map(k -> "T." + k + " = S." + k).collect(Collectors.joining(" AND ")));
        if (!values.isEmpty()) {
            sql.append(" WHEN MATCHED AND (").append(values.stream().map(c -> "T." + c + " IS DISTINCT FROM S." + c)
                    .collect(Collectors.joining(" OR "))).append(") THEN UPDATE SET ")
                    .append(values.stream().map(c -> c + " = S." + c).collect(Collectors.joining(", ")));
            if (syncedAtColumn != null) {
                sql.append(", ").append(syncedAtColumn).append(" = CURRENT_TIMESTAMP");
            }
        }
        sql.append(" WHEN NOT MATCHED THEN INSERT (").append(cols).append(syncedAtColumn != null ? ", " + syncedAtColumn : "")
                .append(") VALUES (").append(columns.stream().map(c -> "S." + c).collect(Collectors.joining(", ")))
                .append(syncedAtColumn != null ? ", CURRENT_TIMESTAMP" : "").append(")");
        return sql.toString();
    }

    /** Column type for a table Syncwarden creates, from the JDBC type of the source column. */
    public String columnType(int jdbcType, int precision, int scale) {
        boolean pg = this == POSTGRESQL;
        switch (jdbcType) {
            case Types.CHAR, Types.NCHAR, Types.VARCHAR, Types.NVARCHAR, Types.LONGVARCHAR, Types.LONGNVARCHAR:
                return precision > 0 && precision <= 10_000 ? "VARCHAR(" + precision + ")" : pg ? "TEXT" : "VARCHAR";
            case Types.CLOB, Types.NCLOB:
                return pg ? "TEXT" : "CLOB";
            case Types.TINYINT, Types.SMALLINT, Types.INTEGER:
                return "INTEGER";
            case Types.BIGINT:
                return "BIGINT";
            case Types.NUMERIC, Types.DECIMAL:
                return precision > 0 && precision <= 1000 ? "NUMERIC(" + precision + ", " + Math.max(scale, 0) + ")" : "NUMERIC";
            case Types.REAL, Types.FLOAT, Types.DOUBLE:
                return "DOUBLE PRECISION";
            case Types.BOOLEAN, Types.BIT:
                return "BOOLEAN";
            case Types.DATE:
                return "DATE";
            case Types.TIME:
                return "TIME";
            case Types.TIMESTAMP:
                return "TIMESTAMP";
            case Types.TIMESTAMP_WITH_TIMEZONE:
                return "TIMESTAMP WITH TIME ZONE";
            case Types.BINARY, Types.VARBINARY, Types.LONGVARBINARY, Types.BLOB:
                return pg ? "BYTEA" : "VARBINARY";
            default:
                return pg ? "TEXT" : "VARCHAR";
        }
    }

    /** Identifier case the database folds unquoted names to, for metadata look-ups. */
    public String metadataName(String name) {
        return this == H2 ? name.toUpperCase() : name.toLowerCase();
    }
}
