"""The database's own thread: one sqlite3 connection, used there and nowhere else.

sqlite3 blocks, so the store hands its work to this thread and awaits the
answer. Each handoff is a *trip*: the function queued to the thread, run,
its result (or exception) handed back to the event loop - about 90 us, more
than most statements cost, so the hot path runs a whole transaction as one
function on this thread (Connection.run_transaction) instead of one trip
per statement (issue 14 item 6). The thread is a one-worker executor, and
sqlite3 checks that its connection is only used by the thread that opened
it: any use from the event loop fails loudly rather than racing.

Our own thread rather than aiosqlite's: aiosqlite has no public way to run a
function on its thread, only one statement per trip.
"""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

Params: TypeAlias = Iterable[Any] | Mapping[str, Any]
# Sees each statement (with its parameters) just before it runs, on the
# database's thread, in the context of the coroutine whose trip runs it: for
# tests that plan every statement, and the bench that counts commits.
Probe: TypeAlias = Callable[[str, Params], None]
T = TypeVar("T")


class BlockingSql:
    """Statements run at once: only for code already on the database's thread."""

    def __init__(self, conn: sqlite3.Connection, probe: Probe | None):
        self._conn = conn
        self._probe = probe

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def rows(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        if self._probe is not None:
            self._probe(sql, params)
        return self._conn.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def row(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None: no row)."""
        found = self.row(sql, params)
        return None if found is None else found[0]

    def run(self, sql: str, params: Params = ()) -> None:
        self.rows(sql, params)

    def run_many(self, sql: str, params: Iterable[Params]) -> None:
        rows = list(params)
        if self._probe is not None:
            self._probe(sql, rows[0] if rows else ())
        self._conn.executemany(sql, rows)  # type: ignore[arg-type]


class BlockingTransaction(BlockingSql):
    """The statements of a transaction run whole on the database's thread
    (Connection.run_transaction), on the connection ``sql`` runs on."""

    def __init__(self, sql: BlockingSql):
        super().__init__(sql._conn, sql._probe)
        self.undone = False

    def undo(self) -> None:
        """Roll back instead of committing when the function returns."""
        self.undone = True


def _connect(target: str | Path, uri: bool) -> sqlite3.Connection:
    # isolation_level None: sqlite3 never begins a transaction behind our back
    # (see connection.py).
    conn = sqlite3.connect(target, uri=uri, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


class Database:
    """The connection on its thread. Open with ``await Database.connect(...)``;
    always close it."""

    def __init__(self, conn: sqlite3.Connection, thread: ThreadPoolExecutor):
        self._conn = conn
        self._thread = thread
        self._closed = False
        self.trips = 0  # how many functions were handed to the thread (the bench counts them)
        self.probe: Probe | None = None

    @classmethod
    async def connect(cls, target: str | Path, *, uri: bool = False) -> Database:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textback-store")
        try:
            conn = await asyncio.wrap_future(thread.submit(_connect, target, uri))
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(conn, thread)

    async def call(self, work: Callable[[BlockingSql], T]) -> T:
        """``work`` run on the database's thread: one trip, whatever it runs.

        A cancel takes back a trip still waiting for the thread; one already
        running there is waited for (it ends as it would have: committed or
        rolled back whole), so whatever is sent next finds the connection as
        that trip left it. Then the cancel goes on."""
        if self._closed:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        self.trips += 1
        sql = BlockingSql(self._conn, self.probe)
        if self.probe is None:
            running: Future[T] = self._thread.submit(work, sql)
        else:  # the probe sees which coroutine's trip it is in
            running = self._thread.submit(contextvars.copy_context().run, work, sql)
        try:
            return await asyncio.wrap_future(running)
        except asyncio.CancelledError:
            if not running.cancelled():
                await asyncio.wait([asyncio.wrap_future(running)])
            raise

    async def execute(self, sql: str, params: Params = ()) -> None:
        await self.call(lambda blocking: blocking.run(sql, params))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return await self.call(lambda blocking: blocking.rows(sql, params))

    async def executemany(self, sql: str, params: Iterable[Params]) -> None:
        await self.call(lambda blocking: blocking.run_many(sql, params))

    async def commit(self) -> None:
        await self.call(_end("COMMIT"))

    async def rollback(self) -> None:
        """A no-op when no transaction is open (SQLite may have rolled it back
        itself, on some errors)."""
        await self.call(_end("ROLLBACK"))

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await self.call(lambda _: self._conn.close())
        finally:
            self._closed = True
            self._thread.shutdown(wait=False)


def _end(statement: str) -> Callable[[BlockingSql], None]:
    def end(sql: BlockingSql) -> None:
        if sql.in_transaction:
            sql.run(statement)

    return end
