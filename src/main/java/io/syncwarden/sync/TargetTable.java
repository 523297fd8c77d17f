package io.syncwarden.sync;

import io.syncwarden.store.Dialect;
import io.syncwarden.store.Identifiers;
import io.syncwarden.store.TargetDatabase;
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

/**
 * What the writer needs to know of a target table: its name as stored, its columns with their exact types (for
 * casts), lengths and nullability. Columns are known by their lower-case names; SQL uses the names as stored, quoted.
 */
public final class TargetTable {
    public static final String SYNCED_AT = "synced_at";
    /** Set when a complete full read no longer has the row (deletions {@code mark}); cleared when it comes back. */
    public static final String DELETED_AT = "deleted_at";

    /**
     * SQL types accepted in {@code columnTypes}: a type name with an optional length or precision and scale, and
     * optional time zone. Anything else (a second statement, a default, a constraint) is refused before it reaches DDL.
     */
    private static final Pattern TYPE = Pattern.compile("(?i)(SMALLINT|INTEGER|INT|BIGINT|REAL|DOUBLE PRECISION|FLOAT"
            + "|NUMERIC|DECIMAL|BOOLEAN|DATE|TEXT|CLOB|UUID|JSON|JSONB|BYTEA|VARBINARY"
            + "|CHAR|CHARACTER|VARCHAR|CHARACTER VARYING|TIME|TIMESTAMP|TIMESTAMPTZ)"
            + "(\\s*\\(\\s*\\d{1,4}\\s*(,\\s*\\d{1,4}\\s*)?\\))?(\\s+WITH(OUT)?\\s+TIME\\s+ZONE)?");

    /** A column the reader offers: name and the JDBC type, type name, precision and scale the upstream reported. */
    public record Column(String name, int jdbcType, String typeName, int precision, int scale) {
        public Column(String name, int jdbcType, int precision, int scale) {
            this(name, jdbcType, null, precision, scale);
        }
    }

    /** A column of the table: lower-case name, name as stored, exact type for casts, JDBC type, limits. */
    record Meta(String name, String stored, String castType, String typeName, int jdbcType, int maxLength, boolean nullable) {
    }

    /** Qualified, quoted name for SQL. */
    final String name;
    /** schema.table for messages. */
    final String display;
    final Map<String, Meta> columns;

    private TargetTable(String name, String display, Map<String, Meta> columns) {
        this.name = name;
        this.display = display;
        this.columns = columns;
    }

    public static String identifier(String what, String name) {
        try {
            return Identifiers.lower(Identifiers.plain(what, name));
        } catch (IllegalArgumentException e) {
            throw new NonRecoverableSyncException(e.getMessage());
        }
    }

    /** Checks a {@code columnTypes} entry against the type grammar; returns it trimmed. */
    public static String sqlType(String column, String type) {
        String t = type == null ? "" : type.trim().replaceAll("\\s+", " ");
        if (!TYPE.matcher(t).matches()) {
            throw new NonRecoverableSyncException("columnTypes: '" + type + "' for column " + column + " is not a SQL type this "
                    + "service creates columns with (e.g. VARCHAR(200), NUMERIC(18,4), INTEGER, BIGINT, BOOLEAN, DATE, "
                    + "TIMESTAMP, TIMESTAMP WITH TIME ZONE, UUID, TEXT)");
        }
        return t.equalsIgnoreCase("TIMESTAMPTZ") ? "TIMESTAMP WITH TIME ZONE" : t;
    }

    public String display() {
        return display;
    }

    /** The table's qualified, quoted name for SQL. */
    public String qualified() {
        return name;
    }

    /** A column's name as stored, quoted for SQL. */
    public String quoted(String column) {
        Meta m = columns.get(column);
        if (m == null) {
            throw new NonRecoverableSyncException("Target table " + display + " has no column " + column);
        }
        return Identifiers.quote(m.stored());
    }

    /** A select list of the given columns, quoted. */
    public String select(List<String> names) {
        return String.join(", ", names.stream().map(this::quoted).toList());
    }

    /** The table's lower-case column names, in table order. */
    public List<String> columnNames() {
        return List.copyOf(columns.keySet());
    }

    /** Loads the table, creating it first (with its key as primary key and a synced_at column) when it does not exist. */
    public static TargetTable ensure(Connection c, TargetDatabase db, String table, List<Column> offered, List<String> keys)
            throws SQLException {
        return ensure(c, db, table, offered, keys, Map.of());
    }

    /** As above, with explicit SQL types (by column) for the table when it is created. */
    public static TargetTable ensure(Connection c, TargetDatabase db, String table, List<Column> offered, List<String> keys,
                                     Map<String, String> explicitTypes) throws SQLException {
        return ensure(c, db, table, offered, keys, explicitTypes, false);
    }

