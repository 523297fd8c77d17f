package io.syncwarden.store;

import java.sql.BatchUpdateException;
import java.sql.SQLException;

/** What a database error's SQLState says, on both databases. */
public final class SqlStates {
    private SqlStates() {
    }

    /**
     * True when a database error is about the row being written (a value the column cannot take, SQLState class 22;
     * a constraint the row breaks, class 23), so only that row is rejected. Any other error (a lock or statement
     * timeout, a lost connection, permission denied, a missing constraint) is about the batch or the database: the
     * batch rolls back and the attempt fails.
     */
    public static boolean isRowError(SQLException e) {
        String state = sqlState(e);
        return state != null && (state.startsWith("22") || state.startsWith("23"));
    }

    /** The SQLState that says most: a batch error's own, else that of the error it wraps (pgjdbc's next exception). */
    public static String sqlState(SQLException e) {
        String state = e.getSQLState();
        if ((state == null || e instanceof BatchUpdateException) && e.getNextException() != null
                && e.getNextException().getSQLState() != null) {
            state = e.getNextException().getSQLState();
        }
        if (state == null && e.getCause() instanceof SQLException cause && cause != e) {
            return sqlState(cause);
        }
        return state;
    }
}
