-- No automatic run of the source starts before this instant: the upstream rate-limited every key until then.
ALTER TABLE source_health ADD COLUMN not_before TIMESTAMP WITH TIME ZONE;
