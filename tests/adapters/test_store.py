"""What only the SQLite store has: a file in WAL mode, constraints in the
schema itself, sqlite3's errors turned into the store's own, its opening
messages. Behaviour every store shares is in tests/contract/."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from bridge.core.calls import Outcome
from bridge.core.texts import OutgoingText
from bridge.store import (
    SCHEMA_VERSION,
    ConstraintViolation,
    ReadOnlyStore,
    Store,
    StoreError,
    StoreUnavailable,
)
from bridge.store.sqlite.connection import store_error
from tests.support.store_values import T0, a_text, decision


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


async def test_a_failed_write_leaves_no_transaction_open(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        with pytest.raises(ConstraintViolation):
            await store.queue_text(OutgoingText("+1", "x", 1, T0, kind="spam"))
        # Another process can write at once: no lock was left behind.
        with sqlite3.connect(path, timeout=0.1) as other:
            other.execute("INSERT INTO schema_version VALUES (0)")
        assert await store.queue_text(OutgoingText("+15125559876", "ok", 1, T0)) == 1


async def test_a_failed_transaction_leaves_no_lock_behind(tmp_path: Path) -> None:
    """Several statements, the last one refused: none of them stays, nor the lock."""
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        with pytest.raises(ConstraintViolation):
            await store.record_decision(decision(), text=a_text(kind="spam"))
        with sqlite3.connect(path, timeout=0.1) as other:
            other.execute("INSERT INTO schema_version VALUES (0)")
        assert await store.recent_calls() == []
        assert await store.threads() == []


async def test_a_locked_store_is_unavailable_not_an_sqlite3_error(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        await store._db.execute("PRAGMA busy_timeout = 0")  # fail at once, not in 5 s
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
            with pytest.raises(StoreUnavailable, match="locked"):
                await store.record_decision(decision())
            with pytest.raises(StoreUnavailable, match="locked"):
                await store.mark_seen(T0)
            other.execute("ROLLBACK")
        assert await store.record_decision(decision()) is True


async def test_a_reader_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path):
        pass
    async with await Store.open(path, read_only=True) as reader:
        with pytest.raises(ReadOnlyStore, match="readonly"):
            await reader.record_decision(decision())
        with pytest.raises(ReadOnlyStore):
            await reader.mark_sending(1, "modem")
        assert await reader.recent_calls() == []


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (5, StoreUnavailable),  # SQLITE_BUSY
        (6, StoreUnavailable),  # SQLITE_LOCKED
        (10 | (3 << 8), StoreUnavailable),  # SQLITE_IOERR_WRITE: an extended code
        (13, StoreUnavailable),  # SQLITE_FULL
        (8, ReadOnlyStore),  # SQLITE_READONLY
        (19 | (6 << 8), ConstraintViolation),  # SQLITE_CONSTRAINT_TRIGGER (RAISE(ABORT))
        (1, StoreError),  # SQLITE_ERROR: a bug, not a condition to wait out
    ],
)
def test_sqlite_errors_become_the_stores_own(code: int, kind: type[StoreError]) -> None:
    raised = sqlite3.OperationalError("what SQLite said")
    raised.sqlite_errorcode = code  # type: ignore[attr-defined]
    error = store_error(raised)
    assert type(error) is kind
    assert str(error) == "what SQLite said"


async def test_two_bridges_creating_one_store_at_once_both_open_it(tmp_path: Path) -> None:
    """The version is read inside each migration's transaction: the second
    finds the work done, not half done."""
    path = tmp_path / "t.db"
    first, second = await asyncio.gather(Store.open(path), Store.open(path))
    try:
        assert [await first.schema_version(), await second.schema_version()] == [
            SCHEMA_VERSION, SCHEMA_VERSION,
        ]  # fmt: skip
    finally:
        await first.close()
        await second.close()
