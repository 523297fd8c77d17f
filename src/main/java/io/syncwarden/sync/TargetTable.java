package io.syncwarden.sync;

import io.syncwarden.store.Dialect;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/** What the writer needs to know of a target table: its columns, their types, lengths and nullability. */
public final class TargetTable {
    public static final String SYNCED_AT = "synced_at";
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");

    /** A column the reader offers: name and the JDBC type/precision/scale the upstream reported. */
    public record Column(String name, int jdbcType, int precision, int scale) {
    }

    record Meta(String name, String sqlType, int jdbcType, int maxLength, boolean nullable) {
    }

    final String name;
    final Map<String, Meta> columns;

    private TargetTable(String name, Map<String, Meta> columns) {
        this.name = name;
        this.columns = columns;
    }

    public static String identifier(String what, String name) {
        if (name == null || !IDENTIFIER.matcher(name).matches()) {
            throw new NonRecoverableSyncException(what + " '" + name + "' is not a plain SQL identifier (letters, digits, _)");
        }
        return name.toLowerCase(Locale.ROOT);
    }

    /** Loads the table, creating it first (with its key as primary key and a synced_at column) when it does not exist. */
    public static TargetTable ensure(Connection c, Dialect dialect, String table, List<Column> offered, List<String> keys)
            throws SQLException {
        return ensure(c, dialect, table, offered, keys, Map.of());
    }

    /** As above, with explicit SQL types (by column) for the table when it is created. */
    public static TargetTable ensure(Connection c, Dialect dialect, String table, List<Column> offered, List<String> keys,
                                     Map<String, String> explicitTypes) throws SQLException {
        String name = identifier("Target table", table);
        Map<String, Meta> meta = load(c, dialect, name);
        if (meta.isEmpty()) {
            StringBuilder ddl = new StringBuilder("CREATE TABLE ").append(name).append(" (");
            for (Column col : offered) {
                ddl.append(identifier("Column", col.name())).append(' ')
                        .append(explicitTypes.containsKey(col.name()) ? explicitTypes.get(col.name())
                                : dialect.columnType(col.jdbcType(), col.precision(), col.scale()));
                if (keys.contains(col.name())) {
                    ddl.append(" NOT NULL");
                }
                ddl.append(", ");
            }
            ddl.append(SYNCED_AT).append(" TIMESTAMP, PRIMARY KEY (").append(String.join(", ", keys)).append("))");
            try (Statement s = c.createStatement()) {
                s.execute(ddl.toString());
            }
            c.commit();
            meta = load(c, dialect, name);
        }
        List<String> missing = new ArrayList<>();
        for (Column col : offered) {
            if (!meta.containsKey(col.name())) {
                missing.add(col.name());
            }
        }
        if (!missing.isEmpty()) {
            throw new NonRecoverableSyncException("Target table " + name + " has no column(s) " + missing
                    + " that the source delivers (it has " + meta.keySet() + "); add them or map the source columns");
        }
        return new TargetTable(name, meta);
    }

    private static Map<String, Meta> load(Connection c, Dialect dialect, String name) throws SQLException {
        Map<String, Meta> out = new LinkedHashMap<>();
        DatabaseMetaData md = c.getMetaData();
        try (ResultSet rs = md.getColumns(null, c.getSchema(), dialect.metadataName(name), null)) {
            while (rs.next()) {
                String col = rs.getString("COLUMN_NAME").toLowerCase(Locale.ROOT);
                int type = rs.getInt("DATA_TYPE");
                String typeName = rs.getString("TYPE_NAME");
                int size = rs.getInt("COLUMN_SIZE");
                int digits = rs.getInt("DECIMAL_DIGITS");
                boolean text = type == Types.VARCHAR || type == Types.CHAR || type == Types.NVARCHAR || type == Types.NCHAR;
                String sqlType = (type == Types.NUMERIC || type == Types.DECIMAL) && size > 0
                        ? typeName + "(" + size + ", " + digits + ")" : typeName;
                int maxLength = text && size > 0 && size < 1_000_000_000 ? size : -1;
                boolean nullable = rs.getInt("NULLABLE") != DatabaseMetaData.columnNoNulls;
                out.put(col, new Meta(col, sqlType, type, maxLength, nullable));
            }
        }
        return out;
    }

    public boolean hasSyncedAt() {
        return columns.containsKey(SYNCED_AT);
    }
}
