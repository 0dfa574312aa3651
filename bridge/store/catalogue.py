"""A table as a store's own catalogue describes it (sqlite_master, pg_catalog):
what `textback store copy` (bridge/store/copy.py) needs to copy any table
without knowing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

Row: TypeAlias = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """One table as a store's catalogue describes it."""

    name: str
    columns: tuple[str, ...]  # in the order rows are read and written
    key: tuple[str, ...]  # the primary key's columns
    references: frozenset[str]  # the other tables its foreign keys name
    self_columns: tuple[str, ...] = ()  # columns referencing this table itself

    def key_of(self, row: Row) -> Row:
        return tuple(row[self.columns.index(column)] for column in self.key)


def quoted(name: str) -> str:
    """An identifier from the catalogue, quoted for SQL (both dialects quote alike)."""
    return '"' + name.replace('"', '""') + '"'