    /**
     * As above; {@code addMissing}: a column offered that an existing table lacks is added to it (nullable; its
     * explicit type, else the offered type) instead of failing the run: for a source that reads every column it finds.
     */
    public static TargetTable ensure(Connection c, TargetDatabase db, String table, List<Column> offered, List<String> keys,
                                     Map<String, String> explicitTypes, boolean addMissing) throws SQLException {
        Dialect dialect = db.dialect();
        String wanted = identifier("Target table", table);
        String schema = db.dataSchema();
        String stored = storedName(c, schema, wanted);
        if (stored == null) {
            stored = dialect.fold(wanted);
            StringBuilder ddl = new StringBuilder("CREATE TABLE ").append(Identifiers.quote(schema)).append('.')
                    .append(Identifiers.quote(stored)).append(" (");
            for (Column col : offered) {
                String name = identifier("Column", col.name());
                String type = explicitTypes.containsKey(name) ? sqlType(name, explicitTypes.get(name))
                        : dialect.columnType(col.jdbcType(), col.typeName(), col.precision(), col.scale());
                ddl.append(Identifiers.quote(dialect.fold(name))).append(' ').append(type);
                if (keys.contains(name)) {
                    ddl.append(" NOT NULL");
                }
                ddl.append(", ");
            }
            ddl.append(Identifiers.quote(dialect.fold(SYNCED_AT))).append(" TIMESTAMP WITH TIME ZONE, PRIMARY KEY (")
                    .append(String.join(", ", keys.stream().map(k -> Identifiers.quote(dialect.fold(k))).toList())).append("))");
            try (Statement s = c.createStatement()) {
                s.execute(ddl.toString());
            }
            c.commit();
        }
        Map<String, Meta> meta = load(c, dialect, schema, stored);
        List<String> missing = new ArrayList<>();
        for (Column col : offered) {
            if (!meta.containsKey(col.name())) {
                missing.add(col.name());
            }
        }
        String display = schema + "." + stored;
        if (!missing.isEmpty() && addMissing) {
            try (Statement s = c.createStatement()) {
                for (Column col : offered) {
                    if (missing.contains(col.name())) {
                        String name = identifier("Column", col.name());
                        String type = explicitTypes.containsKey(name) ? sqlType(name, explicitTypes.get(name))
                                : dialect.columnType(col.jdbcType(), col.typeName(), col.precision(), col.scale());
                        s.execute("ALTER TABLE " + Identifiers.quote(schema) + "." + Identifiers.quote(stored) + " ADD COLUMN "
                                + Identifiers.quote(dialect.fold(name)) + " " + type);
                    }
                }
            } catch (SQLException e) {
                c.rollback();
                // another source writing this table added it first (PostgreSQL 42701, H2 42121): take the table as it is
                if (!"42701".equals(e.getSQLState()) && !"42121".equals(e.getSQLState())) {
                    throw e;
                }
            }
            c.commit();
            org.slf4j.LoggerFactory.getLogger(TargetTable.class).info("Target table {}: column(s) {} added (new upstream)",
                    display, missing);
            meta = load(c, dialect, schema, stored);
            Map<String, Meta> now = meta;
            missing.removeIf(now::containsKey);
        }
        if (!missing.isEmpty()) {
            throw new NonRecoverableSyncException("Target table " + display + " has no column(s) " + missing
                    + " that the source delivers (it has " + meta.keySet() + "); add them or map the source columns");
        }
        return new TargetTable(Identifiers.quote(schema) + "." + Identifiers.quote(stored), display, meta);
    }

    /** The table as it is, or null when it does not exist (nothing is created). */
    public static TargetTable existing(Connection c, TargetDatabase db, String table) throws SQLException {
        String schema = db.dataSchema();
        String stored = storedName(c, schema, identifier("Target table", table));
        return stored == null ? null : new TargetTable(Identifiers.quote(schema) + "." + Identifiers.quote(stored),
                schema + "." + stored, load(c, db.dialect(), schema, stored));
    }

    /** The table's name as stored in the schema, matched without regard to case; null when there is none. */
    private static String storedName(Connection c, String schema, String wanted) throws SQLException {
        String found = null;
        try (ResultSet rs = c.getMetaData().getTables(null, schema, null, null)) {
            while (rs.next()) {
                String name = rs.getString("TABLE_NAME");
                if (name.equals(wanted)) {
                    return name; // an exact match wins over one that differs in case
                }
                if (name.equalsIgnoreCase(wanted)) {
                    found = name;
                }
            }
        }
        return found;
    }

