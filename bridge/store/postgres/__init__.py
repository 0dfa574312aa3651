"""The PostgreSQL backend: a pool of asyncpg connections, READ COMMITTED
transactions, per-number advisory locks where SQLite relied on being the
only writer (connection.py says which)."""

from __future__ import annotations

from bridge.config.fields import DEFAULT_OFFICE
from bridge.store.postgres.migrate import MIGRATIONS, SCHEMA_VERSION
from bridge.store.postgres.opening import (
    PostgresOptions,
    is_postgres_url,
    redacted,
)
from bridge.store.postgres.store import PostgresStore

__all__ = [
    "DEFAULT_OFFICE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "PostgresOptions",
    "PostgresStore",
    "is_postgres_url",
    "redacted",
]
