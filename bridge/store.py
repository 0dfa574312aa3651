"""The one place textback keeps state: a SQLite file, reached through aiosqlite.

Every decision is committed here before anything acts on it, so a crash loses
nothing; the ``UNIQUE`` constraint on ``linkedid`` - not a check in Python -
is what makes a call's decision impossible to store twice. The schema grows by
numbered migrations recorded in ``schema_version``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import aiosqlite

from bridge.calls import JSON_FIELDS, CallDecision

# Each entry upgrades the schema by one version: its statements run in one
# transaction with the version bump. Append; never edit a shipped one.
MIGRATIONS: Sequence[Sequence[str]] = (
    (
        """
    CREATE TABLE calls (
        id             INTEGER PRIMARY KEY,
        linkedid       TEXT NOT NULL UNIQUE,
        outcome        TEXT NOT NULL
                       CHECK (outcome IN ('missed','answered','internal','outbound','unknown')),
        reason         TEXT,
        caller         TEXT,
        caller_raw     TEXT NOT NULL,
        caller_name    TEXT NOT NULL,
        withheld       INTEGER NOT NULL,
        line           TEXT,
        line_name      TEXT,
        started_at     TEXT NOT NULL,
        ended_at       TEXT NOT NULL,
        voicemail_left INTEGER,
        dial_status    TEXT,
        answered_by    TEXT,
        detail         TEXT NOT NULL,
        source         TEXT NOT NULL,
        dry_run        INTEGER NOT NULL,
        decided_at     TEXT NOT NULL
    ) STRICT
    """,
        "CREATE INDEX calls_by_end ON calls (ended_at)",
        "CREATE INDEX calls_by_caller ON calls (caller, ended_at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The store cannot be opened or used; the message says why."""


@dataclass(frozen=True, slots=True)
class StoredCall:
    id: int
    linkedid: str
    outcome: str
    reason: str | None
    caller: str | None
    caller_raw: str
    caller_name: str
    withheld: bool
    line: str | None
    line_name: str | None
    started_at: str
    ended_at: str
    voicemail_left: bool | None
    dial_status: str | None
    answered_by: str | None
    detail: str
    source: str
    dry_run: bool
    decided_at: str

    def as_json(self) -> dict[str, object]:
        return {key: getattr(self, key) for key in JSON_FIELDS} | {"dry_run": self.dry_run}


class Store:
    """Open with ``await Store.open(path)`` (or ``async with``); always close it."""

    def __init__(self, db: aiosqlite.Connection, path: Path):
        self._db = db
        self.path = path

    @classmethod
    async def open(cls, path: str | Path) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(path)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open the store {path}: {exc}") from None
        db.row_factory = sqlite3.Row
        store = cls(db, path)
        try:
            await store._prepare()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _prepare(self) -> None:
        db = self._db
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            # FULL: a decision that was reported as stored survives a power cut too.
            await db.execute("PRAGMA synchronous = FULL")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA busy_timeout = 5000")
            await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = await self.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.path} has schema version {version}, newer than this "
                    f"textback understands ({SCHEMA_VERSION}); upgrade textback"
                )
            for number in range(version, SCHEMA_VERSION):
                await db.execute("BEGIN IMMEDIATE")
                for statement in MIGRATIONS[number]:
                    await db.execute(statement)
                await db.execute("DELETE FROM schema_version")
                await db.execute("INSERT INTO schema_version VALUES (?)", (number + 1,))
                await db.commit()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot prepare the store {self.path}: {exc}") from None

    async def schema_version(self) -> int:
        async with self._db.execute("SELECT max(version) FROM schema_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    async def record_decision(
        self, decision: CallDecision, *, source: str = "ami", dry_run: bool = False
    ) -> bool:
        """Commit one decision. False if this Linkedid was already decided."""
        d = decision
        async with self._db.execute(
            """
            INSERT INTO calls (linkedid, outcome, reason, caller, caller_raw, caller_name,
                               withheld, line, line_name, started_at, ended_at, voicemail_left,
                               dial_status, answered_by, detail, source, dry_run, decided_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (linkedid) DO NOTHING
            RETURNING id
            """,
            (
                d.linkedid,
                d.outcome.value,
                d.reason.value if d.reason else None,
                d.caller,
                d.caller_raw,
                d.caller_name,
                int(d.withheld),
                d.line,
                d.line_name,
                _iso(d.started_at),
                _iso(d.ended_at),
                None if d.voicemail_left is None else int(d.voicemail_left),
                d.dial_status,
                d.answered_by,
                d.detail,
                source,
                int(dry_run),
                _iso(datetime.now(UTC)),
            ),
        ) as cursor:
            inserted = await cursor.fetchone() is not None
        await self._db.commit()
        return inserted

    async def recent_calls(self, limit: int = 50) -> list[StoredCall]:
        async with self._db.execute(
            "SELECT * FROM calls ORDER BY ended_at DESC, id DESC LIMIT ?", (limit,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [_stored_call(row) for row in rows]

    async def call(self, linkedid: str) -> StoredCall | None:
        async with self._db.execute("SELECT * FROM calls WHERE linkedid = ?", (linkedid,)) as cur:
            row = await cur.fetchone()
        return _stored_call(row) if row else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


_BOOLEAN_COLUMNS = ("withheld", "dry_run", "voicemail_left")


def _stored_call(row: sqlite3.Row) -> StoredCall:
    values = {key: row[key] for key in row.keys()}  # noqa: SIM118 -- sqlite3.Row has no __iter__ of keys
    for key in _BOOLEAN_COLUMNS:
        if values[key] is not None:
            values[key] = bool(values[key])
    return StoredCall(**values)
