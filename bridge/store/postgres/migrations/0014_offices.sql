-- Version 14: many offices in one database (docs/scale.md). Every row carries
-- its office; each bridge's connections name their office in the setting
-- textback.office (bridge/store/postgres/opening.py), and row security lets a
-- connection see and write its own office's rows only - no statement of the
-- store names the office, and none can forget to. Every key starts with the
-- office, so each office numbers its threads from 1 (owners type #12) and a
-- linkedid, a number's opt-out or an owner's password is the office's own.
--
-- A database from before this version was one office's: its rows become the
-- office of the bridge that migrates it. SQLite's 0014 changes nothing: a
-- SQLite file is one office's, and `textback store copy` stamps its rows with
-- the office it is told.

-- The office of this connection; an error where none is set, so a connection
-- that forgot reads nothing and writes nothing.
CREATE FUNCTION textback_office() RETURNS TEXT
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT current_setting('textback.office') $$;

-- Each office's last thread number, bumped under the row's lock: two bridges
-- of one office opening threads at once get one number each.
CREATE TABLE thread_numbers (
    office  TEXT PRIMARY KEY,
    last    BIGINT NOT NULL
);

CREATE FUNCTION textback_next_thread() RETURNS BIGINT
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO thread_numbers AS n (office, last) VALUES (textback_office(), 1)
    ON CONFLICT (office) DO UPDATE SET last = n.last + 1
    RETURNING last
$$;

-- The offices that have a bridge on this database: the admin's office filter.
CREATE TABLE offices (
    id          TEXT PRIMARY KEY,
    first_seen  TEXT NOT NULL
);

-- Every key drops here and comes back below with the office in front; the
-- foreign keys that lean on them go with them.
ALTER TABLE threads DROP CONSTRAINT threads_pkey CASCADE;
ALTER TABLE calls DROP CONSTRAINT calls_pkey CASCADE;
ALTER TABLE calls DROP CONSTRAINT calls_linkedid_key CASCADE;
ALTER TABLE alerts DROP CONSTRAINT alerts_pkey CASCADE;
ALTER TABLE alerts DROP CONSTRAINT alerts_message_id_key;
ALTER TABLE outbox DROP CONSTRAINT outbox_pkey CASCADE;
ALTER TABLE opt_outs DROP CONSTRAINT opt_outs_pkey;
ALTER TABLE inbox DROP CONSTRAINT inbox_pkey;
ALTER TABLE owner_actions DROP CONSTRAINT owner_actions_pkey;
ALTER TABLE digests DROP CONSTRAINT digests_pkey;
ALTER TABLE open_calls DROP CONSTRAINT open_calls_pkey;
ALTER TABLE bridge_state DROP CONSTRAINT bridge_state_pkey;
ALTER TABLE owner_passwords DROP CONSTRAINT owner_passwords_pkey;
ALTER TABLE thread_notes DROP CONSTRAINT thread_notes_pkey;
ALTER TABLE lead_steps DROP CONSTRAINT lead_steps_pkey;

-- A stable default is taken once: the rows already here get this bridge's office.
ALTER TABLE threads ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE calls ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE alerts ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE outbox ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE opt_outs ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE inbox ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE owner_actions ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE digests ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE open_calls ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE bridge_state ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE owner_passwords ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE thread_notes ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();
ALTER TABLE lead_steps ADD COLUMN office TEXT NOT NULL DEFAULT textback_office();

-- Thread numbers per office, on from the threads already here.
INSERT INTO thread_numbers (office, last) SELECT textback_office(), max(id) FROM threads HAVING max(id) IS NOT NULL;
ALTER TABLE threads ALTER COLUMN id DROP IDENTITY;
ALTER TABLE threads ALTER COLUMN id SET DEFAULT textback_next_thread();

ALTER TABLE threads ADD PRIMARY KEY (office, id);
ALTER TABLE calls ADD PRIMARY KEY (office, id);
ALTER TABLE calls ADD UNIQUE (office, linkedid);
ALTER TABLE alerts ADD PRIMARY KEY (office, id);
ALTER TABLE alerts ADD UNIQUE (office, message_id);
ALTER TABLE outbox ADD PRIMARY KEY (office, id);
ALTER TABLE opt_outs ADD PRIMARY KEY (office, number);
ALTER TABLE inbox ADD PRIMARY KEY (office, id);
ALTER TABLE owner_actions ADD PRIMARY KEY (office, id);
ALTER TABLE digests ADD PRIMARY KEY (office, owner_id, day);
ALTER TABLE open_calls ADD PRIMARY KEY (office, linkedid);
ALTER TABLE bridge_state ADD PRIMARY KEY (office, key);
ALTER TABLE owner_passwords ADD PRIMARY KEY (office, owner_id);
ALTER TABLE thread_notes ADD PRIMARY KEY (office, id);
ALTER TABLE lead_steps ADD PRIMARY KEY (office, id);

ALTER TABLE calls ADD FOREIGN KEY (office, thread_id) REFERENCES threads (office, id);
ALTER TABLE alerts ADD FOREIGN KEY (office, thread_id) REFERENCES threads (office, id);
ALTER TABLE outbox ADD FOREIGN KEY (office, thread_id) REFERENCES threads (office, id);
ALTER TABLE outbox ADD FOREIGN KEY (office, linkedid) REFERENCES calls (office, linkedid);
ALTER TABLE outbox ADD FOREIGN KEY (office, alert_id) REFERENCES alerts (office, id);
ALTER TABLE outbox ADD FOREIGN KEY (office, carried_by) REFERENCES outbox (office, id);
ALTER TABLE inbox ADD FOREIGN KEY (office, thread_id) REFERENCES threads (office, id);
ALTER TABLE owner_actions ADD FOREIGN KEY (office, thread_id) REFERENCES threads (office, id);
ALTER TABLE thread_notes ADD FOREIGN KEY (office, thread_id) REFERENCES threads (office, id);
ALTER TABLE lead_steps ADD FOREIGN KEY (office, thread_id) REFERENCES threads (office, id);

-- The unique indexes, per office.
DROP INDEX one_textback_per_call;
CREATE UNIQUE INDEX one_textback_per_call ON outbox (office, linkedid) WHERE kind = 'textback';
DROP INDEX inbox_once;
CREATE UNIQUE INDEX inbox_once ON inbox (office, sender, network_time, md5(body)) WHERE network_time IS NOT NULL;

-- Every other index with the office in front: each bridge's reads walk its
-- own office's entries, however many offices share the tables.
DROP INDEX calls_by_end, calls_by_caller, calls_by_thread, calls_missed, calls_unalerted;
CREATE INDEX calls_by_end ON calls (office, ended_at);
CREATE INDEX calls_by_caller ON calls (office, caller, ended_at);
CREATE INDEX calls_by_thread ON calls (office, thread_id, ended_at);
CREATE INDEX calls_missed ON calls (office, outcome, dry_run, ended_at);
CREATE INDEX calls_unalerted ON calls (office, ended_at) WHERE alerted = 0 AND thread_id IS NOT NULL;

DROP INDEX outbox_due, outbox_by_number, outbox_by_thread, outbox_by_call, outbox_by_alert,
    outbox_textbacks, outbox_carried;
CREATE INDEX outbox_due ON outbox (office, state, next_attempt_at);
CREATE INDEX outbox_by_number ON outbox (office, to_number, created_at);
CREATE INDEX outbox_by_thread ON outbox (office, thread_id);
CREATE INDEX outbox_by_call ON outbox (office, linkedid) WHERE linkedid IS NOT NULL;
CREATE INDEX outbox_by_alert ON outbox (office, alert_id) WHERE alert_id IS NOT NULL;
CREATE INDEX outbox_textbacks ON outbox (office, kind, state, created_at);
CREATE INDEX outbox_carried ON outbox (office, carried_by) WHERE carried_by IS NOT NULL;

DROP INDEX inbox_by_sender, inbox_by_thread, inbox_unalerted;
CREATE INDEX inbox_by_sender ON inbox (office, sender, received_at);
CREATE INDEX inbox_by_thread ON inbox (office, thread_id, owner_id);
CREATE INDEX inbox_unalerted ON inbox (office, received_at) WHERE alerted = 0 AND keyword IS NULL;

DROP INDEX threads_by_caller, threads_listing, threads_timers, threads_nudge, threads_handled,
    threads_by_created, threads_urgent, threads_by_status_activity, threads_assigned;
CREATE INDEX threads_by_caller ON threads (office, caller, status);
CREATE INDEX threads_listing ON threads (office, ((status IN ('new', 'awaiting_reply', 'replied'))), last_activity_at);
CREATE INDEX threads_timers ON threads (office, status, reminded_at, last_activity_at);
CREATE INDEX threads_nudge ON threads (office, last_activity_at) WHERE status = 'awaiting_reply' AND nudged_at IS NULL;
CREATE INDEX threads_handled ON threads (office, status, handled_at);
CREATE INDEX threads_by_created ON threads (office, created_at);
CREATE INDEX threads_urgent ON threads (office, last_activity_at) WHERE urgent = 1 AND status IN ('new', 'awaiting_reply', 'replied');
CREATE INDEX threads_by_status_activity ON threads (office, status, last_activity_at);
CREATE INDEX threads_assigned ON threads (office, assigned_to, last_activity_at) WHERE assigned_to IS NOT NULL;

DROP INDEX alerts_due, alerts_by_thread;
CREATE INDEX alerts_due ON alerts (office, state, next_attempt_at);
CREATE INDEX alerts_by_thread ON alerts (office, thread_id, channel, recipient);

DROP INDEX owner_actions_by_thread, thread_notes_by_thread, lead_steps_by_thread;
CREATE INDEX owner_actions_by_thread ON owner_actions (office, thread_id, at);
CREATE INDEX thread_notes_by_thread ON thread_notes (office, thread_id, at);
CREATE INDEX lead_steps_by_thread ON lead_steps (office, thread_id, id);

-- Row security: each office's rows for its own connections only, the
-- tables' owner (the store's role) included. A superuser or a BYPASSRLS
-- role would pass through it: the store refuses to connect as one.
DO $$
DECLARE
    name TEXT;
BEGIN
    FOREACH name IN ARRAY ARRAY['threads', 'calls', 'alerts', 'outbox', 'opt_outs', 'inbox',
        'owner_actions', 'digests', 'open_calls', 'bridge_state', 'owner_passwords',
        'thread_notes', 'lead_steps']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', name);
        EXECUTE format('CREATE POLICY own_office ON %I USING (office = textback_office())'
                       ' WITH CHECK (office = textback_office())', name);
    END LOOP;
END
$$;
