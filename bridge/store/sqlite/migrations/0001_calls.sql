-- Version 1: every call's decision. UNIQUE (linkedid), not a check in Python,
-- is what makes a call impossible to store twice.

CREATE TABLE calls (
    id             INTEGER PRIMARY KEY,
    linkedid       TEXT NOT NULL UNIQUE,
    outcome        TEXT NOT NULL
                   CHECK (outcome IN ('missed','answered','internal','outbound','unknown')),
    reason         TEXT,
    caller         TEXT,
    caller_raw     TEXT NOT NULL,
    caller_name    TEXT NOT NULL,
    withheld       INTEGER NOT NULL,
    line           TEXT,
    line_name      TEXT,
    started_at     TEXT NOT NULL,
    ended_at       TEXT NOT NULL,
    voicemail_left INTEGER,
    dial_status    TEXT,
    answered_by    TEXT,
    detail         TEXT NOT NULL,
    source         TEXT NOT NULL,
    dry_run        INTEGER NOT NULL,
    decided_at     TEXT NOT NULL
) STRICT;

CREATE INDEX calls_by_end ON calls (ended_at);

CREATE INDEX calls_by_caller ON calls (caller, ended_at);
