-- Version 6: owner alerts.

-- A missed call or a reply is 'alerted' in the same transaction that
-- queues its alerts: none is lost, none made twice.
CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    thread_id        INTEGER NOT NULL REFERENCES threads (id),
    owner_id         TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    kind             TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    body_html        TEXT,
    message_id       TEXT NOT NULL UNIQUE,
    in_reply_to      TEXT,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
) STRICT;

CREATE INDEX alerts_due ON alerts (state, next_attempt_at);

ALTER TABLE calls ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0;

ALTER TABLE inbox ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0;

-- What was there before alerts existed is not news to anyone.
UPDATE calls SET alerted = 1;

UPDATE inbox SET alerted = 1;
