package io.syncwarden.store;

import java.sql.SQLException;

/**
 * Guards the target database's connections (the service binds a circuit breaker): asked before a connection is
 * borrowed (it may refuse at once while the database is known to be down) and told whether the database answered.
 */
public interface ConnectionGuard {
    /** Throws when no connection should be tried now. */
    void before() throws SQLException;

    /** A connection was had (the database answers). */
    void answered();

    /** The database did not answer: no connection could be made to it. */
    void lost(SQLException e);

    /** The borrow ended otherwise (the pool was busy, the thread interrupted): neither an answer nor a loss. */
    void released();

    /** A guard that never refuses. */
    ConnectionGuard NONE = new ConnectionGuard() {
        @Override
        public void before() {
        }

        @Override
        public void answered() {
        }

        @Override
        public void lost(SQLException e) {
        }

        @Override
        public void released() {
        }
    };
}
