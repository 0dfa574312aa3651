"""The pool every aggregate shares, and the only ways to use it.

Each store method takes a connection from the pool for as long as it needs
one: a read, one statement committed on its own, or a READ COMMITTED
transaction committed whole or rolled back (on any error, a cancel, or
:meth:`Transaction.undo`). Statements are written as for SQLite - ``?`` or
``:name`` placeholders - and numbered ``$1, $2...`` here once per statement
text, so a method ported from bridge/store/sqlite keeps its shape. asyncpg's
and the socket's exceptions become the store's own here, at the boundary,
and nowhere else.

What SQLite gets from having one writer at a time, PostgreSQL transactions
get from :func:`lock_number`: a per-number advisory lock, taken first in any
transaction that reads a number's texts or threads before it writes them.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bridge.store.errors import ConstraintViolation, ReadOnlyStore, StoreError, StoreUnavailable

Clock = Callable[[], datetime]
Params: TypeAlias = Sequence[Any] | Mapping[str, Any]
Row: TypeAlias = asyncpg.Record
Conn: TypeAlias = "asyncpg.Connection | PoolConnectionProxy"

# A placeholder outside quotes: ? or :name (not a ::cast).
_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|(?<!:):([A-Za-z_]\w*)|\?")
# SQLSTATE classes a retry may get past: connection trouble, resources,
# a server shutting down, a deadlock or serialization failure.
_UNAVAILABLE_CLASSES = ("08", "53", "57", "40", "58")
# InternalClientError: a pooled connection the server dropped, caught mid-operation.
_NOT_REACHED = (
    OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
    asyncpg.InternalClientError,
)  # fmt: skip


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> tuple[str, tuple[str, ...] | int]:
    """``sql`` with $n placeholders, and the names they bind in order (or how
    many ``?`` there are)."""
    names: list[str] = []
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        text = match.group(0)
        if text.startswith("'"):
            return text
        if text == "?":
            count += 1
            return f"${count}"
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    out = _PLACEHOLDER.sub(replace, sql)
    if names and count:
        raise ValueError("a statement mixes ? and :name placeholders")
    return out, tuple(names) if names else count


def bind(sql: str, params: Params) -> tuple[str, list[Any]]:
    text, names = numbered(sql)
    if isinstance(names, tuple):
        assert isinstance(params, Mapping), "named placeholders take a mapping"
        return text, [params[name] for name in names]
    values = list(params.values()) if isinstance(params, Mapping) else list(params)
    if len(values) != names:
        raise ValueError(f"{names} placeholders, {len(values)} values: {sql.strip()[:60]!r}")
    return text, values


def store_error(exc: BaseException) -> StoreError:
    """The store's exception for what asyncpg or the socket raised, in its own words."""
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return ConstraintViolation(str(exc))
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return ReadOnlyStore(str(exc))
    if isinstance(exc, _NOT_REACHED):
        return StoreUnavailable(f"the PostgreSQL server cannot be reached: {exc or type(exc)}")
    state = getattr(exc, "sqlstate", "") or ""
    if state[:2] in _UNAVAILABLE_CLASSES:
        return StoreUnavailable(str(exc))
    return StoreError(str(exc))


@contextlib.contextmanager
def mapped_errors() -> Iterator[None]:
    try:
        yield
    except (asyncpg.PostgresError, *_NOT_REACHED) as exc:
        raise store_error(exc) from exc


class Sql:
    """Statements on one of the pool's connections."""

    def __init__(self, conn: Conn):
        self._c = conn

    async def rows(self, sql: str, params: Params = ()) -> list[Row]:
        text, values = bind(sql, params)
        return list(await self._c.fetch(text, *values))

    async def row(self, sql: str, params: Params = ()) -> Row | None:
        text, values = bind(sql, params)
        return await self._c.fetchrow(text, *values)

    async def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row (None: no row)."""
        found = await self.row(sql, params)
        return None if found is None else found[0]

    async def run(self, sql: str, params: Params = ()) -> None:
        text, values = bind(sql, params)
        await self._c.execute(text, *values)

    async def run_many(self, sql: str, params: Iterable[Params]) -> None:
        bound = [bind(sql, p) for p in params]
        if bound:
            await self._c.executemany(bound[0][0], [values for _, values in bound])


class Transaction(Sql):
    def __init__(self, conn: Conn):
        super().__init__(conn)
        self.undone = False

    def undo(self) -> None:
        """Roll back instead of committing when the block ends."""
        self.undone = True


def as_dict(row: Row) -> dict[str, object]:
    """A whole row as SQLite's store gives it: without its office (this
    connection's, always: row security shows no other)."""
    return {name: value for name, value in row.items() if name != "office"}


async def lock_number(sql: Sql, number: str | None) -> None:
    """Hold ``number`` until this transaction ends: another bridge's transaction
    for the same number waits here, so what this one counts (caps), looks up
    (its open thread, its opt-out, a copy of a text) stays true until it
    commits. Taken before any row lock, so two never wait on each other."""
    if number is not None:
        # The office's own: one office's calls never wait on another's.
        await sql.run(
            "SELECT pg_advisory_xact_lock(hashtextextended(textback_office() || ' ' || ?, 0))",
            (number,),
        )


class Database:
    def __init__(self, pool: asyncpg.Pool, where: str):
        self._pool = pool
        self.where = where  # the server and database, without a password: for messages

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Sql]:
        with mapped_errors():
            async with self._pool.acquire() as conn:
                yield Sql(conn)

    async def write(self, sql: str, params: Params = ()) -> list[Row]:
        """One statement, committed on its own (its RETURNING rows, if any)."""
        with mapped_errors():
            async with self._pool.acquire() as conn:
                return await Sql(conn).rows(sql, params)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """Several statements committed together, or none of them (READ COMMITTED:
        what must not change under the block is locked by it, see lock_number)."""
        with mapped_errors():
            async with self._pool.acquire() as conn:
                transaction = Transaction(conn)
                tx = conn.transaction()
                await tx.start()
                try:
                    yield transaction
                except BaseException:
                    # A connection that broke cannot roll back: the pool resets or
                    # drops it on release, and the block's own error is what counts.
                    with contextlib.suppress(Exception):
                        await tx.rollback()
                    raise
                await (tx.rollback() if transaction.undone else tx.commit())

    async def close(self) -> None:
        await self._pool.close()


class Aggregate:
    """What every aggregate's methods share: the pool, and the clock that
    stamps rows (follow-up timers compare against it, so tests inject one)."""

    _conn: Database
    _clock: Clock
