-- Version 12: the owner inbox (bridge/web, docs/inbox.md).

-- Each owner's login: an argon2 hash (`textback set-password OWNER`), never the password.
CREATE TABLE owner_passwords (
    owner_id    TEXT PRIMARY KEY,
    hash        TEXT NOT NULL,
    changed_at  TEXT NOT NULL
) STRICT;

-- Who has the thread (an owner id; NULL: nobody yet).
ALTER TABLE threads ADD COLUMN assigned_to TEXT;

-- What owners write for each other on a thread, never texted to anyone:
-- notes, and who assigned it to whom. Not owner actions: the report's time
-- to first action counts what was done for the caller, not a note about it.
CREATE TABLE thread_notes (
    id         INTEGER PRIMARY KEY,
    thread_id  INTEGER NOT NULL REFERENCES threads (id),
    owner_id   TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('note', 'assigned')),
    body       TEXT NOT NULL,
    at         TEXT NOT NULL
) STRICT;

CREATE INDEX thread_notes_by_thread ON thread_notes (thread_id, at);

-- The inbox's listings, each one index walk newest first stopped by its page
-- size: urgent open threads, threads by status (handled), an owner's own.
-- Open threads walk threads_listing (migration 10).
CREATE INDEX threads_urgent ON threads (last_activity_at) WHERE urgent = 1 AND status IN ('new', 'awaiting_reply', 'replied');

CREATE INDEX threads_by_status_activity ON threads (status, last_activity_at);

CREATE INDEX threads_assigned ON threads (assigned_to, last_activity_at) WHERE assigned_to IS NOT NULL;
