-- A rejected row replayed after its cause was fixed: when, and by which run (a row rejected again gets a new entry).
ALTER TABLE rejected_row ADD COLUMN replayed_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE rejected_row ADD COLUMN replay_run_id BIGINT;
