-- Version 2: texts out, and the numbers that said STOP.

-- Why a missed call was not texted (NULL: texted, or not a missed call).
ALTER TABLE calls ADD COLUMN text_skip TEXT;

-- Every text that goes out. A text-back belongs to one call, and the
-- partial unique index makes a second one for the same call impossible.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('textback', 'reply', 'confirmation')),
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
    refs            TEXT
) STRICT;

CREATE UNIQUE INDEX one_textback_per_call ON outbox (linkedid) WHERE kind = 'textback';

CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE INDEX outbox_by_number ON outbox (to_number, created_at);

-- Opt-outs hold until the number itself texts START: one row per number.
CREATE TABLE opt_outs (
    number      TEXT PRIMARY KEY,
    opted_out   INTEGER NOT NULL,
    keyword     TEXT NOT NULL,
    source      TEXT NOT NULL,
    changed_at  TEXT NOT NULL
) STRICT;
