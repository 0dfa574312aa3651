"""The SQLite store, on real files."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.texts import OutgoingText
from bridge.store import SCHEMA_VERSION, ConstraintViolation, Store, StoreError

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def decision(linkedid: str = "1795617278.10", **overrides: object) -> CallDecision:
    fields: dict[str, object] = {
        "linkedid": linkedid,
        "outcome": Outcome.MISSED,
        "reason": Reason.NOANSWER,
        "caller": "+15125559876",
        "caller_raw": "+15125559876",
        "caller_name": "Jane Caller",
        "line": "+15125550100",
        "line_name": "Main line",
        "started_at": T0,
        "ended_at": T0,
        "dial_status": "NOANSWER",
        "detail": "dial ended NOANSWER",
    }
    fields.update(overrides)
    return CallDecision(**fields)  # type: ignore[arg-type]


async def test_a_decision_is_stored_once_whatever_is_replayed(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        assert await store.record_decision(decision()) is True
        assert await store.record_decision(decision()) is False
        assert await store.record_decision(decision(outcome=Outcome.ANSWERED)) is False
        (row,) = await store.recent_calls()
    assert (row.outcome, row.reason, row.caller, row.withheld) == (
        "missed",
        "NOANSWER",
        "+15125559876",
        False,
    )


async def test_decisions_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "t.db"
    async with await Store.open(path) as store:
        await store.record_decision(decision("a"))
        await store.record_decision(decision("b", outcome=Outcome.ANSWERED, reason=None))
    async with await Store.open(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        assert {c.linkedid for c in await store.recent_calls()} == {"a", "b"}
        assert await store.record_decision(decision("a")) is False
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


async def test_two_processes_racing_on_one_call_store_it_once(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as first, await Store.open(path) as second:
        results = await asyncio.gather(
            first.record_decision(decision()), second.record_decision(decision())
        )
    assert sorted(results) == [False, True]


async def test_the_constraint_not_python_refuses_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        await store.record_decision(decision())
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute(
            "INSERT INTO calls (linkedid, outcome, caller_raw, caller_name, withheld, started_at,"
            " ended_at, detail, source, dry_run, decided_at)"
            " VALUES ('1795617278.10', 'missed', '', '', 0, '', '', '', 'ami', 0, '')"
        )


async def test_a_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path):
        pass
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="schema version 99, newer than"):
        await Store.open(path)


async def test_an_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the store"):
        await Store.open(blocker / "t.db")


async def test_untrusted_text_is_stored_as_data(tmp_path: Path) -> None:
    nasty = "x'); DROP TABLE calls; --\x1b[2J"
    async with await Store.open(tmp_path / "t.db") as store:
        await store.record_decision(decision(caller_name=nasty, caller_raw=nasty))
        (row,) = await store.recent_calls()
    assert row.caller_name == nasty


def a_text(to: str = "+15125559876") -> OutgoingText:
    return OutgoingText(to, "Sorry we missed your call", 1, T0 + timedelta(minutes=30))


async def test_a_text_back_is_queued_in_the_same_transaction_as_its_decision(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        assert await store.record_decision(decision(), text=a_text()) is True
        # The same call again, however it arrives, never queues a second text.
        assert await store.record_decision(decision(), text=a_text()) is False
        (queued,) = await store.outbox()
        (call,) = await store.recent_calls()
    assert (queued["state"], queued["to_number"], queued["kind"]) == (
        "queued", "+15125559876", "textback",
    )  # fmt: skip
    assert call.text_state == "queued"


async def test_the_database_itself_refuses_a_second_text_back_for_a_call(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        await store.record_decision(decision(), text=a_text())
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute(
            "INSERT INTO outbox (kind, linkedid, to_number, body, parts, state, created_at,"
            " next_attempt_at, expires_at) VALUES ('textback', '1795617278.10', '+1', 'x', 1,"
            " 'queued', '', '', '')"
        )


async def test_a_skipped_text_back_keeps_its_reason(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        await store.record_decision(decision(), text_skip="opted-out")
        (call,) = await store.recent_calls()
        assert await store.outbox() == []
    assert (call.text_skip, call.text_state) == ("opted-out", None)
    assert call.as_json()["text_skip"] == "opted-out"


async def test_history_feeds_cooldown_cap_and_opt_out(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        now = datetime.now(UTC)
        empty = await store.text_history("+15125559876", now)
        assert (empty.opted_out, empty.last_textback_at, empty.textbacks_last_hour) == (
            False,
            None,
            0,
        )
        await store.record_decision(decision("a"), text=a_text())
        await store.record_decision(
            decision("b", caller="+15125550142"), text=a_text("+15125550142")
        )
        seen = await store.text_history("+15125559876", now)
        assert seen.last_textback_at is not None
        assert seen.textbacks_last_hour == 2
        assert seen.ever_texted is False  # queued is not sent
        await store.set_opt_out(
            "+15125559876", opted_out=True, keyword="STOP", source="sms", at=now
        )
        stopped = await store.text_history("+15125559876", now)
        assert stopped.opted_out is True
        states = {row["to_number"]: row["state"] for row in await store.outbox()}
        # Opting out cancels what was still queued to that number, and only that.
        assert states == {"+15125559876": "cancelled", "+15125550142": "queued"}
        await store.set_opt_out(
            "+15125559876", opted_out=False, keyword="START", source="sms", at=now
        )
        assert (await store.text_history("+15125559876", now)).opted_out is False


async def test_concurrent_writers_never_share_a_transaction(tmp_path: Path) -> None:
    """The decision recorder and the outbox worker use one connection at once
    (found by bench/latency.py: 'cannot start a transaction within a transaction')."""
    async with await Store.open(tmp_path / "t.db") as store:
        first = await store.queue_text(a_text("+15125550142"))

        async def worker() -> None:
            for _ in range(30):
                await store.mark_sending(first)
                await store.mark_retry(first, "again", datetime.now(UTC))

        await asyncio.gather(
            worker(),
            *(
                store.record_decision(decision(f"call-{n}", caller=f"+1737555{n:04d}"),
                                      text=a_text(f"+1737555{n:04d}"))
                for n in range(30)
            ),
        )  # fmt: skip
        assert len(await store.recent_calls(100)) == 30
        assert len(await store.outbox(100)) == 31


async def test_a_version_6_store_upgrades_keeping_its_texts_and_alerts(tmp_path: Path) -> None:
    """Migration 7 rebuilds outbox and alerts: nothing in them may be lost."""
    from bridge.store.sqlite import MIGRATIONS

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


async def test_a_failed_write_leaves_no_transaction_open(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        with pytest.raises(ConstraintViolation):
            await store.queue_text(OutgoingText("+1", "x", 1, T0, kind="spam"))
        # Another process can write at once: no lock was left behind.
        with sqlite3.connect(path, timeout=0.1) as other:
            other.execute("INSERT INTO schema_version VALUES (0)")
        assert await store.queue_text(OutgoingText("+15125559876", "ok", 1, T0)) == 1
