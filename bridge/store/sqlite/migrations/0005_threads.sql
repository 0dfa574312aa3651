-- Version 5: conversations.

-- One conversation per (caller, line): its number is what owners type (#12).
CREATE TABLE threads (
    id                INTEGER PRIMARY KEY,
    caller            TEXT NOT NULL,
    line              TEXT,
    status            TEXT NOT NULL CHECK (status IN
                      ('new','awaiting_reply','replied','handled','opted_out','cold')),
    urgent            INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    last_activity_at  TEXT NOT NULL,
    handled_at        TEXT,
    handled_by        TEXT
) STRICT;

CREATE INDEX threads_by_caller ON threads (caller, status);

ALTER TABLE calls ADD COLUMN thread_id INTEGER REFERENCES threads (id);

ALTER TABLE outbox ADD COLUMN thread_id INTEGER REFERENCES threads (id);

ALTER TABLE inbox ADD COLUMN thread_id INTEGER REFERENCES threads (id);
