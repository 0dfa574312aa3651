"""The one connection every aggregate shares, and the only ways to use it.

Store methods run one at a time on it (a lock), so one coroutine's
transaction is never joined, or committed, by another's. Python never begins
a transaction behind our back (``isolation_level=None``): a write is either
one statement, which SQLite commits on its own, or several in a transaction
- BEGIN IMMEDIATE ... COMMIT, rolled back on any error or a cancel. A
transaction is either one function run whole on the database's thread
(:meth:`Connection.run_transaction`: one trip, for the hot path) or a block
of awaited statements (:meth:`Connection.transaction`: a trip each).
sqlite3's exceptions become the store's own here, at the boundary, and
nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar

from bridge.store.errors import (
    ConstraintViolation,
    ReadOnlyStore,
    StoreError,
    StoreUnavailable,
)
from bridge.store.sqlite.database import BlockingSql, BlockingTransaction, Database, Params

Clock = Callable[[], datetime]
P = ParamSpec("P")
T = TypeVar("T")

# SQLite's primary result codes (an extended code's low byte).
_UNAVAILABLE = {
    5,  # SQLITE_BUSY: another writer held the lock past busy_timeout
    6,  # SQLITE_LOCKED
    7,  # SQLITE_NOMEM
    10,  # SQLITE_IOERR: the disk failed
    13,  # SQLITE_FULL: the disk is full
    14,  # SQLITE_CANTOPEN: a journal file could not be created
    15,  # SQLITE_PROTOCOL
}
_READONLY = 8
_CONSTRAINT = 19


def store_error(exc: sqlite3.Error) -> StoreError:
    """The store's exception for what sqlite3 raised, with SQLite's own words."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = str(exc)
    if primary == _CONSTRAINT or isinstance(exc, sqlite3.IntegrityError):
        return ConstraintViolation(message)
    if primary == _READONLY:
        return ReadOnlyStore(message)
    if primary in _UNAVAILABLE:
        return StoreUnavailable(message)
    return StoreError(message)


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise store_error(exc) from exc


class Sql:
    """Statements on the shared connection, each one trip to the database's thread."""

    def __init__(self, db: Database):
        self._db = db

    async def rows(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return await self._db.execute_fetchall(sql, params)

    async def row(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        found = await self.rows(sql, params)
        return found[0] if found else None

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None: no row)."""
        found = await self.row(sql, params)
        return None if found is None else found[0]

    async def run(self, sql: str, params: Params = ()) -> None:
        await self._db.execute(sql, params)

    async def run_many(self, sql: str, params: Iterable[Params]) -> None:
        await self._db.executemany(sql, params)

    async def call(self, work: Callable[[BlockingSql], T]) -> T:
        """``work``'s statements in one trip, inside this block (its transaction, if any)."""
        return await self._db.call(work)


class Transaction(Sql):
    def __init__(self, db: Database):
        super().__init__(db)
        self.undone = False

    def undo(self) -> None:
        """Roll back instead of committing when the block ends."""
        self.undone = True


class OneTrip(Generic[P, T]):
    """A few statements written once for both kinds of caller: ``.now(sql,
    ...)`` from a function already on the database's thread (inside
    run_transaction), ``await step(sql, ...)`` from a coroutine's block - all
    of them in one trip. Made by decorating the blocking function."""

    def __init__(self, now: Callable[Concatenate[BlockingSql, P], T]):
        self.now = now
        self.__doc__ = now.__doc__

    async def __call__(self, sql: Sql, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await sql.call(lambda blocking: self.now(blocking, *args, **kwargs))


def one_trip(now: Callable[Concatenate[BlockingSql, P], T]) -> OneTrip[P, T]:
    return OneTrip(now)


def _whole(work: Callable[[BlockingTransaction], T]) -> Callable[[BlockingSql], T]:
    """``work`` as one transaction, for the database's thread. IMMEDIATE: see
    Connection.transaction. COMMIT returns once SQLite has it on disk (WAL,
    synchronous FULL: opening.py), so what it returns may be acted on."""

    def transact(sql: BlockingSql) -> T:
        tx = BlockingTransaction(sql)
        tx.run("BEGIN IMMEDIATE")
        try:
            result = work(tx)
            tx.run("ROLLBACK" if tx.undone else "COMMIT")
        except BaseException:
            if tx.in_transaction:  # SQLite rolls some failures back itself
                tx.run("ROLLBACK")
            raise
        return result

    return transact


class Connection:
    def __init__(self, db: Database, path: Path):
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @property
    def raw(self) -> Database:
        """The bare connection, past the lock and the error mapping: for tests
        that inject faults or watch statements (``probe``), and the bench that
        counts trips - never for the store itself."""
        return self._db

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Sql]:
        async with self._lock:
            with mapped_errors():
                yield Sql(self._db)

    async def write(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """One statement, committed on its own (its RETURNING rows, if any)."""
        async with self._lock:
            with mapped_errors():
                return await Sql(self._db).rows(sql, params)

    async def run_read(self, work: Callable[[BlockingSql], T]) -> T:
        """``work``'s reads in one trip to the database's thread."""
        async with self._lock:
            with mapped_errors():
                return await self._db.call(work)

    async def run_transaction(self, work: Callable[[BlockingTransaction], T]) -> T:
        """``work`` as one transaction in one trip: its statements committed
        together (or none of them, if it raises or calls ``undo``) before this
        returns. A cancel lets a transaction already on the database's thread
        end as it would have (Database.call)."""
        async with self._lock:
            with mapped_errors():
                return await self._db.call(_whole(work))

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Several statements committed together, or none of them, each its
        own trip (run_transaction is one). IMMEDIATE: the write lock is taken
        first, so what the block reads stays true until it commits, whichever
        process writes next."""
        async with self._lock:
            with mapped_errors():
                transaction = Transaction(self._db)
                try:
                    await self._db.execute("BEGIN IMMEDIATE")
                    yield transaction
                    await (self._db.rollback() if transaction.undone else self._db.commit())
                except BaseException:
                    # A failed write must not leave its transaction open, holding
                    # the database's write lock for whoever comes next. Always
                    # asked: the database's thread runs it after whatever was
                    # already sent, and it is a no-op when nothing is open.
                    await asyncio.shield(self._db.rollback())
                    raise

    async def close(self) -> None:
        await self._db.close()


class Aggregate:
    """What every aggregate's methods share: the connection, and the clock that
    stamps rows (follow-up timers compare against it, so tests inject one)."""

    _conn: Connection
    _clock: Clock
