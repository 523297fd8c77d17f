-- An operator's one-time permission for the next run a guard would refuse (an empty source, a shrink).
ALTER TABLE source_health ADD COLUMN allow_next BOOLEAN DEFAULT FALSE NOT NULL;
