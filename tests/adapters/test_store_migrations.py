"""The SQLite schema as numbered files: they build exactly the schema each
version had (tests/fixtures/schema, dumped from the inline migrations they
replaced), and a store with data at any earlier version upgrades to the
current one keeping all of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from bridge.core.ledger import BOOKED, LeadState, LeadStep
from bridge.core.texts import OutgoingText
from bridge.store import SCHEMA_VERSION, ConstraintViolation, Store, StoreError
from bridge.store.sqlite import MIGRATIONS
from bridge.store.sqlite.migrate import split_statements
from tests.support.paths import FIXTURES
from tests.support.store_values import (
    CALLER,
    DOMAIN,
    LATER,
    LINE,
    OTHER,
    T0,
    a_text,
    decision,
    email,
)

GOLDEN = FIXTURES / "schema"
MOMENTS = {
    f"t{n}": (T0 + timedelta(minutes=n)).isoformat(timespec="milliseconds") for n in range(4)
}
LEAD = "+15125550188"  # the caller of the thread every version from 5 on has


def schema(db: sqlite3.Connection) -> list[dict[str, object]]:
    rows = db.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()
    return [
        {
            "type": t,
            "name": n,
            "tbl_name": table,
            "sql": None if sql is None else " ".join(sql.split()),
        }
        for t, n, table, sql in rows
    ]


def golden(version: int) -> list[dict[str, object]]:
    fixture = json.loads((GOLDEN / f"sqlite_v{version}.json").read_text())
    assert fixture["schema_version"] == version
    return list(fixture["objects"])


def test_the_migration_files_are_versions_one_to_fifteen() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, 16))
    assert SCHEMA_VERSION == 15
    assert MIGRATIONS[0].name == "0001_calls.sql"
    # 14 (offices) and 15 (their thread sequences) change PostgreSQL's schema
    # only: SQLite's file keeps the number in step.
    postgres_only = {14, 15}
    assert all(m.statements for m in MIGRATIONS if m.version not in postgres_only)
    assert not any(m.statements for m in MIGRATIONS if m.version in postgres_only)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION + 1))
def test_the_first_files_build_exactly_the_schema_that_version_had(version: int) -> None:
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in MIGRATIONS[:version]:
            for statement in migration.statements:
                db.execute(statement)
        assert schema(db) == golden(version)


async def test_a_new_store_has_exactly_todays_schema(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert schema(db) == golden(SCHEMA_VERSION)
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_statements_are_split_where_sqlite_says_they_end() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (a TEXT DEFAULT 'x;y');
    /* block; comment */ INSERT INTO t VALUES ('it''s; fine');

    -- trailing comment
    """
    assert split_statements(script) == (
        "-- a comment; with a semicolon\n    CREATE TABLE t (a TEXT DEFAULT 'x;y');",
        "/* block; comment */ INSERT INTO t VALUES ('it''s; fine');",
    )
    assert split_statements("SELECT 1;\nSELECT 2") == ("SELECT 1;", "SELECT 2;")
    with pytest.raises(ValueError, match="unfinished"):
        split_statements("CREATE TABLE t (a TEXT);\nINSERT INTO t VALUES ('no end)")


