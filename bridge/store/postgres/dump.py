"""A PostgreSQL store's tables for `textback store copy` (bridge/store/copy.py):
described from pg_catalog, read in key order inside one REPEATABLE READ
read-only transaction (a snapshot, even with bridges writing), written a
batch per statement (``unnest`` of one array per column) with ON CONFLICT DO
NOTHING, in one transaction; each identity column's sequence is then moved
past the largest id copied, and the office's thread numbers on from its
threads'. Only this connection's office is read or written (row security,
migrations/0014_offices.sql): the ``office`` column is left out of the
tables as described, so both backends' tables look alike."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg

from bridge.store.catalogue import Row, Table, quoted
from bridge.store.postgres.connection import Conn, mapped_errors
from bridge.store.postgres.migrate import schema_version
from bridge.store.postgres.opening import PostgresOptions, open_database

# Not an office's history: the version, and the fleet's own list of offices.
_NOT_COPIED = ["schema_version", "offices"]
# Every row's office: read and written as this connection's (row security
# and the column's default), so the copy never names it.
_OFFICE = "office"

_TABLES = """
SELECT c.oid, c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
  AND c.relname <> ALL ($1::text[])
ORDER BY c.relname
"""
# Columns in order, with their types (for the arrays a batch travels in) and
# whether an identity or serial sequence numbers them.
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type,
       pg_get_serial_sequence(quote_ident($2), a.attname) AS sequence
FROM pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""
_KEY = """
SELECT a.attname FROM pg_index i
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indrelid = $1 AND i.indisprimary
ORDER BY k.n
"""
_PAST_COPIED = """
SELECT setval($1, max({column})) FROM {table}
HAVING max({column}) > (
    SELECT coalesce(s.last_value, 0) FROM pg_sequences s
    WHERE format('%I.%I', s.schemaname, s.sequencename)::regclass = $1::regclass
)
"""
# What numbers this office's threads (migration 15): a sequence of its own.
_THREAD_SEQUENCE = "SELECT textback_thread_sequence(textback_office())"
_REFERENCES = """
SELECT c.confrelid::regclass::text AS parent, a.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
WHERE c.conrelid = $1 AND c.contype = 'f'
"""


async def open_postgres_tables(
    url: str, options: PostgresOptions, *, writes: bool
) -> PostgresTables:
    """The store at ``url``: only read (at exactly this build's version), or
    migrated up (``writes``)."""
    database = await open_database(url, options, read_only=not writes)
    stack = contextlib.AsyncExitStack()
    try:
        stack.push_async_callback(database.close)
        with mapped_errors():
            conn = await stack.enter_async_context(database.pool.acquire())
            tables = PostgresTables(conn, database.where, stack)
            if not writes:
                await tables.start("REPEATABLE READ", read_only=True)
    except BaseException:
        await stack.aclose()
        raise
    return tables


class PostgresTables:
    """Both sides of a copy for one database (copy.TableSource, copy.TableTarget),
    on one connection of its pool."""

    def __init__(self, conn: Conn, where: str, resources: contextlib.AsyncExitStack):
        self._c = conn
        self._where = where
        self._resources = resources
        self._transaction: asyncpg.transaction.Transaction | None = None
        self._types: dict[str, dict[str, str]] = {}  # table -> column -> type
        self._sequences: dict[str, dict[str, str]] = {}  # table -> column -> sequence

    @property
    def where(self) -> str:
        return self._where

    @contextlib.asynccontextmanager
    async def _sql(self) -> AsyncIterator[Conn]:
        with mapped_errors():
            yield self._c

    async def start(self, isolation: str, *, read_only: bool) -> None:
        async with self._sql() as conn:
            self._transaction = conn.transaction(
                isolation="repeatable_read" if isolation == "REPEATABLE READ" else "read_committed",
                readonly=read_only,
            )
            await self._transaction.start()

    async def schema_version(self) -> int:
        async with self._sql() as conn:
            return await schema_version(conn)

    async def tables(self) -> list[Table]:
        async with self._sql() as conn:
            found = await conn.fetch(_TABLES, _NOT_COPIED)
            return [await self._describe(conn, row["oid"], row["relname"]) for row in found]

    async def _describe(self, conn: Conn, oid: int, name: str) -> Table:
        columns = [c for c in await conn.fetch(_COLUMNS, oid, name) if c["attname"] != _OFFICE]
        self._types[name] = {column["attname"]: column["type"] for column in columns}
        self._sequences[name] = {
            column["attname"]: column["sequence"] for column in columns if column["sequence"]
        }
        references = [r for r in await conn.fetch(_REFERENCES, oid) if r["attname"] != _OFFICE]
        key = [row["attname"] for row in await conn.fetch(_KEY, oid)]
        return Table(
            name=name,
            columns=tuple(column["attname"] for column in columns),
            key=tuple(column for column in key if column != _OFFICE),
            references=frozenset(ref["parent"] for ref in references) - {name},
            self_columns=tuple(ref["attname"] for ref in references if ref["parent"] == name),
        )

    async def count(self, table: Table) -> int:
        async with self._sql() as conn:
            return int(await conn.fetchval(f"SELECT count(*) FROM {quoted(table.name)}"))  # noqa: S608 -- names from the catalogue, quoted

    async def rows(self, table: Table, after: Row | None, limit: int) -> list[Row]:
        columns = ", ".join(quoted(column) for column in table.columns)
        keys = ", ".join(quoted(column) for column in table.key)
        where = ""
        if after is not None:
            marks = ", ".join(f"${n}" for n in range(1, len(after) + 1))
            where = f" WHERE ({keys}) > ({marks})"
        statement = (
            f"SELECT {columns} FROM {quoted(table.name)}{where}"  # noqa: S608 -- names from the catalogue, quoted
            f" ORDER BY {keys} LIMIT {int(limit)}"
        )
        async with self._sql() as conn:
            return [tuple(row) for row in await conn.fetch(statement, *(after or ()))]

    async def begin(self) -> None:
        await self.start("READ COMMITTED", read_only=False)

    def _arrays(self, table: Table, columns: Sequence[str]) -> str:
        """``unnest($1::type[], ...)``: one array parameter per column."""
        types = self._types[table.name]
        arrays = ", ".join(f"${n}::{types[c]}[]" for n, c in enumerate(columns, start=1))
        return f"unnest({arrays})"

    async def existing(self, table: Table, keys: Sequence[Row]) -> dict[Row, Row]:
        if not keys:
            return {}
        columns = ", ".join(quoted(column) for column in table.columns)
        key = ", ".join(quoted(column) for column in table.key)
        statement = (
            f"SELECT {columns} FROM {quoted(table.name)}"  # noqa: S608 -- names from the catalogue, quoted
            f" WHERE ({key}) IN (SELECT * FROM {self._arrays(table, table.key)})"
        )
        async with self._sql() as conn:
            found = await conn.fetch(statement, *_by_column(keys, len(table.key)))
        return {table.key_of(tuple(row)): tuple(row) for row in found}

    async def insert(self, table: Table, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        columns = ", ".join(quoted(column) for column in table.columns)
        statement = (
            f"INSERT INTO {quoted(table.name)} ({columns})"  # noqa: S608 -- names from the catalogue, quoted
            f" SELECT * FROM {self._arrays(table, table.columns)} ON CONFLICT DO NOTHING"
        )
        async with self._sql() as conn:
            status = await conn.execute(statement, *_by_column(rows, len(table.columns)))
        return int(status.split()[-1])  # "INSERT 0 n"

    async def update(self, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        settings = ", ".join(f"{quoted(column)} = ${n}" for n, column in enumerate(columns, 1))
        keys = " AND ".join(
            f"{quoted(column)} = ${n}" for n, column in enumerate(table.key, len(columns) + 1)
        )
        async with self._sql() as conn:
            await conn.executemany(f"UPDATE {quoted(table.name)} SET {settings} WHERE {keys}", rows)  # noqa: S608 -- names from the catalogue, quoted

    async def finish(self, table: Table) -> None:
        """Each sequence past the largest value its column holds in this office
        (copied or not; never back: other offices draw from it too), and the
        office's thread numbers on from its threads'."""
        async with self._sql() as conn:
            sequences = dict(self._sequences.get(table.name, {}))
            if table.name == "threads":
                sequences["id"] = await conn.fetchval(_THREAD_SEQUENCE)
            for column, sequence in sequences.items():
                statement = _PAST_COPIED.format(column=quoted(column), table=quoted(table.name))
                await conn.execute(statement, sequence)

    async def commit(self) -> None:
        assert self._transaction is not None, "begin first"
        async with self._sql():
            await self._transaction.commit()
        self._transaction = None

    async def rollback(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            with contextlib.suppress(Exception):  # a broken connection cannot; the pool drops it
                await transaction.rollback()

    async def close(self) -> None:
        try:
            await self.rollback()  # the reader's snapshot
        finally:
            await self._resources.aclose()


def _by_column(rows: Sequence[Row], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]
