package io.syncwarden.source;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.OffsetTime;
import java.util.Locale;

/**
 * A replica connection whose result sets answer {@code getObject} with each value's full type: {@code java.time}
 * values read without the JVM's time zone (a wall-clock time in a daylight-saving gap stays as written), nanoseconds
 * and offsets kept, text for driver-specific holders (PostgreSQL json, intervals, arrays) and large text.
 *
 * <p>camel-jdbc builds each streamed row from {@code ResultSet.getObject(int)}, which on most drivers gives
 * {@code java.sql.Timestamp}/{@code Time}: those carry the JVM's zone into the value and drop sub-millisecond times.
 * Handing camel-jdbc this connection keeps values exact while the rows still come through the component.
 */
final class TypedResults {
    private TypedResults() {
    }

    static Connection wrap(Connection connection) {
        return (Connection) Proxy.newProxyInstance(TypedResults.class.getClassLoader(), new Class<?>[] {Connection.class},
                new ConnectionHandler(connection));
    }

    /** The value of column {@code c} (1-based) with its full type, given the column's JDBC type and type name. */
    static Object read(ResultSet rs, int c, int type, String typeName) throws SQLException {
        switch (type) {
            case Types.TIMESTAMP:
                return "timestamptz".equals(typeName) ? rs.getObject(c, OffsetDateTime.class) : rs.getObject(c, LocalDateTime.class);
            case Types.TIMESTAMP_WITH_TIMEZONE:
                return rs.getObject(c, OffsetDateTime.class);
            case Types.TIME:
                return "timetz".equals(typeName) ? rs.getObject(c, OffsetTime.class) : rs.getObject(c, LocalTime.class);
            case Types.TIME_WITH_TIMEZONE:
                return rs.getObject(c, OffsetTime.class);
            case Types.DATE:
                return rs.getObject(c, LocalDate.class);
            case Types.CLOB, Types.NCLOB:
                return rs.getString(c);
            case Types.BLOB:
                return rs.getBytes(c);
            default:
                Object v = rs.getObject(c);
                // driver-specific holders (PostgreSQL json, enums, intervals, arrays) travel as their text
                return v == null || v.getClass().getName().startsWith("java.") || v instanceof byte[] ? v : rs.getString(c);
        }
    }

    private static Object call(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private record ConnectionHandler(Connection delegate) implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            Object result = call(delegate, method, args);
            if (result instanceof Statement statement && Statement.class.isAssignableFrom(method.getReturnType())) {
                return Proxy.newProxyInstance(TypedResults.class.getClassLoader(), new Class<?>[] {method.getReturnType()},
                        new StatementHandler(statement, (Connection) proxy));
            }
            return result;
        }
    }

    private record StatementHandler(Statement delegate, Connection connection) implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            if (method.getName().equals("getConnection") && method.getParameterCount() == 0) {
                return connection;
            }
            Object result = call(delegate, method, args);
            if (result instanceof ResultSet rs && method.getReturnType() == ResultSet.class && !method.getName().equals("getGeneratedKeys")) {
                return Proxy.newProxyInstance(TypedResults.class.getClassLoader(), new Class<?>[] {ResultSet.class},
                        new ResultSetHandler(rs));
            }
            return result;
        }
    }

    private static final class ResultSetHandler implements InvocationHandler {
        private final ResultSet delegate;
        private int[] types;
        private String[] typeNames;

        ResultSetHandler(ResultSet delegate) {
            this.delegate = delegate;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            if (args != null && args.length == 1 && method.getName().equals("getClob")) {
                // read now, while the row is current (camel-jdbc reads a row ahead, and closes the result at its end)
                java.sql.Clob clob = (java.sql.Clob) call(delegate, method, args);
                return clob == null ? null : new javax.sql.rowset.serial.SerialClob(clob.getSubString(1, (int) clob.length()).toCharArray());
            }
            if (args != null && args.length == 1 && method.getName().equals("getObject")) {
                int c = args[0] instanceof Integer i ? i : delegate.findColumn((String) args[0]);
                if (types == null) {
                    describe();
                }
                return read(delegate, c, types[c - 1], typeNames[c - 1]);
            }
            return call(delegate, method, args);
        }

        private void describe() throws SQLException {
            ResultSetMetaData md = delegate.getMetaData();
            int n = md.getColumnCount();
            types = new int[n];
            typeNames = new String[n];
            for (int i = 0; i < n; i++) {
                types[i] = md.getColumnType(i + 1);
                String name = md.getColumnTypeName(i + 1);
                typeNames[i] = name == null ? null : name.toLowerCase(Locale.ROOT);
            }
        }
    }
}
