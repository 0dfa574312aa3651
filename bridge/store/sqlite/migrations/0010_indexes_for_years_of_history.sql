-- Version 10: every join and filter on an index, so no command or poll reads
-- the whole history (issue 17; tests/adapters/test_query_plans.py checks
-- each query's plan).

-- A thread's calls, texts, replies and alerts: `textback thread N`, the
-- summaries' reply and call count, the report's waits, an email alert's
-- In-Reply-To (its recipient's first email on the thread).
CREATE INDEX calls_by_thread ON calls (thread_id, ended_at);

CREATE INDEX outbox_by_thread ON outbox (thread_id);

CREATE INDEX inbox_by_thread ON inbox (thread_id, owner_id);

CREATE INDEX alerts_by_thread ON alerts (thread_id, channel, recipient);

-- The foreign keys into calls and alerts: SQLite looks for referring texts
-- when a call or an alert is inserted (only texts that refer to one are kept).
CREATE INDEX outbox_by_call ON outbox (linkedid) WHERE linkedid IS NOT NULL;

CREATE INDEX outbox_by_alert ON outbox (alert_id) WHERE alert_id IS NOT NULL;

-- Text-backs by state and age: the policy's last-hour count on every
-- decision, and the report's texted count.
CREATE INDEX outbox_textbacks ON outbox (kind, state, created_at);

-- The report's missed calls, from the index alone.
CREATE INDEX calls_missed ON calls (outcome, dry_run, ended_at);

-- Only news nobody has heard, in the order the alert poll reads it. The
-- version 7 indexes also held every answered call and every STOP, forever.
DROP INDEX calls_unalerted;

CREATE INDEX calls_unalerted ON calls (ended_at) WHERE alerted = 0 AND thread_id IS NOT NULL;

DROP INDEX inbox_unalerted;

CREATE INDEX inbox_unalerted ON inbox (received_at) WHERE alerted = 0 AND keyword IS NULL;

-- `textback threads`: open first, then newest activity - one index walk
-- stopped by its LIMIT (the expression is the listing's ORDER BY).
CREATE INDEX threads_listing ON threads ((status IN ('new', 'awaiting_reply', 'replied')), last_activity_at);

-- The follow-up tick reads only threads whose timer is due: a wait not yet
-- reminded (by how long since the last activity), a reminder that may turn
-- cold, a homeowner quiet long enough for the nudge. It replaces the plain
-- index on status.
DROP INDEX threads_by_status;

CREATE INDEX threads_timers ON threads (status, reminded_at, last_activity_at);

CREATE INDEX threads_nudge ON threads (last_activity_at) WHERE status = 'awaiting_reply' AND nudged_at IS NULL;

-- The digest's threads handled yesterday; the report's threads since a day.
CREATE INDEX threads_handled ON threads (status, handled_at);

CREATE INDEX threads_by_created ON threads (created_at);