# Rows as each version's bridge wrote them, inserted right after that
# version's file ran, so an older store carries rows of every age.
SEEDS: dict[int, tuple[str, ...]] = {
    1: (
        "INSERT INTO calls (linkedid, outcome, reason, caller, caller_raw, caller_name, withheld,"
        " line, line_name, started_at, ended_at, voicemail_left, dial_status, answered_by, detail,"
        " source, dry_run, decided_at) VALUES"
        " ('v1-missed', 'missed', 'NOANSWER', '+15125559876', '+15125559876', 'Jane', 0,"
        "  '+15125550100', 'Main line', :t0, :t0, NULL, 'NOANSWER', NULL, 'dial ended NOANSWER',"
        "  'ami', 0, :t0),"
        " ('v1-answered', 'answered', NULL, '+15125550142', '+15125550142', 'Bob', 0,"
        "  '+15125550100', 'Main line', :t0, :t0, NULL, 'ANSWER', 'PJSIP/201-00000001',"
        "  'answered by PJSIP/201', 'ami', 0, :t0)",
    ),
    2: (
        "INSERT INTO outbox (kind, linkedid, to_number, body, parts, state, attempts, created_at,"
        " next_attempt_at, expires_at, sent_at, refs) VALUES ('textback', 'v1-missed',"
        " '+15125559876', 'Sorry we missed you', 1, 'sent', 1, :t0, :t0, :t1, :t0, '[5]')",
        "INSERT INTO opt_outs VALUES ('+15125550142', 1, 'STOP', 'sms', :t0)",
    ),
    3: (
        "INSERT INTO inbox (sender, body, parts, keyword, received_at, stored_at)"
        " VALUES ('+15125559876', 'hello from version 3', 1, NULL, :t1, :t1)",
    ),
    4: (
        "INSERT INTO outbox (kind, to_number, body, parts, state, attempts, created_at,"
        " next_attempt_at, expires_at, maybe_sent) VALUES ('confirmation', '+15125550177',"
        " 'maybe sent in version 4', 1, 'queued', 1, :t1, :t1, :t3, 1)",
    ),
    5: (
        "INSERT INTO threads (id, caller, line, status, created_at, last_activity_at)"
        " VALUES (1, '+15125550188', '+15125550100', 'replied', :t1, :t2)",
        "INSERT INTO calls (linkedid, outcome, reason, caller, caller_raw, caller_name, withheld,"
        " line, line_name, started_at, ended_at, dial_status, detail, source, dry_run,"
        " decided_at, thread_id) VALUES ('v5-missed', 'missed', 'BUSY', '+15125550188',"
        " '+15125550188', 'Lee', 0, '+15125550100', 'Main line', :t1, :t1, 'BUSY',"
        " 'dial ended BUSY', 'ami', 0, :t1, 1)",
        "INSERT INTO outbox (kind, linkedid, to_number, body, parts, state, attempts, created_at,"
        " next_attempt_at, expires_at, sent_at, refs, delivered_refs, thread_id) VALUES"
        " ('textback', 'v5-missed', '+15125550188', 'Sorry, version 5', 1, 'delivered', 1, :t1,"
        " :t1, :t2, :t1, '[6]', '[6]', 1)",
        "INSERT INTO inbox (sender, body, parts, keyword, received_at, stored_at, thread_id)"
        " VALUES ('+15125550188', 'a reply in version 5', 1, NULL, :t2, :t2, 1)",
    ),
    6: (
        "INSERT INTO calls (linkedid, outcome, reason, caller, caller_raw, caller_name, withheld,"
        " line, line_name, started_at, ended_at, dial_status, detail, source, dry_run,"
        " decided_at, thread_id, alerted) VALUES ('v6-missed', 'missed', 'NOANSWER',"
        " '+15125550188', '+15125550188', 'Lee', 0, '+15125550100', 'Main line', :t3, :t3,"
        " 'NOANSWER', 'dial ended NOANSWER', 'ami', 0, :t3, 1, 0)",
        "INSERT INTO alerts (thread_id, owner_id, channel, kind, recipient, subject, body_text,"
        " message_id, state, next_attempt_at, created_at) VALUES (1, 'mike', 'email', 'reply',"
        " 'mike@acme.example', 'Reply', 'a reply in version 5', '<textback.thread1@acme.example>',"
        " 'queued', :t2, :t2)",
    ),
    7: (
        "INSERT INTO owner_actions (thread_id, owner_id, action, body, at)"
        " VALUES (1, 'mike', 'reply', 'On my way', :t3)",
        "INSERT INTO outbox (kind, to_number, body, parts, state, created_at, next_attempt_at,"
        " expires_at, thread_id, from_line) VALUES ('reply', '+15125550188', 'On my way', 1,"
        " 'queued', :t3, :t3, :t3, 1, '+15125550100')",
        "INSERT INTO digests VALUES ('mike', '2026-11-24')",
        "INSERT INTO alerts (owner_id, channel, kind, recipient, subject, body_text, message_id,"
        " state, next_attempt_at, created_at) VALUES ('mike', 'email', 'digest',"
        " 'mike@acme.example', 'Yesterday', '1 open', '<textback.digest.v7@acme.example>',"
        " 'sent', :t3, :t3)",
    ),
    8: (
        # Left 'sending' by a crash, before texts were bound to a transport.
        "INSERT INTO outbox (kind, to_number, body, parts, state, attempts, created_at,"
        " next_attempt_at, expires_at) VALUES ('confirmation', '+15125550166',"
        " 'interrupted in version 8', 1, 'sending', 1, :t3, :t3, :t3)",
    ),
}


