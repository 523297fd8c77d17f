package io.syncwarden.sync;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.concurrent.atomic.AtomicInteger;
import org.h2.api.Trigger;

/** An H2 trigger on source_lock that fails the next insert(s), as a connection lost in the middle of begin would. */
public class LockFault implements Trigger {
    static final AtomicInteger FAILURES = new AtomicInteger();

    @Override
    public void fire(Connection conn, Object[] oldRow, Object[] newRow) throws SQLException {
        if (FAILURES.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new SQLException("target connection lost (injected while taking the lock)", "08006");
        }
    }
}
