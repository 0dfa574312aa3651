-- Version 7: owner follow-through.

-- outbox and alerts are rebuilt (SQLite cannot change a CHECK): texts gain
-- kinds for owners and nudges, the line they go out from, and the alert an
-- owner text carries; digests belong to no thread.
CREATE TABLE alerts_v7 (
    id               INTEGER PRIMARY KEY,
    thread_id        INTEGER REFERENCES threads (id),
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

INSERT INTO alerts_v7 SELECT * FROM alerts;

DROP TABLE alerts;

ALTER TABLE alerts_v7 RENAME TO alerts;

CREATE INDEX alerts_due ON alerts (state, next_attempt_at);

CREATE TABLE outbox_v7 (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('textback', 'reply', 'confirmation',
                    'nudge', 'owner_alert', 'owner_notice')),
    linkedid        TEXT REFERENCES calls (linkedid),
    to_number       TEXT NOT NULL,
    body            TEXT NOT NULL,
    parts           INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN
                    ('queued','sending','sent','delivered','failed','expired','cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    sent_at         TEXT,
    delivered_at    TEXT,
    last_error      TEXT,
    refs            TEXT,
    delivered_refs  TEXT NOT NULL DEFAULT '[]',
    maybe_sent      INTEGER NOT NULL DEFAULT 0,
    thread_id       INTEGER REFERENCES threads (id),
    from_line       TEXT,
    alert_id        INTEGER REFERENCES alerts (id)
) STRICT;

INSERT INTO outbox_v7 (id, kind, linkedid, to_number, body, parts, state, attempts,
               created_at, next_attempt_at, expires_at, sent_at, delivered_at, last_error, refs,
               delivered_refs, maybe_sent, thread_id)
           SELECT id, kind, linkedid, to_number, body, parts, state, attempts, created_at,
               next_attempt_at, expires_at, sent_at, delivered_at, last_error, refs,
               delivered_refs, maybe_sent, thread_id FROM outbox;

DROP TABLE outbox;

ALTER TABLE outbox_v7 RENAME TO outbox;

CREATE UNIQUE INDEX one_textback_per_call ON outbox (linkedid) WHERE kind = 'textback';

CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE INDEX outbox_by_number ON outbox (to_number, created_at);

-- A text goes out from its thread's line: it picks the transport and the SIP From.
UPDATE outbox SET from_line = (SELECT line FROM threads WHERE id = outbox.thread_id);

-- The one reminder per wait, and the one nudge per thread.
ALTER TABLE threads ADD COLUMN reminded_at TEXT;

ALTER TABLE threads ADD COLUMN nudged_at TEXT;

-- Threads already open are not news: no burst of reminders or nudges
-- for them on the first start after the upgrade.
UPDATE threads SET reminded_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'),
                   nudged_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
 WHERE status IN ('new', 'awaiting_reply', 'replied');

-- A text from an owner's mobile is a command, not a homeowner's reply.
ALTER TABLE inbox ADD COLUMN owner_id TEXT;

CREATE TABLE owner_actions (
    id         INTEGER PRIMARY KEY,
    thread_id  INTEGER NOT NULL REFERENCES threads (id),
    owner_id   TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('reply', 'called', 'done')),
    body       TEXT,
    at         TEXT NOT NULL
) STRICT;

CREATE INDEX owner_actions_by_thread ON owner_actions (thread_id, at);

-- The workers' polls read only what is pending or open, however long
-- the history grows: alerts not yet made, threads still open.
CREATE INDEX calls_unalerted ON calls (id) WHERE alerted = 0;

CREATE INDEX inbox_unalerted ON inbox (id) WHERE alerted = 0;

CREATE INDEX threads_by_status ON threads (status);

-- One digest per owner per local day, whatever restarts happen.
CREATE TABLE digests (
    owner_id  TEXT NOT NULL,
    day       TEXT NOT NULL,
    PRIMARY KEY (owner_id, day)
) STRICT;
