-- A truer run record: triggers that found the run still going are counted on it instead of writing a 'refused' run
-- each; the run's last committed position (checkpoint cursor, line, page) is kept with its counts, batch by batch.
-- Statuses now also include 'interrupted' (the service stopped; the checkpoint is kept).
ALTER TABLE sync_run ADD COLUMN refused_triggers INTEGER DEFAULT 0 NOT NULL;
ALTER TABLE sync_run ADD COLUMN last_refused_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE sync_run ADD COLUMN progress VARCHAR(4000);
CREATE INDEX ix_sync_run_node_status ON sync_run (node_id, status);
CREATE INDEX ix_failure_log_run ON failure_log (run_id);