def store_at(path: Path, version: int) -> None:
    """A store as the bridge of ``version`` left it, rows of every version in it."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in MIGRATIONS[:version]:
            for statement in (*migration.statements, *SEEDS.get(migration.version, ())):
                db.execute(statement, MOMENTS)
        db.execute("INSERT INTO schema_version VALUES (?)", (version,))
        db.commit()


async def events_of(store: Store, thread_id: int) -> list[tuple[str, str]]:
    found = await store.thread(thread_id)
    assert found is not None
    return [(event.what, event.text) for event in found[1]]


async def check_calls_and_texts(store: Store, version: int) -> None:
    """What versions 1 to 4 wrote: calls, a text-back, an opt-out, a text in."""
    missed, answered = await store.call("v1-missed"), await store.call("v1-answered")
    assert missed is not None
    assert answered is not None
    assert (missed.outcome, missed.caller, missed.text_skip, missed.thread_id) == (
        "missed", CALLER, None, None,
    )  # fmt: skip
    assert (answered.outcome, answered.answered_by) == ("answered", "PJSIP/201-00000001")
    if version >= 2:
        assert missed.text_state == "sent"
        assert await store.is_opted_out(OTHER)
        assert (await store.text_history(CALLER, T0)).ever_texted
        delivered = await store.record_delivery(5, CALLER, True)  # its delivered_refs: added in 3
        assert delivered is not None
        assert (await store.call("v1-missed")).text_state == "delivered"  # type: ignore[union-attr]
    if version >= 3:
        inbox = {row["body"]: row for row in await store.inbox()}
        assert inbox["hello from version 3"]["thread_id"] is None
    if version >= 4:
        due = {t.body: t for t in await store.due_texts(LATER)}
        assert due["maybe sent in version 4"].maybe_sent is True


async def check_threads_and_alerts(store: Store, version: int) -> None:
    """What versions 5 to 7 wrote: a thread with its call, texts, alerts, actions."""
    summary = await store.thread_summary(1)
    assert summary is not None
    assert (summary.caller, summary.line, summary.calls) == (LEAD, LINE, 2 if version >= 6 else 1)
    assert summary.last_reply == "a reply in version 5"
    events = await events_of(store, 1)
    assert ("text out (delivered)", "Sorry, version 5") in events
    assert ("text in", "a reply in version 5") in events
    # Open before follow-through existed: not reminded or nudged all at once.
    (state,) = await store.open_threads()
    assert state.reminded_at is not None
    assert state.nudged_at is not None
    news = await store.unalerted()
    # What was there before alerts existed is news to nobody; later news still is.
    assert [(e.kind, e.thread_id) for e in news] == ([("missed_call", 1)] if version >= 6 else [])
    if version >= 6:
        (root,) = await store.due_alerts(LATER, "email")
        assert root.message_id == "<textback.thread1@acme.example>"
        await store.queue_alerts([(news[0], [email()])], DOMAIN)
        later = (await store.due_alerts(LATER, "email"))[-1]
        assert later.in_reply_to == root.message_id  # the thread stays one conversation
    if version >= 8:
        assert await store.recover_interrupted() == 1
        (was_sending,) = [t for t in await store.due_texts(LATER) if t.to_number == "+15125550166"]
        # Which transport had it is not known: it may go through any, as before.
        assert (was_sending.maybe_sent, was_sending.transport, was_sending.pinned) == (
            True, None, None,
        )  # fmt: skip
    if version >= 7:
        assert ("owner mike: reply", "On my way") in events
        assert await store.digest_sent("mike", date(2026, 11, 24))
        replies = [t for t in await store.due_texts(LATER) if t.kind == "reply"]
        assert [(t.body, t.from_line) for t in replies] == [("On my way", LINE)]


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
async def test_a_store_at_every_earlier_version_upgrades_keeping_its_data(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / f"v{version}.db"
    store_at(path, version)
    async with await Store.open(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        await check_calls_and_texts(store, version)
        if version >= 5:
            await check_threads_and_alerts(store, version)
            # The ledger works on a thread from before it existed.
            booked = await store.lead_step("mike", LeadStep(1, BOOKED, 45000))
            assert booked is not None
            assert (booked.outcome, booked.closed) == ("recorded", True)
            assert [lead.state for lead in (await store.report(None)).leads] == [
                LeadState(BOOKED, 45000)
            ]
        # And it works as a current store: a new call, its thread and text.
        assert await store.record_decision(decision("after", caller=OTHER), text=a_text(OTHER))
        assert (await store.call("after")).thread_id is not None  # type: ignore[union-attr]
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert schema(db) == golden(SCHEMA_VERSION)


async def test_a_version_6_store_upgrades_keeping_its_texts_and_alerts(tmp_path: Path) -> None:
    """Migration 7 rebuilds outbox and alerts: nothing in them may be lost."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in MIGRATIONS[:6]:
            for statement in migration.statements:
                db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (6)")
        t0, t1 = "2026-11-24T15:00:00.000+00:00", "2026-11-24T15:30:00.000+00:00"
        db.execute(
            "INSERT INTO threads (caller, line, status, created_at, last_activity_at)"
            " VALUES ('+15125559876', '+15125550100', 'awaiting_reply', ?, ?)",
            (t0, t0),
        )
        db.execute(
            "INSERT INTO outbox (kind, to_number, body, parts, state, created_at,"
            " next_attempt_at, expires_at, refs, delivered_refs, maybe_sent, thread_id)"
            " VALUES ('textback', '+15125559876', 'héllo 👍', 1, 'sent', ?, ?, ?,"
            " '[7]', '[7]', 1, 1)",
            (t0, t0, t1),
        )
        db.execute(
            "INSERT INTO alerts (thread_id, owner_id, channel, kind, recipient, subject,"
            " body_text, message_id, state, next_attempt_at, created_at)"
            " VALUES (1, 'mike', 'email', 'reply', 'm@x.example', 's', 'b', '<a@x>', 'sent',"
            " ?, ?)",
            (t0, t0),
        )
    async with await Store.open(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        (text,) = await store.outbox()
        assert (text["body"], text["refs"], text["maybe_sent"], text["from_line"]) == (
            "héllo 👍", "[7]", 1, "+15125550100",  # the line filled in from the thread
        )  # fmt: skip
        (alert,) = await store.alerts()
        assert (alert["message_id"], alert["state"]) == ("<a@x>", "sent")
        # An open thread from before is not reminded about, nor nudged, all at once.
        (state,) = await store.open_threads()
        assert state.reminded_at is not None
        assert state.nudged_at is not None
        # The rebuilt table takes the new kinds; its CHECK still refuses nonsense.
        nudge = OutgoingText("+15125559876", "hi", 1, T0, kind="nudge")
        await store.queue_text(nudge, thread_id=1)
        with pytest.raises(ConstraintViolation):
            await store.queue_text(OutgoingText("+1", "x", 1, T0, kind="spam"))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_a_failed_upgrade_leaves_the_store_at_its_version(tmp_path: Path) -> None:
    """Each file runs in one transaction with the version bump: all or nothing."""
    path = tmp_path / "v7.db"
    store_at(path, 7)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE open_calls (linkedid TEXT)")  # in version 8's way
        db.commit()
    with pytest.raises(StoreError, match="open_calls already exists"):
        await Store.open(path)
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(7,)]
        columns = [row[1] for row in db.execute("PRAGMA table_info(inbox)")]
        assert "network_time" not in columns  # the file's first statement was undone


async def test_two_processes_upgrading_one_store_at_once_both_open_it(tmp_path: Path) -> None:
    """The version is read inside each migration's transaction: the second
    finds the work done, not half done (`textback run` and `textback handled`
    started together after an upgrade)."""
    path = tmp_path / "v6.db"
    store_at(path, 6)
    first, second = await asyncio.gather(Store.open(path), Store.open(path))
    try:
        assert await first.schema_version() == await second.schema_version() == SCHEMA_VERSION
        assert (await first.call("v6-missed")) is not None
    finally:
        await first.close()
        await second.close()
