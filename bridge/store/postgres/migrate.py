"""The PostgreSQL schema, as numbered SQL files: ``migrations/NNNN_name.sql``.

The first file is a baseline that builds its version at once (0011: what
SQLite's 0001..0011 build); each later file upgrades from the version
before, and has the same number as SQLite's file for the same change - the
same version number means the same schema in both dialects, and one table,
``schema_version``, says which. Each file runs in one transaction with the
bump of the version (PostgreSQL's DDL is transactional), under an advisory
lock: bridges starting together on a new database migrate it once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from bridge.store.errors import SchemaMismatch
from bridge.store.postgres.connection import Conn

_FILE_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
# The migration lock: the two-key form, whose key space lock_number's never meets.
_LOCK = "SELECT pg_advisory_xact_lock(1952807011, 1)"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int  # the schema version this file brings a database to
    name: str
    script: str  # run as one script: PostgreSQL keeps it in the open transaction


def load_migrations() -> tuple[Migration, ...]:
    """Every file in ``migrations/``, in order; versions must follow the baseline 1 by 1."""
    folder = resources.files(__package__) / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if not versions or versions != list(range(versions[0], versions[0] + len(versions))):
        raise RuntimeError(f"the PostgreSQL migration files do not follow one another: {versions}")
    return tuple(found)


MIGRATIONS = load_migrations()
BASELINE = MIGRATIONS[0].version
SCHEMA_VERSION = MIGRATIONS[-1].version


async def schema_version(conn: Conn) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
    if not exists:
        return 0
    version = await conn.fetchval("SELECT max(version) FROM schema_version")
    return 0 if version is None else int(version)


def newer(where: str, version: int) -> SchemaMismatch:
    return SchemaMismatch(
        f"the store {where} has schema version {version}, newer than this textback"
        f" understands ({SCHEMA_VERSION}); upgrade textback",
        found=version,
        current=SCHEMA_VERSION,
    )


def older(where: str, version: int) -> SchemaMismatch:
    return SchemaMismatch(
        f"the store {where} has schema version {version}, older than this textback"
        f" reads ({SCHEMA_VERSION}): start `textback run` once to upgrade it",
        found=version,
        current=SCHEMA_VERSION,
    )


async def migrate(conn: Conn, where: str) -> None:
    """Bring the database to this code's version, one file per transaction."""
    while True:
        async with conn.transaction():
            await conn.execute(_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            version = await schema_version(conn)
            if version > SCHEMA_VERSION:
                raise newer(where, version)
            if version == SCHEMA_VERSION:
                return
            step = MIGRATIONS[0] if version == 0 else _after(version, where)
            await conn.execute(step.script)
            await conn.execute("DELETE FROM schema_version")
            await conn.execute("INSERT INTO schema_version VALUES ($1)", step.version)


def _after(version: int, where: str) -> Migration:
    if version < BASELINE:
        raise SchemaMismatch(
            f"the store {where} has schema version {version}, older than any PostgreSQL"
            f" store ({BASELINE}): it was not made by textback",
            found=version,
            current=SCHEMA_VERSION,
        )
    return MIGRATIONS[version - BASELINE + 1]
