-- Lead rows a write-back still owes: the match value (attendee e-mail, folded) of every booking a run inserted or
-- changed, written in the same transaction as the booking, removed once the sheet has it. A write-back that fails, or a
-- run stopped or killed before it, leaves its entries here for the next run.
CREATE TABLE write_back_pending (
    source_id    VARCHAR(100) NOT NULL,
    match_value  VARCHAR(400) NOT NULL,
    queued_at    TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (source_id, match_value)
);
