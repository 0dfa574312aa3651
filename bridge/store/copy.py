"""`textback store copy SRC DST`: an office's history from one store into
another - SQLite into PostgreSQL, or back - row for row, ids and all.

Table-generic: the tables, their columns, keys and foreign keys are read from
the stores' own catalogues (each backend's ``dump`` module), so a table a
later migration adds is copied with no change here. Both stores must be at
the same schema version (the target is migrated up when opened; the source
is only read, inside one snapshot). Parents are copied before the tables
that reference them; a column that references its own table (a batch's
``carried_by``) is filled in once all that table's rows are there.

Idempotent: a row whose key the target already holds is skipped - if it is
the same row. A different row under the same key (another office's history,
or a bridge that has run on the target since) stops the copy: nothing is
merged. The whole copy is one transaction on the target, so a refusal, an
error or ^C half-way leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bridge.store.catalogue import Row, Table
from bridge.store.errors import StoreError
from bridge.store.postgres import PostgresOptions, is_postgres_url
from bridge.store.postgres.dump import open_postgres_tables
from bridge.store.sqlite.dump import open_sqlite_tables, sqlite_file

__all__ = [
    "BATCH_ROWS",
    "Copied",
    "CopyRefused",
    "PostgresOptions",
    "Progress",
    "TableSource",
    "TableTarget",
    "copy_store",
    "copy_tables",
    "in_reference_order",
    "is_postgres_url",
    "open_source",
    "open_target",
    "sqlite_file",
]

BATCH_ROWS = 1_000


class CopyRefused(StoreError):
    """The copy would mix two offices' histories, or the stores do not match."""


class TableSource(Protocol):
    """A store's tables, read (backends: bridge/store/*/dump.py)."""

    @property
    def where(self) -> str: ...

    async def schema_version(self) -> int: ...

    async def tables(self) -> list[Table]:
        """Every table but the version table."""
        ...

    async def count(self, table: Table) -> int: ...

    async def rows(self, table: Table, after: Row | None, limit: int) -> list[Row]:
        """Up to ``limit`` rows in key order, those after the key ``after``."""
        ...

    async def close(self) -> None: ...


