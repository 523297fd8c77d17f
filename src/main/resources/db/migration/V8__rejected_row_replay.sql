-- A rejected row replayed after its cause was fixed: when, and by which run (a row rejected again gets a new entry).
-- replayable: the row is whole and exact as recorded (not a reader's partial row, a duplicate, cut data, bytes).
ALTER TABLE rejected_row ADD COLUMN replayed_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE rejected_row ADD COLUMN replay_run_id BIGINT;
ALTER TABLE rejected_row ADD COLUMN replayable BOOLEAN DEFAULT FALSE NOT NULL;
