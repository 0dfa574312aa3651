-- Version 4: a crash while sending.

-- Set when a crash left a text 'sending': it may have gone out already.
ALTER TABLE outbox ADD COLUMN maybe_sent INTEGER NOT NULL DEFAULT 0;
