"""The schema, as numbered SQL files: ``migrations/NNNN_name.sql`` upgrades a
store from version NNNN - 1 to NNNN. Each file runs in one transaction with
the bump of ``schema_version``, so a store is always at exactly one version.
Append a file; never edit a shipped one (tests/fixtures/schema holds what
each version builds).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bridge.store.errors import SchemaMismatch
from bridge.store.sqlite.connection import Sql
from bridge.store.sqlite.database import Database

_FILE_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int  # the schema version this file brings a store to
    name: str
    statements: tuple[str, ...]


def split_statements(script: str) -> tuple[str, ...]:
    """The statements of a script, each run on its own: executescript would
    commit the migration's transaction half-way. A ``;`` ends a statement
    only where SQLite says one is complete (not inside a quoted string)."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if _has_code(pending):
                statements.append(pending.strip())
            pending = ""
    if _has_code(pending[:-1]):
        raise ValueError(f"an unfinished statement at the end: {pending[:-1].strip()[:60]!r}")
    return tuple(statements)


def _has_code(text: str) -> bool:
    """More than comments (and the ``;`` after a trailing one)."""
    lines = text.strip().removesuffix(";").splitlines()
    return any(line.strip() and not line.strip().startswith("--") for line in lines)


def load_migrations() -> tuple[Migration, ...]:
    """Every file in ``migrations/``, in order; versions must run 1, 2, 3..."""
    folder = resources.files(__package__) / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            statements = split_statements(entry.read_text(encoding="utf-8"))
            found.append(Migration(int(match[1]), entry.name, statements))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"the schema's migration files are not numbered 1..n: {versions}")
    return tuple(found)


MIGRATIONS = load_migrations()
SCHEMA_VERSION = len(MIGRATIONS)


async def schema_version(sql: Sql) -> int:
    version = await sql.scalar("SELECT max(version) FROM schema_version")
    return 0 if version is None else int(version)


def newer(path: Path, version: int) -> SchemaMismatch:
    return SchemaMismatch(
        f"the store {path} has schema version {version}, newer than this textback"
        f" understands ({SCHEMA_VERSION}); upgrade textback",
        found=version,
        current=SCHEMA_VERSION,
    )


def older(path: Path, version: int) -> SchemaMismatch:
    return SchemaMismatch(
        f"the store {path} has schema version {version}, older than this textback"
        f" reads ({SCHEMA_VERSION}): start `textback run` once to upgrade it",
        found=version,
        current=SCHEMA_VERSION,
    )


async def migrate(db: Database, path: Path) -> None:
    """Bring the store to this code's version, one file per transaction. The
    version is read inside each transaction: a second process opening the
    same new store at the same moment finds the work done, not half done."""
    while True:
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = await schema_version(Sql(db))
            if version > SCHEMA_VERSION:
                raise newer(path, version)
            if version == SCHEMA_VERSION:
                await db.commit()
                return
            for statement in MIGRATIONS[version].statements:
                await db.execute(statement)
            await db.execute("DELETE FROM schema_version")
            await db.execute("INSERT INTO schema_version VALUES (?)", (version + 1,))
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