class TableTarget(TableSource, Protocol):
    """A store's tables, written in one transaction: begin, then commit or rollback."""

    async def begin(self) -> None: ...

    async def existing(self, table: Table, keys: Sequence[Row]) -> dict[Row, Row]:
        """The rows it holds under these keys (columns in ``table``'s order), by key."""
        ...

    async def insert(self, table: Table, rows: Sequence[Row]) -> int:
        """Add the rows, skipping any that clash with one there; how many were added."""
        ...

    async def update(self, table: Table, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Set ``columns`` of the rows keyed by each row's last values."""
        ...

    async def finish(self, table: Table) -> None:
        """After a table's rows: what the backend needs (PostgreSQL: its sequences on)."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Copied:
    table: str
    new: int
    already: int


class Progress(Protocol):
    """Told as the copy goes: the CLI's progress bar or plain lines."""

    def table(self, name: str, total: int) -> None: ...

    def advance(self, rows: int) -> None: ...

    def done(self, copied: Copied) -> None: ...


class _Quiet:
    def table(self, name: str, total: int) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def done(self, copied: Copied) -> None:
        pass


async def open_source(target: str, options: PostgresOptions | None = None) -> TableSource:
    """The store at ``target`` (a URL or a SQLite path), only read, at this build's version."""
    if is_postgres_url(target):
        return await open_postgres_tables(target, options or PostgresOptions(), writes=False)
    return await open_sqlite_tables(sqlite_file(target), writes=False)


async def open_target(target: str, options: PostgresOptions | None = None) -> TableTarget:
    """The store at ``target``, created if need be and migrated to this build's version."""
    if is_postgres_url(target):
        return await open_postgres_tables(target, options or PostgresOptions(), writes=True)
    return await open_sqlite_tables(sqlite_file(target), writes=True)


def in_reference_order(tables: Sequence[Table]) -> list[Table]:
    """Each table after every table it references (ties by name, so runs agree)."""
    pending = {table.name: table for table in tables}
    ordered: list[Table] = []
    while pending:
        ready = sorted(
            name for name, table in pending.items() if not (table.references & pending.keys())
        )
        if not ready:
            raise CopyRefused(f"the tables' foreign keys form a cycle: {sorted(pending)}")
        for name in ready:
            ordered.append(pending.pop(name))
    return ordered


async def copy_tables(
    source: TableSource,
    target: TableTarget,
    *,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> list[Copied]:
    """Every table of ``source`` into ``target``, in one transaction on the target."""
    tables = await _matching_tables(source, target)
    watcher = progress or _Quiet()
    await target.begin()
    try:
        copied = [await _copy_table(source, target, table, watcher, batch_rows) for table in tables]
    except BaseException:
        await target.rollback()
        raise
    await target.commit()
    return copied


async def _matching_tables(source: TableSource, target: TableTarget) -> list[Table]:
    """The source's tables in reference order, once both stores are known to match."""
    version, target_version = await source.schema_version(), await target.schema_version()
    if version != target_version:
        raise CopyRefused(
            f"{source.where} is at schema version {version} and {target.where} at"
            f" {target_version}: a copy needs both at the same version - this textback"
            " builds both at the same version once its SQLite and PostgreSQL schemas match"
        )
    theirs = {table.name: set(table.columns) for table in await target.tables()}
    tables = await source.tables()
    for table in tables:
        if not table.key:
            raise CopyRefused(f"{source.where}: {table.name} has no primary key to copy it by")
        if theirs.get(table.name) != set(table.columns):
            raise CopyRefused(
                f"{target.where} has no table {table.name} with the columns"
                f" {source.where} has ({', '.join(table.columns)}): not the same schema"
            )
    return in_reference_order(tables)


async def _copy_table(
    source: TableSource, target: TableTarget, table: Table, progress: Progress, batch_rows: int
) -> Copied:
    progress.table(table.name, await source.count(table))
    new = already = 0
    later: list[Row] = []  # self-referencing values, set once the whole table is there
    after: Row | None = None
    while rows := await source.rows(table, after, batch_rows):
        after = table.key_of(rows[-1])
        there = await target.existing(table, [table.key_of(row) for row in rows])
        fresh = []
        for row in rows:
            key = table.key_of(row)
            held = there.get(key)
            if held is None:
                fresh.append(_without_self_references(table, row, later))
            elif tuple(held) != tuple(row):
                raise _different(source, target, table, key)
        added = await target.insert(table, fresh)
        if added != len(fresh):
            raise CopyRefused(
                f"{target.where}: {len(fresh) - added} of {table.name}'s rows clash with rows"
                f" it holds under other keys (another office's history?): nothing was copied"
            )
        new += added
        already += len(rows) - len(fresh)
        progress.advance(len(rows))
    if later:
        await target.update(table, table.self_columns, later)
    await target.finish(table)
    copied = Copied(table.name, new, already)
    progress.done(copied)
    return copied


def _without_self_references(table: Table, row: Row, later: list[Row]) -> Row:
    """``row`` with its references to its own table emptied, kept in ``later``
    (values, then key) when any was set: the row referenced may come later."""
    if not table.self_columns:
        return row
    at = [table.columns.index(column) for column in table.self_columns]
    values = tuple(row[i] for i in at)
    if all(value is None for value in values):
        return row
    later.append(values + table.key_of(row))
    return tuple(None if i in at else value for i, value in enumerate(row))


def _different(source: TableSource, target: TableTarget, table: Table, key: Row) -> CopyRefused:
    shown = ", ".join(f"{column}={value!r}" for column, value in zip(table.key, key, strict=True))
    return CopyRefused(
        f"{target.where} holds a different {table.name} row under {shown} than"
        f" {source.where}: it holds another office's history, or a bridge has written"
        " to it since the last copy - refusing to merge them (nothing was copied)"
    )


async def copy_store(
    source_at: str,
    target_at: str,
    *,
    options: PostgresOptions | None = None,
    target_options: PostgresOptions | None = None,
    progress: Progress | None = None,
    batch_rows: int = BATCH_ROWS,
) -> list[Copied]:
    """Open both stores (the source first: a source this build cannot read
    leaves the target untouched), copy, close both. ``options`` for both
    stores, unless ``target_options`` are the target's own."""
    source = await open_source(source_at, options)
    try:
        target = await open_target(target_at, target_options or options)
        try:
            return await copy_tables(source, target, progress=progress, batch_rows=batch_rows)
        finally:
            await target.close()
    finally:
        await source.close()
