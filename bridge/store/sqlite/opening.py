"""Opening the SQLite file: for the daemon (created if need be, WAL, migrated)
or for a command that only reads (nothing created, written or migrated; a
file this user may only read is fine). Every problem is one StoreError
saying what an installer can do about it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bridge.store.errors import StoreError, StoreUnavailable
from bridge.store.sqlite.connection import Connection, Sql
from bridge.store.sqlite.database import Database
from bridge.store.sqlite.migrate import SCHEMA_VERSION, migrate, newer, older, schema_version


async def open_connection(path: Path, *, read_only: bool) -> Connection:
    if str(path) in ("", ".") or await asyncio.to_thread(path.is_dir):
        raise StoreError(
            f"store.path {str(path) or '(empty)'} is a directory: name the database file,"
            f" e.g. {path / 'textback.db'}"
        )
    db = await (_connect_read_only(path) if read_only else _connect_for_writing(path))
    try:
        await (_check_current(db, path) if read_only else _prepare(db, path))
    except BaseException:
        await db.close()
        raise
    return Connection(db, path)


async def _connect_for_writing(path: Path) -> Database:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return await Database.connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise _unusable(path, exc, writing=True) from None


async def _prepare(db: Database, path: Path) -> None:
    try:
        await db.execute("PRAGMA busy_timeout = 5000")
        await _use_wal(db)
        # FULL: a decision that was reported as stored survives a power cut too.
        await db.execute("PRAGMA synchronous = FULL")
        await db.execute("PRAGMA foreign_keys = ON")
        await migrate(db, path)
    except sqlite3.Error as exc:
        raise _unusable(path, exc, writing=True) from None


async def _use_wal(db: Database, within: float = 5.0) -> None:
    """Switch to WAL. SQLite answers a journal-mode change "locked" at once,
    without its busy handler, while another process holds a new store (two
    bridges, or a bridge and `textback doctor`, starting together): wait as
    busy_timeout would."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.02)


async def _connect_read_only(path: Path) -> Database:
    error: sqlite3.Error | None = None
    for target in await asyncio.to_thread(_read_only_targets, path):
        try:
            db = await Database.connect(target, uri=True)
        except sqlite3.Error as exc:
            error = exc
            continue
        try:
            await db.execute("SELECT count(*) FROM sqlite_master")
        except sqlite3.Error as exc:
            error = exc
            await db.close()
            continue
        return db
    assert error is not None
    raise _unusable(path, error, writing=False)


def _read_only_targets(path: Path) -> list[str]:
    """How to open ``path`` without creating or writing anything. A WAL store in
    a folder this user cannot write has no shared-memory file to read through;
    when no journal is pending either (no bridge has it open), the file is all
    there is, and is read as immutable."""
    if not path.exists():
        raise StoreError(f"no store at {path} yet: has `textback run` started?")
    if path.stat().st_size == 0:
        raise StoreError(
            f"{path} is an empty file, not a textback store: remove it, and `textback run`"
            " creates the store"
        )
    uri = path.absolute().as_uri()
    targets = [f"{uri}?mode=ro"]
    if not path.with_name(path.name + "-wal").exists():
        targets.append(f"{uri}?immutable=1")
    return targets


async def _check_current(db: Database, path: Path) -> None:
    """A reader's check: this store has exactly the schema this code reads."""
    try:
        await db.execute("PRAGMA query_only = ON")
        await db.execute("PRAGMA busy_timeout = 5000")
        version = await schema_version(Sql(db))
    except sqlite3.Error as exc:
        raise _unusable(path, exc, writing=False) from None
    if version > SCHEMA_VERSION:
        raise newer(path, version)
    if version < SCHEMA_VERSION:
        raise older(path, version)


def _unusable(path: Path, exc: BaseException, *, writing: bool) -> StoreError:
    """What an installer can do about an error SQLite or the OS gave."""
    reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
    if "not a database" in reason or "no such table" in reason:
        return StoreError(f"{path} is not a textback store ({reason}): check store.path")
    if writing and isinstance(exc, OSError | sqlite3.OperationalError):
        return StoreUnavailable(
            f"cannot open the store {path} for writing: {reason} - the bridge's user needs to"
            f" write {path.parent} (the store's journal files live beside it)"
        )
    return StoreUnavailable(
        f"cannot read the store {path}: {reason} - is it readable by this user?"
    )
