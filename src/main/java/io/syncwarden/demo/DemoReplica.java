package io.syncwarden.demo;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.LocalDateTime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A demo replica database (H2 file, {@code ./data/demo-replica} by default) with a {@code demo_leads} table, seeded on
 * first start, so that a fresh install has an upstream to sync.
 */
public final class DemoReplica {
    private static final Logger LOG = LoggerFactory.getLogger(DemoReplica.class);
    private static final String[] FIRST = {"Ada", "Grace", "Linus", "Margaret", "Alan", "Zoë", "İlkay", "Nguyễn", "李", "José"};
    private static final String[] LAST = {"Lovelace", "Hopper", "Torvalds", "Hamilton", "Turing", "Ødegård", "Şahin", "Văn An", "小龙", "Muñoz"};
    private static final String[] STATUS = {"new", "contacted", "qualified", "won", "lost"};

    private final String url;
    private final int rows;

    public DemoReplica(String url, int rows) {
        this.url = url;
        this.rows = rows;
    }

    public void seedIfEmpty() throws SQLException {
        try (Connection c = DriverManager.getConnection(url, "sa", "")) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS demo_leads (id BIGINT PRIMARY KEY, first_name VARCHAR(60), "
                        + "last_name VARCHAR(60), email VARCHAR(120), company VARCHAR(120), phone VARCHAR(30), "
                        + "status VARCHAR(20), updated_at TIMESTAMP NOT NULL)");
                try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM demo_leads")) {
                    rs.next();
                    if (rs.getLong(1) > 0) {
                        return;
                    }
                }
            }
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO demo_leads VALUES (?, ?, ?, ?, ?, ?, ?, ?)")) {
                LocalDateTime base = LocalDateTime.now().minusDays(30);
                for (int i = 1; i <= rows; i++) {
                    ps.setLong(1, i);
                    ps.setString(2, FIRST[i % FIRST.length]);
                    ps.setString(3, LAST[(i / FIRST.length) % LAST.length]);
                    ps.setString(4, "lead" + i + "@demo.example");
                    ps.setString(5, "Demo Company " + (i % 37));
                    ps.setString(6, "+1555" + String.format("%07d", i));
                    ps.setString(7, STATUS[i % STATUS.length]);
                    ps.setTimestamp(8, Timestamp.valueOf(base.plusMinutes(i)));
                    ps.addBatch();
                }
                ps.executeBatch();
            }
            c.commit();
            LOG.info("Demo replica {} seeded with {} rows in demo_leads (turn the demo off with syncwarden.demo.enabled=false)", url, rows);
        }
    }
}
