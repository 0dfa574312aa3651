-- Version 3: texts in, and delivery reports per part.

-- Parts the network confirmed delivered, per text (refs holds one per part).
ALTER TABLE outbox ADD COLUMN delivered_refs TEXT NOT NULL DEFAULT '[]';

-- Every text that comes in, stored before the modem may delete it.
CREATE TABLE inbox (
    id           INTEGER PRIMARY KEY,
    sender       TEXT NOT NULL,
    body         TEXT NOT NULL,
    parts        INTEGER NOT NULL,
    keyword      TEXT,
    received_at  TEXT NOT NULL,
    stored_at    TEXT NOT NULL
) STRICT;

CREATE INDEX inbox_by_sender ON inbox (sender, received_at);
