package io.syncwarden.heal;

import io.syncwarden.sync.RowCountAnomaly;
import io.syncwarden.sync.SyncRuns;

/**
 * The row-count anomaly of an incremental read: it is applied already (only the changes are read, there is nothing to
 * compare before applying), so a good run whose read count is far from the source's recent good incremental runs
 * opens an {@code anomaly} incident (severity {@code warning}: logged, on the status page, not sent) in the run's
 * closing transaction. The next ordinary run resolves it. Full reads are refused before apply instead
 * ({@link SyncRuns}, {@code refused_anomaly}).
 */
public final class IncrementalAnomalies {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(IncrementalAnomalies.class);
    static final String KIND = "anomaly";
    /** Incremental reads: a spread of at least 10 rows (a quiet source reads 0 to a few; a dozen at once is normal). */
    static final double LEAST_SPREAD = 10;

    private IncrementalAnomalies() {
    }

    public static void watch(SyncRuns runs, Incidents incidents) {
        runs.addCloseListener((c, run, status, errorClass, at) -> {
            if (!"success".equals(status) || !"incremental".equals(run.mode()) || run.resumedFrom() != null) {
                return;
            }
            // a judgement that fails must not fail the run's close: under a savepoint, logged and left out
            java.sql.Savepoint sp = c.setSavepoint();
            try {
                RowCountAnomaly anomaly = runs.anomaly();
                RowCountAnomaly.Judgement judged = anomaly.judge(run.read(),
                        anomaly.history(c, run.sourceId(), "incremental", run.runId()), LEAST_SPREAD);
                String by = "run " + run.runId() + " (" + run.trigger() + ")";
                if (judged != null && judged.anomalous()) {
                    incidents.open(c, run.sourceId(), KIND, "warning", "Sync " + run.sourceId() + " run " + run.runId() + " "
                            + judged.describe() + ", past " + anomaly.threshold() + " (applied: an incremental read is not "
                            + "refused; check the upstream's changes)", run.runId(), by);
                } else if (judged != null) {
                    incidents.resolve(c, run.sourceId(), KIND, by, "the read count is usual again", run.runId());
                }
                c.releaseSavepoint(sp);
            } catch (Exception e) {
                c.rollback(sp);
                LOG.warn("Sync {} run {}: its read count could not be judged: {}", run.sourceId(), run.runId(), e.getMessage());
            }
        });
    }
}