    private static Map<String, Meta> load(Connection c, Dialect dialect, String schema, String table) throws SQLException {
        Map<String, Meta> out = new LinkedHashMap<>();
        DatabaseMetaData md = c.getMetaData();
        // metadata names are LIKE patterns: escape '_' and '%' so a look-alike table's columns are not mixed in
        String escape = md.getSearchStringEscape();
        String pattern = escape == null || escape.isEmpty() ? table
                : table.replace(escape, escape + escape).replace("_", escape + "_").replace("%", escape + "%");
        try (ResultSet rs = md.getColumns(null, schema, pattern, null)) {
            while (rs.next()) {
                if (!table.equals(rs.getString("TABLE_NAME"))) {
                    continue;
                }
                String stored = rs.getString("COLUMN_NAME");
                String col = stored.toLowerCase(Locale.ROOT);
                int type = rs.getInt("DATA_TYPE");
                String typeName = rs.getString("TYPE_NAME");
                int size = rs.getInt("COLUMN_SIZE");
                int digits = rs.getInt("DECIMAL_DIGITS");
                boolean text = type == Types.VARCHAR || type == Types.CHAR || type == Types.NVARCHAR || type == Types.NCHAR;
                int maxLength = text && size > 0 && size < 1_000_000_000 ? size : -1;
                boolean nullable = rs.getInt("NULLABLE") != DatabaseMetaData.columnNoNulls;
                out.putIfAbsent(col, new Meta(col, stored, dialect == Dialect.H2 ? h2Type(type, typeName, size, digits) : null,
                        typeName, type, maxLength, nullable));
            }
        }
        return out;
    }

    /** H2's exact type of a column, as a CAST target: lengths, precision and scale, fractional seconds kept. */
    static String h2Type(int jdbcType, String typeName, int size, int digits) {
        String name = typeName.toUpperCase(Locale.ROOT);
        switch (name) {
            case "CHARACTER", "CHARACTER VARYING", "BINARY", "BINARY VARYING", "VARCHAR_IGNORECASE":
                return size > 0 && size < 1_000_000_000 ? name + "(" + size + ")" : name;
            case "NUMERIC", "DECIMAL":
                return size > 0 ? name + "(" + size + ", " + Math.max(0, digits) + ")" : name;
            case "TIME", "TIMESTAMP":
                return name + "(" + digits + ")";
            case "TIME WITH TIME ZONE":
                return "TIME(" + digits + ") WITH TIME ZONE";
            case "TIMESTAMP WITH TIME ZONE":
                return "TIMESTAMP(" + digits + ") WITH TIME ZONE";
            default:
                // ENUM('a', 'b'), UUID, JSON, BOOLEAN, INTEGER, ... are exact as named; arrays and rows are left uncast
                return name.endsWith("ARRAY") || name.startsWith("ROW") || jdbcType == Types.JAVA_OBJECT ? null : typeName;
        }
    }

    /**
     * This table with a {@code deleted_at} column (added, nullable, when it has none: the table was created before
     * deletions were tracked, or by someone else). Commits.
     */
    public TargetTable withDeletedAt(Connection c, TargetDatabase db) throws SQLException {
        if (columns.containsKey(DELETED_AT)) {
            return this;
        }
        try (Statement s = c.createStatement()) {
            s.execute("ALTER TABLE " + name + " ADD COLUMN " + Identifiers.quote(db.dialect().fold(DELETED_AT))
                    + " TIMESTAMP WITH TIME ZONE");
        } catch (SQLException e) {
            c.rollback();
            String state = e.getSQLState() == null ? "" : e.getSQLState();
            if (state.startsWith("42")) {
                // not ours to change (no privilege): rows no longer upstream are not marked; said by the caller
                org.slf4j.LoggerFactory.getLogger(TargetTable.class).warn("Target table {}: column {} cannot be added ({}); rows "
                        + "missing from a complete read are not marked deleted until it exists", display, DELETED_AT, e.getMessage());
                return this;
            }
            throw e;
        }
        c.commit();
        org.slf4j.LoggerFactory.getLogger(TargetTable.class).info("Target table {}: column {} added (rows missing from a "
                + "complete full read are marked there)", display, DELETED_AT);
        String schema = display.substring(0, display.indexOf('.'));
        String stored = display.substring(display.indexOf('.') + 1);
        return new TargetTable(name, display, load(c, db.dialect(), schema, stored));
    }

    /**
     * Why rows no longer upstream cannot be marked in this table, or null when they can: the source delivers a
     * {@code deleted_at} column of its own (marking would overwrite it), the table has none, or its is not a timestamp.
     */
    public String deletedAtConflict(List<String> readColumns) {
        if (readColumns.contains(DELETED_AT)) {
            return "the source delivers a " + DELETED_AT + " column of its own (set deletions: delete or keep)";
        }
        Meta m = columns.get(DELETED_AT);
        if (m == null) {
            return "the table has no " + DELETED_AT + " column (it could not be added)";
        }
        if (m.jdbcType() != Types.TIMESTAMP && m.jdbcType() != Types.TIMESTAMP_WITH_TIMEZONE) {
            return "the table's " + DELETED_AT + " column is " + m.typeName() + ", not a timestamp";
        }
        return null;
    }

    public boolean hasSyncedAt() {
        return columns.containsKey(SYNCED_AT);
    }
}
