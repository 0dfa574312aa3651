"""The SQLite store's trips to its database thread (issue 14 item 6): each
operation on a text-back's way - the history the policy reads, the decision
with its thread and text, the calls in progress, the due texts, the claim and
the sent mark - is one trip, committed (WAL, synchronous FULL) before it
returns; a recorder's batch of a burst (its 20 decisions) is one trip and
one commit, and so is the alert worker's poll of news (it must not hold the
connection between a text-back's trips); a cancel never leaves half a
transaction behind."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.core.callbacks import CALLED, ThreadLink
from bridge.core.calls import CallDecision, OpenCall, Outcome
from bridge.core.recording import HistoryOf, Planned
from bridge.store import Store, StoreError
from bridge.store.sqlite.database import BlockingSql, Database
from tests.support.polling import until
from tests.support.store_values import (
    CALLER,
    LATER,
    T0,
    a_text,
    decision,
    email,
    sms,
)


class Statements:
    """What the store's connection runs, as its probe sees it."""

    def __init__(self, store: Store):
        self.db: Database = store._db
        self.seen: list[str] = []
        self.db.probe = lambda sql, params: self.seen.append(" ".join(sql.split()))

    async def trips(self, operation: Awaitable[Any]) -> tuple[int, list[str]]:
        """How many trips ``operation`` took, and the statements it ran."""
        trips, self.seen = self.db.trips, []
        await operation
        return self.db.trips - trips, self.seen


async def test_each_operation_of_a_text_backs_way_is_one_trip(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        watch = Statements(store)
        assert (await watch.trips(store.text_history(CALLER, T0)))[0] == 1
        assert (await watch.trips(store.save_open_calls([OpenCall("a", "{}", T0)])))[0] == 1
        trips, ran = await watch.trips(store.record_decision(decision("a"), text=a_text()))
        assert trips == 1
        assert ran[0] == "BEGIN IMMEDIATE"
        assert ran[-1] == "COMMIT"
        assert any(s.startswith("INSERT INTO threads") for s in ran)  # a new thread, and
        assert any(s.startswith("INSERT INTO outbox") for s in ran)  # its text, with it
        assert (await watch.trips(store.due_texts(LATER)))[0] == 1
        (text,) = await store.due_texts(LATER)
        assert (await watch.trips(store.mark_sending(text.id, "modem", [3])))[0] == 1
        trips, ran = await watch.trips(store.mark_sent(text.id, [7], T0))
        assert (trips, ran[-1]) == (1, "COMMIT")
        assert (await store.threads())[0].status == "awaiting_reply"


def _text_everyone(call: CallDecision, history_of: HistoryOf) -> Planned:
    return Planned(a_text(call.caller or ""))


async def test_a_burst_of_calls_is_one_trip_and_one_commit(tmp_path: Path) -> None:
    """A batch of the recorder's (record_in_order): a sync of the log for all of it."""
    async with await Store.open(tmp_path / "t.db") as store:
        watch = Statements(store)
        burst = [
            item
            for n in range(50)
            for item in (OpenCall(f"c{n}", "{}", T0), decision(f"c{n}", caller=f"+1512555{n:04d}"))
        ]
        trips, ran = await watch.trips(store.record_in_order(burst, _text_everyone, T0))
        assert trips == 1
        assert ran.count("COMMIT") == 1
        assert len(await store.due_texts(LATER, limit=100)) == 50


async def test_a_polls_worth_of_owner_alerts_is_one_trip_and_one_commit(tmp_path: Path) -> None:
    """The alert worker queues what it found since its last look (seconds of
    missed calls in a burst) together: one trip, however many."""
    async with await Store.open(tmp_path / "t.db") as store:
        calls = [decision(f"c{n}", caller=f"+1512555{n:04d}") for n in range(30)]
        await store.record_in_order(calls, _text_everyone, T0)
        news = await store.unalerted()
        assert len(news) == 30
        watch = Statements(store)
        batch = [(event, [email(), sms()]) for event in news]
        trips, ran = await watch.trips(store.queue_alerts(batch, "textback.example"))
        assert trips == 1
        assert ran.count("COMMIT") == 1
        assert await store.unalerted() == []
        assert len(await store.alerts()) == 60
        texts = await store.due_texts(LATER, limit=100)
        assert sum(t.kind == "owner_alert" for t in texts) == 30


async def test_a_call_back_on_a_thread_is_one_trip(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        await store.record_decision(decision("missed"))
        watch = Statements(store)
        called = ThreadLink(CALLER, CALLED, "called back by 201")
        back = decision("out", outcome=Outcome.OUTBOUND)
        assert (await watch.trips(store.record_decision(back, link=called)))[0] == 1
        assert (await store.threads())[0].status == "handled"


async def test_commits_are_on_disk_before_they_return(tmp_path: Path) -> None:
    """WAL with synchronous FULL: a COMMIT returns once the log is synced."""
    async with await Store.open(tmp_path / "t.db") as store:
        db: Database = store._db
        assert [tuple(r) for r in await db.execute_fetchall("PRAGMA journal_mode")] == [("wal",)]
        assert [tuple(r) for r in await db.execute_fetchall("PRAGMA synchronous")] == [(2,)]


async def test_a_cancel_lets_a_running_transaction_end_whole(tmp_path: Path) -> None:
    """Cancelled while its transaction waits on the thread for another
    writer's lock: the cancel comes once the transaction has committed, all
    of it, and the store goes on."""
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        began = threading.Event()
        store._db.probe = lambda sql, _: began.set() if sql.startswith("BEGIN") else None
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # the write lock, held elsewhere
            recording = asyncio.create_task(store.record_decision(decision("a"), text=a_text()))
            await until(began.is_set)
            recording.cancel()
            other.execute("ROLLBACK")
            with pytest.raises(asyncio.CancelledError):
                await recording
        (call,) = await store.recent_calls()
        assert call.thread_id is not None
        assert call.text_state == "queued"
        assert await store.record_decision(decision("b")) is True


async def test_a_trip_cancelled_before_the_thread_takes_it_never_runs(tmp_path: Path) -> None:
    db = await Database.connect(tmp_path / "t.db")
    try:
        release, ran = threading.Event(), []
        busy = asyncio.create_task(db.call(lambda _: release.wait(5)))
        queued = asyncio.create_task(db.call(lambda sql: ran.append(sql)))
        await until(lambda: db.trips == 2)  # both handed to the thread; the first holds it
        queued.cancel()
        await asyncio.wait([queued], timeout=5)  # taken back while the thread is held
        release.set()
        await busy
        assert queued.cancelled()
        assert await db.call(lambda _: "after") == "after"
        assert ran == []
    finally:
        await db.close()


@pytest.mark.parametrize(
    "use",
    [lambda db: db.execute("SELECT 1"), lambda db: db.call(lambda sql: sql.scalar("SELECT 1"))],
)
async def test_a_closed_store_says_so(
    tmp_path: Path, use: Callable[[Database], Awaitable[Any]]
) -> None:
    store = await Store.open(tmp_path / "t.db")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.recent_calls()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        await use(store._db)


async def test_the_connection_refuses_any_thread_but_its_own(tmp_path: Path) -> None:
    """Used from the event loop's thread by mistake, it fails loudly."""
    db = await Database.connect(tmp_path / "t.db")
    try:
        with pytest.raises(sqlite3.ProgrammingError, match="thread"):
            BlockingSql(db._conn, None).scalar("SELECT 1")
    finally:
        await db.close()
