"""A SQLite store's tables for `textback store copy` (bridge/store/copy.py):
described from sqlite_master and its pragmas, read in key order inside one
read transaction (a snapshot, even with a bridge writing), written with
INSERT OR IGNORE in one write transaction."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from bridge.store.catalogue import Row, Table, quoted
from bridge.store.sqlite.connection import Connection, Sql, mapped_errors
from bridge.store.sqlite.database import BlockingSql
from bridge.store.sqlite.migrate import schema_version
from bridge.store.sqlite.opening import open_connection

_VERSION_TABLE = "schema_version"


def sqlite_file(target: str) -> Path:
    """``sqlite:///abs/path`` or a plain path, as the file it names."""
    if target.startswith("sqlite:///"):
        return Path("/" + target.removeprefix("sqlite:///").lstrip("/"))
    return Path(target)


async def open_sqlite_tables(path: Path, *, writes: bool) -> SqliteTables:
    """The store at ``path``: only read (at exactly this build's version), or
    created if need be and migrated up (``writes``)."""
    connection = await open_connection(path, read_only=not writes)
    tables = SqliteTables(connection)
    if not writes:
        try:
            await tables.run("BEGIN")  # one snapshot for the whole read
        except BaseException:
            await connection.close()
            raise
    return tables


def _describe(sql: BlockingSql, name: str) -> Table:
    columns = sql.rows(f"PRAGMA table_info({quoted(name)})")
    keys = sorted((column["pk"], column["name"]) for column in columns if column["pk"])
    references = sql.rows(f"PRAGMA foreign_key_list({quoted(name)})")
    return Table(
        name=name,
        columns=tuple(column["name"] for column in columns),
        key=tuple(key for _, key in keys),
        references=frozenset(ref["table"] for ref in references) - {name},
        self_columns=tuple(ref["from"] for ref in references if ref["table"] == name),
    )


def _catalogue(sql: BlockingSql) -> list[Table]:
    names = sql.rows(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name != ? ORDER BY name",
        (_VERSION_TABLE,),
    )
    return [_describe(sql, row["name"]) for row in names]


def _key_list(table: Table, count: int) -> str:
    """``WHERE`` for ``count`` keys: ``k IN (?, ...)``, or row values for a compound key."""
    if len(table.key) == 1:
        return f"{quoted(table.key[0])} IN ({', '.join('?' * count)})"
    one = "(" + ", ".join("?" * len(table.key)) + ")"
    return f"({_key_columns(table)}) IN (VALUES {', '.join([one] * count)})"


def _key_columns(table: Table) -> str:
    return ", ".join(quoted(column) for column in table.key)


class SqliteTables:
    """Both sides of a copy for one SQLite file (copy.TableSource, copy.TableTarget)."""

    def __init__(self, connection: Connection):
        self._conn = connection

    @property
    def where(self) -> str:
        return str(self._conn.path)

    def _statements(self) -> contextlib.AbstractAsyncContextManager[Sql]:
        """Statements on the connection, in whichever transaction is open (begin, BEGIN)."""
        return self._conn.reading()

    async def run(self, statement: str) -> None:
        with mapped_errors():
            await self._conn.raw.execute(statement)

    async def schema_version(self) -> int:
        async with self._statements() as sql:
            return await schema_version(sql)

    async def tables(self) -> list[Table]:
        return await self._conn.run_read(_catalogue)

    async def count(self, table: Table) -> int:
        async with self._statements() as sql:
            return int(await sql.scalar(f"SELECT count(*) FROM {quoted(table.name)}"))  # noqa: S608 -- names from the catalogue, quoted

    async def rows(self, table: Table, after: Row | None, limit: int) -> list[Row]:
        columns = ", ".join(quoted(column) for column in table.columns)
        where = ""
        if after is not None:
            where = f" WHERE ({_key_columns(table)}) > ({', '.join('?' * len(after))})"
        statement = (
            f"SELECT {columns} FROM {quoted(table.name)}{where}"  # noqa: S608 -- names from the catalogue, quoted
            f" ORDER BY {_key_columns(table)} LIMIT {int(limit)}"
        )
        async with self._statements() as sql:
            return [tuple(row) for row in await sql.rows(statement, after or ())]

    async def begin(self) -> None:
        # IMMEDIATE: the write lock first, so nothing else writes between check and insert.
        await self.run("BEGIN IMMEDIATE")

    async def existing(self, table: Table, keys: Sequence[Row]) -> dict[Row, Row]:
        if not keys:
            return {}
        columns = ", ".join(quoted(column) for column in table.columns)
        where = _key_list(table, len(keys))
        statement = f"SELECT {columns} FROM {quoted(table.name)} WHERE {where}"  # noqa: S608 -- names from the catalogue, quoted
        flat = [value for key in keys for value in key]
        async with self._statements() as sql:
            found = [tuple(row) for row in await sql.rows(statement, flat)]
        return {table.key_of(row): row for row in found}

    async def insert(self, table: Table, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        columns = ", ".join(quoted(column) for column in table.columns)
        statement = (
            f"INSERT OR IGNORE INTO {quoted(table.name)} ({columns})"  # noqa: S608 -- names from the catalogue, quoted
            f" VALUES ({', '.join('?' * len(table.columns))})"
        )

        def insert(sql: BlockingSql) -> int:
            before = int(sql.scalar("SELECT total_changes()"))
            sql.run_many(statement, rows)
            return int(sql.scalar("SELECT total_changes()")) - before

        async with self._statements() as sql:
            return await sql.call(insert)

    async def update(self, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        settings = ", ".join(f"{quoted(column)} = ?" for column in columns)
        keys = " AND ".join(f"{quoted(column)} = ?" for column in table.key)
        async with self._statements() as sql:
            await sql.run_many(f"UPDATE {quoted(table.name)} SET {settings} WHERE {keys}", rows)  # noqa: S608 -- names from the catalogue, quoted

    async def finish(self, table: Table) -> None:
        """Nothing: an INTEGER PRIMARY KEY numbers on from the largest there."""

    async def commit(self) -> None:
        await self.run("COMMIT")

    async def rollback(self) -> None:
        with mapped_errors():
            await self._conn.raw.rollback()

    async def close(self) -> None:
        try:
            with contextlib.suppress(sqlite3.Error):
                await self._conn.raw.rollback()  # the reader's snapshot; a no-op otherwise
        finally:
            await self._conn.close()
