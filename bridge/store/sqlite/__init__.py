"""The SQLite backend: one file in WAL mode, reached through its own thread (database.py)."""

from __future__ import annotations

from bridge.store.sqlite.connection import Clock
from bridge.store.sqlite.migrate import MIGRATIONS, SCHEMA_VERSION
from bridge.store.sqlite.store import SqliteStore

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Clock", "SqliteStore"]
