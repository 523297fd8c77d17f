package io.syncwarden.sync;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Arrays;

/**
 * Is a run's read count far from the source's recent good runs? A robust z-score: {@code (count - median) /
 * (1.4826 * MAD)} over the last {@code window} successful runs of the same mode (full reads are compared with full
 * reads, incremental with incremental; resumed runs, which read only a part, are left out), judged only once
 * {@code minRuns} of them exist. A history that never varied has a MAD of 0, so the spread is never taken below
 * {@code minSpread} of the median (and one row): a report of 30 rows may gain a few without being called an anomaly.
 * Threshold 0 switches the judgement off.
 */
public final class RowCountAnomaly {
    /** Scales the MAD to a standard deviation for normally spread counts. */
    private static final double MAD_TO_SIGMA = 1.4826;

    private final double threshold;
    private final int window;
    private final int minRuns;
    private final double minSpread;

    public RowCountAnomaly(double threshold, int window, int minRuns, double minSpread) {
        if (threshold < 0 || window < 1 || minRuns < 2 || minRuns > window || minSpread < 0) {
            throw new IllegalArgumentException("syncwarden.anomaly: threshold must be >= 0 (0: off), window >= min-runs >= 2 and "
                    + "min-spread >= 0; were " + threshold + ", " + window + ", " + minRuns + ", " + minSpread);
        }
        this.threshold = threshold;
        this.window = window;
        this.minRuns = minRuns;
        this.minSpread = minSpread;
    }

    /** The judgement of one count: its score against the history, and whether that is past the threshold. */
    public record Judgement(long count, double median, double mad, double score, int history, boolean anomalous) {
        /** The judgement in words, for a refusal or an incident. */
        public String describe() {
            return String.format(java.util.Locale.ROOT, "read %d rows while the last %d good runs read a median of %.0f "
                    + "(MAD %.1f): robust z-score %.1f", count, history, median, mad, score);
        }
    }

    public double threshold() {
        return threshold;
    }

    /** The judgement of {@code count} against {@code history}; null when there is too little history or it is off. */
    public Judgement judge(long count, long[] history) {
        return judge(count, history, 1);
    }

    /**
     * As above, the spread never below {@code leastSpread} rows either: incremental reads of a quiet source read 0 to a
     * few rows, and a dozen changes at once is not an anomaly.
     */
    public Judgement judge(long count, long[] history, double leastSpread) {
        if (threshold == 0 || history.length < minRuns) {
            return null;
        }
        double median = median(Arrays.stream(history).asDoubleStream().toArray());
        double mad = median(Arrays.stream(history).mapToDouble(h -> Math.abs(h - median)).toArray());
        double spread = Math.max(mad, Math.max(minSpread * median, Math.max(leastSpread, 1.0)));
        double score = (count - median) / (MAD_TO_SIGMA * spread);
        return new Judgement(count, median, mad, score, history.length, Math.abs(score) > threshold);
    }

    /**
     * The read counts of the source's last good runs of this mode before run {@code beforeRun}, newest first: what
     * {@link #judge} compares with.
     */
    public long[] history(Connection c, String sourceId, String mode, long beforeRun) throws SQLException {
        // from the last run an operator let past a guard on: the size it accepted is the new normal
        try (PreparedStatement ps = c.prepareStatement("SELECT rows_read FROM sync_run WHERE source_id = ? AND status = 'success' "
                + "AND mode = ? AND resumed_from IS NULL AND run_id < ? AND run_id >= COALESCE((SELECT MAX(run_id) FROM sync_run "
                + "WHERE source_id = ? AND status = 'success' AND guard_override = TRUE AND run_id < ?), 0) "
                + "ORDER BY run_id DESC FETCH FIRST " + window + " ROWS ONLY")) {
            ps.setString(1, sourceId);
            ps.setString(2, mode);
            ps.setLong(3, beforeRun);
            ps.setString(4, sourceId);
            ps.setLong(5, beforeRun);
            try (ResultSet rs = ps.executeQuery()) {
                long[] out = new long[window];
                int n = 0;
                while (rs.next()) {
                    out[n++] = rs.getLong(1);
                }
                return Arrays.copyOf(out, n);
            }
        }
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
