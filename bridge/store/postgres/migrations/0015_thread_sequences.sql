-- Version 15: each office numbers its threads from a sequence of its own.
-- Version 14's counter row (thread_numbers), bumped under its lock, was held
-- by every transaction that opened a thread until that one committed, so an
-- office's threads were opened one commit at a time (bench/store.py, the
-- same run: 10 decisions at once went from ~400 to ~200 a second). A
-- sequence hands out a number and holds nothing; a number taken by a
-- transaction that rolled back is skipped, as the identity column's were
-- before version 14.

-- Office o's sequence: thread_number_<o>, quoted (an office id may hold a -).
CREATE FUNCTION textback_thread_sequence(office TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT format('%I', 'thread_number_' || office) $$;

-- What a bridge does at each start (bridge/store/postgres/opening.py): its
-- office listed, and its sequence there.
CREATE FUNCTION textback_register_office(office TEXT, seen TEXT) RETURNS VOID
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    INSERT INTO offices (id, first_seen) VALUES (office, seen) ON CONFLICT DO NOTHING;
    EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s AS BIGINT', textback_thread_sequence(office));
EXCEPTION WHEN unique_violation THEN
    NULL;  -- another bridge of the office, starting at the same moment, made both
END
$$;

-- The threads' default keeps calling this function: the same one, replaced.
CREATE OR REPLACE FUNCTION textback_next_thread() RETURNS BIGINT
LANGUAGE sql VOLATILE
AS $$ SELECT nextval(textback_thread_sequence(textback_office())::regclass) $$;

-- Every office's numbers go on from its counter.
DO $$
DECLARE
    office TEXT;
BEGIN
    FOR office IN SELECT id FROM offices UNION SELECT n.office FROM thread_numbers n
    LOOP
        EXECUTE format('CREATE SEQUENCE %s AS BIGINT', textback_thread_sequence(office));
    END LOOP;
    PERFORM setval(textback_thread_sequence(n.office)::regclass, n.last) FROM thread_numbers n;
END
$$;

DROP TABLE thread_numbers;
