"""The one place textback keeps state: a SQLite file, reached through aiosqlite.

Every decision is committed here before anything acts on it, so a crash loses
nothing; the ``UNIQUE`` constraint on ``linkedid`` - not a check in Python -
is what makes a call's decision impossible to store twice. The schema grows by
numbered migrations recorded in ``schema_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiosqlite

from bridge.core.alerts import AlertDraft, AlertEvent, QueuedAlert
from bridge.core.calls import CallDecision, OpenCall, Outcome
from bridge.core.texts import (
    Cap,
    Filed,
    History,
    OptOutChange,
    OutgoingText,
    OwnerAction,
    QueuedText,
    ReceivedText,
)
from bridge.core.threads import (
    FollowUpState,
    ReportFigures,
    StoredCall,
    ThreadEvent,
    ThreadSummary,
)

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
    (
        # Why a missed call was not texted (NULL: texted, or not a missed call).
        "ALTER TABLE calls ADD COLUMN text_skip TEXT",
        # Every text that goes out. A text-back belongs to one call, and the
        # partial unique index makes a second one for the same call impossible.
        """
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL CHECK (kind IN ('textback', 'reply', 'confirmation')),
        linkedid        TEXT REFERENCES calls (linkedid),
        to_number       TEXT NOT NULL,
        body            TEXT NOT NULL,
        parts           INTEGER NOT NULL,
        state           TEXT NOT NULL CHECK (state IN
                        ('queued','sending','sent','delivered','failed','expired','cancelled')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_at      TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        sent_at         TEXT,
        delivered_at    TEXT,
        last_error      TEXT,
        refs            TEXT
    ) STRICT
    """,
        "CREATE UNIQUE INDEX one_textback_per_call ON outbox (linkedid) WHERE kind = 'textback'",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_by_number ON outbox (to_number, created_at)",
        # Opt-outs hold until the number itself texts START: one row per number.
        """
    CREATE TABLE opt_outs (
        number      TEXT PRIMARY KEY,
        opted_out   INTEGER NOT NULL,
        keyword     TEXT NOT NULL,
        source      TEXT NOT NULL,
        changed_at  TEXT NOT NULL
    ) STRICT
    """,
    ),
    (
        # Parts the network confirmed delivered, per text (refs holds one per part).
        "ALTER TABLE outbox ADD COLUMN delivered_refs TEXT NOT NULL DEFAULT '[]'",
        # Every text that comes in, stored before the modem may delete it.
        """
    CREATE TABLE inbox (
        id           INTEGER PRIMARY KEY,
        sender       TEXT NOT NULL,
        body         TEXT NOT NULL,
        parts        INTEGER NOT NULL,
        keyword      TEXT,
        received_at  TEXT NOT NULL,
        stored_at    TEXT NOT NULL
    ) STRICT
    """,
        "CREATE INDEX inbox_by_sender ON inbox (sender, received_at)",
    ),
    (
        # Set when a crash left a text 'sending': it may have gone out already.
        "ALTER TABLE outbox ADD COLUMN maybe_sent INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # One conversation per (caller, line): its number is what owners type (#12).
        """
    CREATE TABLE threads (
        id                INTEGER PRIMARY KEY,
        caller            TEXT NOT NULL,
        line              TEXT,
        status            TEXT NOT NULL CHECK (status IN
                          ('new','awaiting_reply','replied','handled','opted_out','cold')),
        urgent            INTEGER NOT NULL DEFAULT 0,
        created_at        TEXT NOT NULL,
        last_activity_at  TEXT NOT NULL,
        handled_at        TEXT,
        handled_by        TEXT
    ) STRICT
    """,
        "CREATE INDEX threads_by_caller ON threads (caller, status)",
        "ALTER TABLE calls ADD COLUMN thread_id INTEGER REFERENCES threads (id)",
        "ALTER TABLE outbox ADD COLUMN thread_id INTEGER REFERENCES threads (id)",
        "ALTER TABLE inbox ADD COLUMN thread_id INTEGER REFERENCES threads (id)",
    ),
    (
        # Owner alerts. A missed call or a reply is 'alerted' in the same
        # transaction that queues its alerts: none is lost, none made twice.
        """
    CREATE TABLE alerts (
        id               INTEGER PRIMARY KEY,
        thread_id        INTEGER NOT NULL REFERENCES threads (id),
        owner_id         TEXT NOT NULL,
        channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
        kind             TEXT NOT NULL,
        recipient        TEXT NOT NULL,
        subject          TEXT NOT NULL,
        body_text        TEXT NOT NULL,
        body_html        TEXT,
        message_id       TEXT NOT NULL UNIQUE,
        in_reply_to      TEXT,
        state            TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT NOT NULL,
        last_error       TEXT,
        created_at       TEXT NOT NULL,
        sent_at          TEXT
    ) STRICT
    """,
        "CREATE INDEX alerts_due ON alerts (state, next_attempt_at)",
        "ALTER TABLE calls ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE inbox ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0",
        # What was there before alerts existed is not news to anyone.
        "UPDATE calls SET alerted = 1",
        "UPDATE inbox SET alerted = 1",
    ),
    (
        # Owner follow-through. outbox and alerts are rebuilt (SQLite cannot
        # change a CHECK): texts gain kinds for owners and nudges, the line they
        # go out from, and the alert an owner text carries; digests belong to
        # no thread.
        """
    CREATE TABLE alerts_v7 (
        id               INTEGER PRIMARY KEY,
        thread_id        INTEGER REFERENCES threads (id),
        owner_id         TEXT NOT NULL,
        channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
        kind             TEXT NOT NULL,
        recipient        TEXT NOT NULL,
        subject          TEXT NOT NULL,
        body_text        TEXT NOT NULL,
        body_html        TEXT,
        message_id       TEXT NOT NULL UNIQUE,
        in_reply_to      TEXT,
        state            TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
        attempts         INTEGER NOT NULL DEFAULT 0,
        next_attempt_at  TEXT NOT NULL,
        last_error       TEXT,
        created_at       TEXT NOT NULL,
        sent_at          TEXT
    ) STRICT
    """,
        "INSERT INTO alerts_v7 SELECT * FROM alerts",
        "DROP TABLE alerts",
        "ALTER TABLE alerts_v7 RENAME TO alerts",
        "CREATE INDEX alerts_due ON alerts (state, next_attempt_at)",
        """
    CREATE TABLE outbox_v7 (
        id              INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL CHECK (kind IN ('textback', 'reply', 'confirmation',
                        'nudge', 'owner_alert', 'owner_notice')),
        linkedid        TEXT REFERENCES calls (linkedid),
        to_number       TEXT NOT NULL,
        body            TEXT NOT NULL,
        parts           INTEGER NOT NULL,
        state           TEXT NOT NULL CHECK (state IN
                        ('queued','sending','sent','delivered','failed','expired','cancelled')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_at      TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        sent_at         TEXT,
        delivered_at    TEXT,
        last_error      TEXT,
        refs            TEXT,
        delivered_refs  TEXT NOT NULL DEFAULT '[]',
        maybe_sent      INTEGER NOT NULL DEFAULT 0,
        thread_id       INTEGER REFERENCES threads (id),
        from_line       TEXT,
        alert_id        INTEGER REFERENCES alerts (id)
    ) STRICT
    """,
        """INSERT INTO outbox_v7 (id, kind, linkedid, to_number, body, parts, state, attempts,
               created_at, next_attempt_at, expires_at, sent_at, delivered_at, last_error, refs,
               delivered_refs, maybe_sent, thread_id)
           SELECT id, kind, linkedid, to_number, body, parts, state, attempts, created_at,
               next_attempt_at, expires_at, sent_at, delivered_at, last_error, refs,
               delivered_refs, maybe_sent, thread_id FROM outbox""",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v7 RENAME TO outbox",
        "CREATE UNIQUE INDEX one_textback_per_call ON outbox (linkedid) WHERE kind = 'textback'",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_by_number ON outbox (to_number, created_at)",
        # A text goes out from its thread's line: it picks the transport and the SIP From.
        "UPDATE outbox SET from_line = (SELECT line FROM threads WHERE id = outbox.thread_id)",
        # The one reminder per wait, and the one nudge per thread.
        "ALTER TABLE threads ADD COLUMN reminded_at TEXT",
        "ALTER TABLE threads ADD COLUMN nudged_at TEXT",
        # Threads already open are not news: no burst of reminders or nudges
        # for them on the first start after the upgrade.
        """
    UPDATE threads SET reminded_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'),
                       nudged_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
     WHERE status IN ('new', 'awaiting_reply', 'replied')
    """,
        # A text from an owner's mobile is a command, not a homeowner's reply.
        "ALTER TABLE inbox ADD COLUMN owner_id TEXT",
        """
    CREATE TABLE owner_actions (
        id         INTEGER PRIMARY KEY,
        thread_id  INTEGER NOT NULL REFERENCES threads (id),
        owner_id   TEXT NOT NULL,
        action     TEXT NOT NULL CHECK (action IN ('reply', 'called', 'done')),
        body       TEXT,
        at         TEXT NOT NULL
    ) STRICT
    """,
        "CREATE INDEX owner_actions_by_thread ON owner_actions (thread_id, at)",
        # The workers' polls read only what is pending or open, however long
        # the history grows: alerts not yet made, threads still open.
        "CREATE INDEX calls_unalerted ON calls (id) WHERE alerted = 0",
        "CREATE INDEX inbox_unalerted ON inbox (id) WHERE alerted = 0",
        "CREATE INDEX threads_by_status ON threads (status)",
        # One digest per owner per local day, whatever restarts happen.
        """
    CREATE TABLE digests (
        owner_id  TEXT NOT NULL,
        day       TEXT NOT NULL,
        PRIMARY KEY (owner_id, day)
    ) STRICT
    """,
    ),
    (
        # The network's own timestamp of an incoming text (the SMSC's, from
        # the PDU): a modem re-reading its SIM after a crash offers the same
        # text again, and it is stored once.
        "ALTER TABLE inbox ADD COLUMN network_time TEXT",
        "CREATE UNIQUE INDEX inbox_once ON inbox (sender, network_time, body)"
        " WHERE network_time IS NOT NULL",
        # Calls in progress, so a restart can finish them: a call that ended
        # while the bridge was down is recorded, never silently lost.
        """
    CREATE TABLE open_calls (
        linkedid   TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        last_seen  TEXT NOT NULL
    ) STRICT
    """,
        # The bridge's own bookkeeping (until when it saw every AMI event...).
        """
    CREATE TABLE bridge_state (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    ) STRICT
    """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
# A thread is open while new, awaiting_reply or replied: a new call from its
# caller to its line joins it. handled, opted_out and cold ones are closed
# (a reply still reopens a handled or cold one: see store_incoming).
_OPEN = "('new', 'awaiting_reply', 'replied')"
# Calls that open (or join) a thread for an owner to follow up: a call whose end
# the bridge could not see may have been missed, and a person should know.
_LEADS = (Outcome.MISSED, Outcome.UNKNOWN)
# Texts that count against caps and cooldowns: not failed, expired or cancelled.
_LIVE = "('queued', 'sending', 'sent', 'delivered')"
# Texts to a number (of one kind, or any when the kind parameter is NULL) since a moment.
_TEXTS_TO_SINCE = (
    f"SELECT count(*) FROM outbox WHERE to_number = ? AND created_at >= ?"  # noqa: S608 -- constants only
    f" AND state IN {_LIVE} AND kind = coalesce(?, kind)"
)
# An owner's SMS alert is still worth sending this long after it was queued.
_OWNER_ALERT_TTL = timedelta(hours=24)


def _utc_now() -> datetime:
    return datetime.now(UTC)


_T = TypeVar("_T")
_P = ParamSpec("_P")


def _one_at_a_time(
    method: Callable[Concatenate[Store, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[Store, _P], Coroutine[Any, Any, _T]]:
    """Store methods share one connection: run them one at a time, so one
    coroutine's transaction is never joined, or committed, by another's; and
    roll back whatever a failing one left open."""

    async def serialized(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        async with self._lock:
            try:
                return await method(self, *args, **kwargs)
            except BaseException:
                # A failed write must not leave its transaction open, holding
                # the database's write lock for whoever comes next.
                if self._db.in_transaction:
                    await asyncio.shield(self._db.rollback())
                raise

    serialized.__name__, serialized.__doc__ = method.__name__, method.__doc__
    return serialized


class StoreError(Exception):
    """The store cannot be opened or used; the message says why."""


async def _connect_for_writing(path: Path) -> aiosqlite.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(_unusable(path, exc, writing=True)) from None
    db.row_factory = sqlite3.Row
    return db


async def _connect_read_only(path: Path) -> aiosqlite.Connection:
    error: sqlite3.Error | None = None
    for target in await asyncio.to_thread(_read_only_targets, path):
        try:
            db = await aiosqlite.connect(target, uri=True)
        except sqlite3.Error as exc:
            error = exc
            continue
        try:
            await db.execute("SELECT count(*) FROM sqlite_master")
        except sqlite3.Error as exc:
            error = exc
            await db.close()
            continue
        db.row_factory = sqlite3.Row
        return db
    assert error is not None
    raise StoreError(_unusable(path, error, writing=False))


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


def _newer(path: Path, version: int) -> str:
    return (
        f"the store {path} has schema version {version}, newer than this textback"
        f" understands ({SCHEMA_VERSION}); upgrade textback"
    )


def _unusable(path: Path, exc: BaseException, *, writing: bool) -> str:
    """What an installer can do about an error SQLite or the OS gave."""
    reason = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
    if "not a database" in reason or "no such table" in reason:
        return f"{path} is not a textback store ({reason}): check store.path"
    if writing and isinstance(exc, OSError | sqlite3.OperationalError):
        return (
            f"cannot open the store {path} for writing: {reason} - the bridge's user needs to"
            f" write {path.parent} (the store's journal files live beside it)"
        )
    return f"cannot read the store {path}: {reason} - is it readable by this user?"


class Store:
    """Open with ``await Store.open(path)`` (or ``async with``); always close it."""

    def __init__(
        self, db: aiosqlite.Connection, path: Path, clock: Callable[[], datetime] = _utc_now
    ):
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()
        # Stamps every row; follow-up timers compare against it, so tests inject one.
        self._clock = clock

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Callable[[], datetime] | None = None,
        read_only: bool = False,
    ) -> Store:
        """The store at ``path``, migrated to this version's schema.

        ``read_only``: for commands that only read. Nothing is created,
        written or migrated; a file this user may only read is fine; a store
        older or newer than this textback is refused with what to do.
        """
        path = Path(path)
        if str(path) in ("", ".") or await asyncio.to_thread(path.is_dir):
            raise StoreError(
                f"store.path {str(path) or '(empty)'} is a directory: name the database file,"
                f" e.g. {path / 'textback.db'}"
            )
        db = await (_connect_read_only(path) if read_only else _connect_for_writing(path))
        store = cls(db, path, clock or _utc_now)
        try:
            await (store._check_current() if read_only else store._prepare())
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
                raise StoreError(_newer(self.path, version))
            for number in range(version, SCHEMA_VERSION):
                await db.execute("BEGIN IMMEDIATE")
                for statement in MIGRATIONS[number]:
                    await db.execute(statement)
                await db.execute("DELETE FROM schema_version")
                await db.execute("INSERT INTO schema_version VALUES (?)", (number + 1,))
                await db.commit()
        except sqlite3.Error as exc:
            raise StoreError(_unusable(self.path, exc, writing=True)) from None

    async def _check_current(self) -> None:
        """A reader's check: this store has exactly the schema this code reads."""
        try:
            await self._db.execute("PRAGMA query_only = ON")
            await self._db.execute("PRAGMA busy_timeout = 5000")
            version = await self.schema_version()
        except sqlite3.Error as exc:
            raise StoreError(_unusable(self.path, exc, writing=False)) from None
        if version > SCHEMA_VERSION:
            raise StoreError(_newer(self.path, version))
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"the store {self.path} has schema version {version}, older than this textback"
                f" reads ({SCHEMA_VERSION}): start `textback run` once to upgrade it"
            )

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT. On any error (a cancel too) _one_at_a_time
        rolls back, so nothing half-written is ever committed."""
        await self._db.execute("BEGIN IMMEDIATE")
        yield self._db
        await self._db.commit()

    async def schema_version(self) -> int:
        async with self._db.execute("SELECT max(version) FROM schema_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    @_one_at_a_time
    async def record_decision(
        self,
        decision: CallDecision,
        *,
        dry_run: bool = False,
        text_skip: str | None = None,
        text: OutgoingText | None = None,
    ) -> bool:
        """Commit a decision, with its text-back (or why not), in one transaction.

        False if this Linkedid was already decided: then nothing is written.
        """
        d = decision
        now = _iso(self._clock())
        async with self._transaction() as db:
            # Decided (by this report or an earlier one): no longer open.
            await db.execute("DELETE FROM open_calls WHERE linkedid = ?", (d.linkedid,))
            async with db.execute(
                """
                INSERT INTO calls (linkedid, outcome, reason, caller, caller_raw, caller_name,
                                   withheld, line, line_name, started_at, ended_at,
                                   voicemail_left, dial_status, answered_by, detail, source,
                                   dry_run, decided_at, text_skip)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
                    d.source,
                    int(dry_run),
                    now,
                    text_skip,
                ),
            ) as cursor:
                inserted = await cursor.fetchone() is not None
            thread_id = None
            if inserted and dry_run:
                # A rehearsal: no lead to follow up, no news for anyone.
                await db.execute("UPDATE calls SET alerted = 1 WHERE linkedid = ?", (d.linkedid,))
            elif inserted and d.outcome in _LEADS and d.caller is not None:
                thread_id = await self._thread_for(d.caller, d.line, now)
                await db.execute(
                    "UPDATE calls SET thread_id = ? WHERE linkedid = ?", (thread_id, d.linkedid)
                )
            if inserted and text is not None:
                await self._insert_text(text, linkedid=d.linkedid, thread_id=thread_id)
        return inserted

    @_one_at_a_time
    async def save_open_calls(self, calls: Sequence[OpenCall]) -> None:
        """Keep the latest state of calls in progress, all in one transaction."""
        async with self._transaction() as db:
            await db.executemany(
                "INSERT INTO open_calls (linkedid, state, last_seen) VALUES (?, ?, ?)"
                " ON CONFLICT (linkedid) DO UPDATE SET state = excluded.state,"
                " last_seen = excluded.last_seen",
                [(c.linkedid, c.state, _iso(c.last_seen)) for c in calls],
            )

    @_one_at_a_time
    async def open_calls(self) -> list[OpenCall]:
        async with self._db.execute(
            "SELECT linkedid, state, last_seen FROM open_calls ORDER BY last_seen"
        ) as cursor:
            rows = await cursor.fetchall()
        return [OpenCall(r[0], r[1], _moment(r[2])) for r in rows]

    @_one_at_a_time
    async def seen_until(self) -> datetime | None:
        """Until when the bridge saw every AMI event (None: it never has)."""
        async with self._db.execute(
            "SELECT value FROM bridge_state WHERE key = 'ami_seen_until'"
        ) as cursor:
            row = await cursor.fetchone()
        return _maybe(row[0]) if row else None

    @_one_at_a_time
    async def mark_seen(self, moment: datetime) -> None:
        """AMI was connected, so every event up to ``moment`` reached the bridge."""
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO bridge_state (key, value) VALUES ('ami_seen_until', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
                (_iso(moment),),
            )

    async def _thread_for(self, caller: str, line: str | None, now: str) -> int:
        """The open thread for (caller, line), or a new one. Inside a transaction."""
        async with self._db.execute(
            f"SELECT id FROM threads WHERE caller = ? AND line IS ?"  # noqa: S608 -- constants only
            f" AND status IN {_OPEN} ORDER BY id DESC LIMIT 1",
            (caller, line),
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            await self._db.execute(
                "UPDATE threads SET last_activity_at = ? WHERE id = ?", (now, row[0])
            )
            return int(row[0])
        async with self._db.execute(
            "INSERT INTO threads (caller, line, status, created_at, last_activity_at)"
            " VALUES (?, ?, 'new', ?, ?) RETURNING id",
            (caller, line, now, now),
        ) as cursor:
            created = await cursor.fetchone()
        assert created is not None
        return int(created[0])

    @_one_at_a_time
    async def text_history(self, number: str, now: datetime) -> History:
        """What the texting policy needs to know about ``number`` and the last hour."""
        async with self._db.execute(
            f"SELECT max(created_at) FROM outbox WHERE kind = 'textback' AND to_number = ?"  # noqa: S608 -- constants only
            f" AND state IN {_LIVE}",
            (number,),
        ) as cursor:
            row = await cursor.fetchone()
        last = datetime.fromisoformat(row[0]) if row and row[0] else None
        async with self._db.execute(
            f"SELECT count(*) FROM outbox WHERE kind = 'textback' AND state IN {_LIVE}"  # noqa: S608 -- constants only
            " AND created_at >= ?",
            (_iso(now - timedelta(hours=1)),),
        ) as cursor:
            row = await cursor.fetchone()
        last_hour = int(row[0]) if row else 0
        async with self._db.execute(
            "SELECT 1 FROM outbox WHERE to_number = ? AND state IN ('sent', 'delivered') LIMIT 1",
            (number,),
        ) as cursor:
            ever = await cursor.fetchone() is not None
        return History(
            opted_out=await self._opted_out(number),
            last_textback_at=last,  # the policy decides whether that is too recent
            textbacks_last_hour=last_hour,
            ever_texted=ever,
        )

    @_one_at_a_time
    async def set_opt_out(
        self, number: str, *, opted_out: bool, keyword: str, source: str, at: datetime
    ) -> None:
        """Record STOP (or START) from ``number``. Queued texts to it are cancelled."""
        async with self._transaction():
            await self._record_choice(number, opted_out, keyword, source, at)

    async def _record_choice(
        self, number: str, opted_out: bool, keyword: str, source: str, at: datetime
    ) -> None:
        """Inside the caller's transaction."""
        await self._db.execute(
            """
            INSERT INTO opt_outs (number, opted_out, keyword, source, changed_at)
            VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (number) DO UPDATE SET opted_out = excluded.opted_out,
                keyword = excluded.keyword, source = excluded.source,
                changed_at = excluded.changed_at
            """,
            (number, int(opted_out), keyword, source, _iso(at)),
        )
        if opted_out:
            await self._db.execute(
                "UPDATE outbox SET state = 'cancelled', last_error = 'opted out'"
                " WHERE to_number = ? AND state = 'queued' AND kind != 'confirmation'",
                (number,),
            )

    # ------------------------------------------------------------ the outbox's life

    @_one_at_a_time
    async def queue_text(
        self, text: OutgoingText, *, thread_id: int | None = None, cap: Cap | None = None
    ) -> int | None:
        """Queue a text; its id, or None when ``cap`` held it back."""
        text_id = await self._insert_text(text, thread_id=thread_id, cap=cap)
        await self._db.commit()
        return text_id

    async def _insert_text(
        self,
        text: OutgoingText,
        *,
        thread_id: int | None = None,
        linkedid: str | None = None,
        alert_id: int | None = None,
        cap: Cap | None = None,
    ) -> int | None:
        """The one way a text enters the outbox (the caller commits). It goes out
        from its thread's line. A ``cap`` is checked in the same statement as
        the insert, so two texts arriving at once cannot both slip under it.
        None when the cap held it back."""
        now = self._clock()
        async with self._db.execute(
            f"""
            INSERT INTO outbox (kind, linkedid, to_number, body, parts, state, created_at,
                                next_attempt_at, expires_at, thread_id, alert_id, from_line)
            SELECT ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?,
                   (SELECT line FROM threads WHERE id = ?)
             WHERE ? IS NULL OR ? > ({_TEXTS_TO_SINCE})
            RETURNING id
            """,  # noqa: S608 -- constants only
            (
                text.kind, linkedid, text.to_number, text.body, text.parts, _iso(now), _iso(now),
                _iso(text.expires_at), thread_id, alert_id, thread_id,
                cap and cap.limit, cap and cap.limit, text.to_number,
                _iso(now - cap.window) if cap else "", None if cap and cap.any_kind else text.kind,
            ),
        ) as cursor:  # fmt: skip
            row = await cursor.fetchone()
        return int(row[0]) if row is not None else None

    @_one_at_a_time
    async def due_texts(self, now: datetime, limit: int = 20) -> list[QueuedText]:
        async with self._db.execute(
            "SELECT id, kind, linkedid, to_number, body, parts, attempts, expires_at, maybe_sent,"
            " from_line FROM outbox"
            " WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, id"
            " LIMIT ?",
            (_iso(now), limit),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            QueuedText(
                id=r[0],
                kind=r[1],
                linkedid=r[2],
                to_number=r[3],
                body=r[4],
                parts=r[5],
                attempts=r[6],
                expires_at=datetime.fromisoformat(r[7]),
                maybe_sent=bool(r[8]),
                from_line=r[9],
            )
            for r in rows
        ]

    async def _set(self, text_id: int, sql: str, *args: object) -> None:
        await self._db.execute(f"UPDATE outbox SET {sql} WHERE id = ?", (*args, text_id))  # noqa: S608 -- our own column lists
        await self._db.commit()

    @_one_at_a_time
    async def mark_sending(self, text_id: int) -> None:
        """Committed before the modem is asked: a crash leaves a trace to retry from."""
        await self._set(text_id, "state = 'sending', attempts = attempts + 1")

    @_one_at_a_time
    async def mark_sent(self, text_id: int, references: Sequence[int], at: datetime) -> None:
        await self._db.execute(
            "UPDATE threads SET status = 'awaiting_reply', last_activity_at = ?"
            " WHERE status = 'new' AND id = (SELECT thread_id FROM outbox WHERE id = ?"
            " AND kind IN ('textback', 'reply', 'nudge'))",
            (_iso(at), text_id),
        )
        await self._settle_alert(text_id, "sent", None)
        await self._set(
            text_id,
            "state = 'sent', sent_at = ?, refs = ?, last_error = NULL",
            _iso(at),
            json.dumps(list(references)),
        )

    @_one_at_a_time
    async def mark_retry(
        self, text_id: int, error: str, next_attempt: datetime, *, maybe_sent: bool = False
    ) -> None:
        """``maybe_sent``: it may have gone out (no confirmation came), so every
        later attempt goes as a possible duplicate; once set, it stays set."""
        await self._set(
            text_id,
            "state = 'queued', last_error = ?, next_attempt_at = ?,"
            " maybe_sent = CASE WHEN ? THEN 1 ELSE maybe_sent END",
            error,
            _iso(next_attempt),
            maybe_sent,
        )

    @_one_at_a_time
    async def mark_final(self, text_id: int, state: str, error: str) -> None:
        """failed, expired or cancelled: never tried again."""
        assert state in ("failed", "expired", "cancelled")
        await self._settle_alert(text_id, "failed", f"text {state}: {error}")
        await self._set(text_id, "state = ?, last_error = ?", state, error)

    async def _settle_alert(self, text_id: int, state: str, error: str | None) -> None:
        """An SMS alert's fate is its text's (committed by the caller's next write)."""
        await self._db.execute(
            "UPDATE alerts SET state = ?, last_error = ?, attempts = attempts + 1,"
            " sent_at = CASE WHEN ? = 'sent' THEN ? END"
            " WHERE id = (SELECT alert_id FROM outbox WHERE id = ?)",
            (state, error, state, _iso(self._clock()), text_id),
        )

    @_one_at_a_time
    async def recover_interrupted(self) -> int:
        """After a crash: texts the modem never confirmed go back in the queue."""
        async with self._db.execute(
            "UPDATE outbox SET state = 'queued', maybe_sent = 1, last_error = 'interrupted"
            " before the modem confirmed it' WHERE state = 'sending' RETURNING id"
        ) as cursor:
            rows = list(await cursor.fetchall())
        await self._db.commit()
        return len(rows)

    @_one_at_a_time
    async def is_opted_out(self, number: str) -> bool:
        return await self._opted_out(number)

    async def _opted_out(self, number: str) -> bool:
        async with self._db.execute(
            "SELECT opted_out FROM opt_outs WHERE number = ?", (number,)
        ) as cursor:
            row = await cursor.fetchone()
        return bool(row and row[0])

    @_one_at_a_time
    async def record_delivery(self, reference: int, recipient: str, delivered: bool) -> int | None:
        """Match a status report to the latest sent text with that part reference."""
        async with self._db.execute(
            """
            SELECT id, refs, delivered_refs FROM outbox
            WHERE to_number = ? AND state = 'sent'
              AND EXISTS (SELECT 1 FROM json_each(outbox.refs) WHERE value = ?)
            ORDER BY id DESC LIMIT 1
            """,
            (recipient, reference),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        text_id, refs, done = int(row[0]), json.loads(row[1]), json.loads(row[2])
        if not delivered:
            await self._set(text_id, "last_error = ?", f"part {reference} was not delivered")
            return text_id
        done = sorted({*done, reference})
        if set(done) >= set(refs):
            await self._set(
                text_id,
                "state = 'delivered', delivered_at = ?, delivered_refs = ?",
                _iso(self._clock()),
                json.dumps(done),
            )
        else:
            await self._set(text_id, "delivered_refs = ?", json.dumps(done))
        return text_id

    @_one_at_a_time
    async def store_incoming(
        self,
        text: ReceivedText,
        keyword: str | None,
        *,
        urgent: bool = False,
        lead: bool = True,
        opt_out: OptOutChange | None = None,
    ) -> Filed | None:
        """Store a text that came in, in its thread, with what it asks for - all in
        one transaction, so a crash keeps all of it or none. None: a copy of a
        text already stored (nothing is written).

        A reply joins the sender's latest thread - reopening it if it was
        handled or gone cold: a person must see it - unless that thread ended
        in an opt-out; a stranger's text starts one. STOP closes the thread as
        opted out; a reply marks it replied and starts a new wait for an owner.
        Not a ``lead`` (a bank's "AcmeBank", a short code): kept, in no thread,
        news to nobody.
        """
        now = _iso(self._clock())
        async with self._transaction() as db:
            if await self._already_stored(text):
                return None
            if not lead:
                inbox_id = await self._insert_inbox(text, None, None, alerted=True)
                return Filed(inbox_id, None)
            thread_id = await self._thread_of_sender(text.sender, now)
            status = {"stop": "opted_out", None: "replied"}.get(keyword)
            if status is not None:
                await db.execute(
                    "UPDATE threads SET status = ?, last_activity_at = ?, reminded_at = NULL,"
                    " urgent = max(urgent, ?) WHERE id = ?",
                    (status, now, int(urgent), thread_id),
                )
            inbox_id = await self._insert_inbox(text, keyword, thread_id)
            changed = False
            if opt_out is not None and await self._opted_out(text.sender) != opt_out.opted_out:
                await self._record_choice(
                    text.sender, opt_out.opted_out, opt_out.keyword, opt_out.source,
                    self._clock(),
                )  # fmt: skip
                await self._insert_text(opt_out.confirmation, thread_id=thread_id)
                changed = True
        return Filed(inbox_id, thread_id, changed)

    async def _already_stored(self, text: ReceivedText) -> bool:
        if text.network_time is None:
            return False
        async with self._db.execute(
            "SELECT 1 FROM inbox WHERE sender = ? AND network_time = ? AND body = ?",
            (text.sender, _iso(text.network_time), text.body),
        ) as cursor:
            return await cursor.fetchone() is not None

    async def _thread_of_sender(self, sender: str, now: str) -> int:
        async with self._db.execute(
            "SELECT id, status FROM threads WHERE caller = ?"
            " ORDER BY last_activity_at DESC, id DESC LIMIT 1",
            (sender,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is not None and row[1] != "opted_out":
            return int(row[0])
        return await self._thread_for(sender, None, now)

    async def _insert_inbox(
        self,
        text: ReceivedText,
        keyword: str | None,
        thread_id: int | None,
        *,
        owner_id: str | None = None,
        alerted: bool = False,
    ) -> int:
        async with self._db.execute(
            "INSERT INTO inbox (sender, body, parts, keyword, received_at, stored_at, thread_id,"
            " owner_id, alerted, network_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                text.sender, text.body, text.parts, keyword, _iso(text.received_at),
                _iso(self._clock()), thread_id, owner_id, int(alerted),
                _iso(text.network_time) if text.network_time else None,
            ),
        ) as cursor:  # fmt: skip
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    # ------------------------------------------------------------ owners' texts

    @_one_at_a_time
    async def store_owner_text(
        self, owner_id: str, text: ReceivedText, action: OwnerAction | None = None
    ) -> int | None:
        """An owner's text - never an alert of its own - and what it asks for, in
        one transaction: a text seen twice (a SIM copy after a crash) never acts
        twice. None: it was a copy, nothing written."""
        async with self._transaction():
            if await self._already_stored(text):
                return None
            thread_id = action.thread_id if action else None
            inbox_id = await self._insert_inbox(
                text, None, thread_id, owner_id=owner_id, alerted=True
            )
            if action is not None:
                await self._apply_owner_action(action, owner_id)
        return inbox_id

    @_one_at_a_time
    async def owner_action(self, owner_id: str, action: OwnerAction) -> None:
        """What an owner did from the office (the command line), with its effect."""
        async with self._transaction():
            await self._apply_owner_action(action, owner_id)

    async def _apply_owner_action(self, action: OwnerAction, owner_id: str) -> None:
        """An answer is queued to the caller (the thread waits for them again);
        CALLED or DONE closes the thread as handled. Inside a transaction."""
        assert action.action in ("reply", "called", "done")
        now, reply = _iso(self._clock()), action.reply
        await self._db.execute(
            "INSERT INTO owner_actions (thread_id, owner_id, action, body, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (action.thread_id, owner_id, action.action, reply.body if reply else None, now),
        )
        if reply is not None:
            await self._db.execute(
                "UPDATE threads SET status = 'awaiting_reply', last_activity_at = ?,"
                " reminded_at = NULL WHERE id = ?",
                (now, action.thread_id),
            )
            await self._insert_text(reply, thread_id=action.thread_id)
        else:
            await self._db.execute(
                "UPDATE threads SET status = 'handled', handled_at = ?, handled_by = ?,"
                " last_activity_at = ? WHERE id = ?",
                (now, owner_id, now, action.thread_id),
            )

    # ------------------------------------------------------------ follow-through

    @_one_at_a_time
    async def open_threads(self) -> list[FollowUpState]:
        """Every open thread with the timestamps its follow-up timers run from."""
        async with self._db.execute(
            f"""
            SELECT id, caller, line, status, last_activity_at, reminded_at, nudged_at
              FROM threads WHERE status IN {_OPEN} ORDER BY id
            """  # noqa: S608 -- constants only
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            FollowUpState(r[0], r[1], r[2], r[3], _moment(r[4]), _maybe(r[5]), _maybe(r[6]))
            for r in rows
        ]

    @_one_at_a_time
    async def remind(self, state: FollowUpState, drafts: Sequence[AlertDraft], domain: str) -> bool:
        """Queue a thread's one reminder for this wait. False (and nothing
        written) if the thread moved on since ``state`` was read."""

        async def queue() -> bool:
            await self._insert_alerts(state.thread_id, "reminder", drafts, domain)
            return True

        return await self._change_thread(state, "reminded_at = :now", queue)

    @_one_at_a_time
    async def mark_cold(self, state: FollowUpState) -> bool:
        return await self._change_thread(state, "status = 'cold'", None)

    @_one_at_a_time
    async def nudge(self, state: FollowUpState, text: OutgoingText, *, cap: Cap) -> bool:
        """Queue the thread's one nudge - unless the thread moved on, or ``cap``
        is reached (then nothing is written: it may fit later)."""

        async def queue() -> bool:
            return await self._insert_text(text, thread_id=state.thread_id, cap=cap) is not None

        return await self._change_thread(state, "nudged_at = :now", queue)

    async def _change_thread(
        self,
        state: FollowUpState,
        assignments: str,
        also: Callable[[], Coroutine[Any, Any, bool]] | None,
    ) -> bool:
        """Update a thread only if it is as ``state`` saw it, with ``also`` in the
        same transaction (False from it undoes the update): a restart or a
        racing reply can never double a reminder."""
        async with self._transaction() as db:
            async with db.execute(
                f"UPDATE threads SET {assignments} WHERE id = :id AND status = :status"  # noqa: S608 -- our own assignments
                " AND last_activity_at = :since AND reminded_at IS :reminded"
                " AND nudged_at IS :nudged RETURNING id",
                {
                    "now": _iso(self._clock()),
                    "id": state.thread_id,
                    "status": state.status,
                    "since": _iso(state.waiting_since),
                    "reminded": _iso(state.reminded_at) if state.reminded_at else None,
                    "nudged": _iso(state.nudged_at) if state.nudged_at else None,
                },
            ) as cursor:
                changed = await cursor.fetchone() is not None
            if changed and also is not None and not await also():
                await db.rollback()
                return False
        return changed

    @_one_at_a_time
    async def digest_threads(
        self, since: datetime, until: datetime
    ) -> tuple[list[ThreadSummary], list[ThreadSummary]]:
        """Open threads, and threads handled between ``since`` and ``until``."""
        open_ = await self._thread_summaries(None, True, 500)
        recovered = await self._thread_summaries(None, False, 500, handled=(since, until))
        return open_, recovered

    @_one_at_a_time
    async def queue_digest(
        self, owner_id: str, day: date, draft: AlertDraft | None, domain: str
    ) -> bool:
        """Claim (owner, day) and queue its digest together: once per day, whatever restarts."""
        async with self._transaction() as db:
            async with db.execute(
                "INSERT INTO digests (owner_id, day) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING RETURNING owner_id",
                (owner_id, day.isoformat()),
            ) as cursor:
                claimed = await cursor.fetchone() is not None
            if claimed and draft is not None:
                await self._insert_alert(None, "digest", draft, domain)
        return claimed

    @_one_at_a_time
    async def digest_sent(self, owner_id: str, day: date) -> bool:
        async with self._db.execute(
            "SELECT 1 FROM digests WHERE owner_id = ? AND day = ?", (owner_id, day.isoformat())
        ) as cursor:
            return await cursor.fetchone() is not None

    # ------------------------------------------------------------ the report

    @_one_at_a_time
    async def report(self, since: datetime | None) -> ReportFigures:
        """What the text-back recovered, for threads started since ``since``."""
        start = _iso(since) if since else ""
        one = self._scalar
        missed = await one(
            "SELECT count(*) FROM calls WHERE outcome = 'missed' AND dry_run = 0 AND ended_at >= ?",
            start,
        )
        texted = await one(
            "SELECT count(*) FROM outbox WHERE kind = 'textback'"
            " AND state IN ('sent', 'delivered') AND created_at >= ?",
            start,
        )
        replied = await one(
            "SELECT count(DISTINCT i.thread_id) FROM inbox i JOIN threads t ON t.id = i.thread_id"
            " WHERE i.keyword IS NULL AND i.owner_id IS NULL AND t.created_at >= ?",
            start,
        )
        handled = await one(
            "SELECT count(*) FROM threads WHERE status = 'handled' AND created_at >= ?", start
        )
        async with self._db.execute(
            """
            SELECT t.created_at,
                   (SELECT min(ended_at) FROM calls WHERE thread_id = t.id),
                   (SELECT min(at) FROM owner_actions WHERE thread_id = t.id)
              FROM threads t WHERE t.created_at >= ?
            """,
            (start,),
        ) as cursor:
            rows = await cursor.fetchall()
        waits = [
            _moment(acted) - _moment(called or created)
            for created, called, acted in rows
            if acted is not None
        ]
        return ReportFigures(missed, texted, replied, handled, waits)

    async def _scalar(self, sql: str, *args: object) -> int:
        async with self._db.execute(sql, args) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    @_one_at_a_time
    async def inbox(self, limit: int = 100) -> list[dict[str, object]]:
        async with self._db.execute(
            "SELECT * FROM inbox ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [{key: row[key] for key in row.keys()} for row in rows]  # noqa: SIM118

    @_one_at_a_time
    async def threads(self, limit: int = 50, *, open_only: bool = False) -> list[ThreadSummary]:
        """Open threads first, then by newest activity."""
        return await self._thread_summaries(None, open_only, limit)

    async def _thread_summaries(
        self,
        thread_id: int | None,
        open_only: bool,
        limit: int,
        *,
        handled: tuple[datetime, datetime] | None = None,
    ) -> list[ThreadSummary]:
        """Threads (one, the open ones, those handled in a window, or all)."""
        since, until = (_iso(handled[0]), _iso(handled[1])) if handled else (None, None)
        async with self._db.execute(
            f"""
            SELECT id, caller, line, status, urgent, created_at, last_activity_at,
                   (SELECT body FROM inbox WHERE thread_id = threads.id AND owner_id IS NULL
                     ORDER BY id DESC LIMIT 1),
                   (SELECT count(*) FROM calls WHERE thread_id = threads.id)
            FROM threads
            WHERE (:id IS NULL OR id = :id)
              AND (:open = 0 OR status IN {_OPEN})
              AND (:since IS NULL OR (status = 'handled'
                                      AND handled_at >= :since AND handled_at < :until))
            ORDER BY status IN {_OPEN} DESC, last_activity_at DESC, id DESC
            LIMIT :limit
            """,  # noqa: S608 -- constants only
            {
                "id": thread_id, "open": int(open_only), "limit": limit,
                "since": since, "until": until,
            },
        ) as cursor:  # fmt: skip
            rows = await cursor.fetchall()
        return [
            ThreadSummary(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], int(r[8]))
            for r in rows
        ]

    @_one_at_a_time
    async def thread_summary(self, thread_id: int) -> ThreadSummary | None:
        """One thread without its history (see ``thread`` for that)."""
        found = await self._thread_summaries(thread_id, False, 1)
        return found[0] if found else None

    @_one_at_a_time
    async def thread(self, thread_id: int) -> tuple[ThreadSummary, list[ThreadEvent]] | None:
        """One thread and everything that happened on it, oldest first."""
        found = await self._thread_summaries(thread_id, False, 1)
        if not found:
            return None
        summary = found[0]
        async with self._db.execute(
            """
            SELECT ended_at, 'missed call', coalesce(reason, outcome) || ' - ' || detail, 'call'
              FROM calls WHERE thread_id = :t
            UNION ALL
            SELECT coalesce(sent_at, created_at),
                   CASE kind WHEN 'textback' THEN 'text out' WHEN 'reply' THEN 'answer out'
                             ELSE replace(kind, '_', ' ') || ' out' END || ' (' || state || ')',
                   body, 'out'
              FROM outbox WHERE thread_id = :t AND kind != 'owner_alert'
            UNION ALL
            SELECT received_at, 'text in', body, 'in' FROM inbox
             WHERE thread_id = :t AND owner_id IS NULL
            UNION ALL
            SELECT coalesce(sent_at, created_at),
                   kind || ' alert to ' || owner_id || ' by ' || channel || ' (' || state || ')',
                   subject, 'alert'
              FROM alerts WHERE thread_id = :t
            UNION ALL
            SELECT at, 'owner ' || owner_id || ': ' || action, coalesce(body, ''), 'owner'
              FROM owner_actions WHERE thread_id = :t
            ORDER BY 1
            """,
            {"t": thread_id},
        ) as cursor:
            events = [ThreadEvent(*row) for row in await cursor.fetchall()]
        return summary, events

    # ------------------------------------------------------------ owner alerts

    @_one_at_a_time
    async def unalerted(self) -> list[AlertEvent]:
        async with self._db.execute(
            """
            SELECT 'missed_call', c.id, c.thread_id, c.caller, c.line, c.ended_at,
                   coalesce(c.reason, '') || ' - ' || c.detail,
                   (SELECT body FROM outbox o WHERE o.linkedid = c.linkedid
                      AND o.kind = 'textback'),
                   c.text_skip, c.outcome = 'unknown'
              FROM calls c WHERE c.alerted = 0 AND c.thread_id IS NOT NULL
            UNION ALL
            SELECT 'reply', i.id, i.thread_id, i.sender, t.line, i.received_at, i.body,
                   NULL, NULL, 0
              FROM inbox i JOIN threads t ON t.id = i.thread_id
             WHERE i.alerted = 0 AND i.keyword IS NULL
            ORDER BY 6
            """
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            AlertEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]))
            for r in rows
        ]

    @_one_at_a_time
    async def queue_alerts(
        self, batch: Sequence[tuple[AlertEvent, Sequence[AlertDraft]]], domain: str
    ) -> list[int]:
        """Queue events' alerts and mark the events alerted, all in one transaction."""
        ids: list[int] = []
        async with self._transaction() as db:
            for event, drafts in batch:
                table = "calls" if event.kind == "missed_call" else "inbox"
                await db.execute(
                    f"UPDATE {table} SET alerted = 1 WHERE id = ?",  # noqa: S608 -- one of two names
                    (event.source_id,),
                )
                ids += await self._insert_alerts(event.thread_id, event.kind, drafts, domain)
        return ids

    async def _insert_alerts(
        self, thread_id: int | None, kind: str, drafts: Sequence[AlertDraft], domain: str
    ) -> list[int]:
        return [await self._insert_alert(thread_id, kind, draft, domain) for draft in drafts]

    async def _insert_alert(
        self, thread_id: int | None, kind: str, draft: AlertDraft, domain: str
    ) -> int:
        """One alert row - and for a text, its outbox row - inside the caller's transaction."""
        now = self._clock()
        message_id = f"<textback.{kind}.{uuid.uuid4().hex}@{domain}>"
        in_reply_to = None
        if draft.channel == "email" and thread_id is not None:
            # The first email of a thread is its root; later ones refer to it,
            # so a mail client shows one conversation.
            root = f"<textback.thread{thread_id}@{domain}>"
            async with self._db.execute(
                "SELECT 1 FROM alerts WHERE thread_id = ? AND channel = 'email' AND recipient = ?",
                (thread_id, draft.recipient),
            ) as cursor:
                first = await cursor.fetchone() is None
            message_id, in_reply_to = (root, None) if first else (message_id, root)
        async with self._db.execute(
            """
            INSERT INTO alerts (thread_id, owner_id, channel, kind, recipient, subject,
                                body_text, body_html, message_id, in_reply_to, state,
                                next_attempt_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?) RETURNING id
            """,
            (
                thread_id, draft.owner_id, draft.channel, kind, draft.recipient,
                draft.subject, draft.body_text, draft.body_html, message_id, in_reply_to,
                _iso(now), _iso(now),
            ),
        ) as cursor:  # fmt: skip
            row = await cursor.fetchone()
        assert row is not None
        alert_id = int(row[0])
        if draft.channel == "sms":  # the outbox worker sends it, with every other text
            text = OutgoingText(
                draft.recipient, draft.body_text, draft.parts, now + _OWNER_ALERT_TTL,
                kind="owner_alert",
            )  # fmt: skip
            await self._insert_text(text, thread_id=thread_id, alert_id=alert_id)
        return alert_id

    @_one_at_a_time
    async def due_alerts(self, now: datetime, channel: str) -> list[QueuedAlert]:
        async with self._db.execute(
            "SELECT id, thread_id, channel, recipient, subject, body_text, body_html, message_id,"
            " in_reply_to, attempts FROM alerts WHERE state = 'queued' AND channel = ?"
            " AND next_attempt_at <= ? ORDER BY id",
            (channel, _iso(now)),
        ) as cursor:
            rows = await cursor.fetchall()
        return [QueuedAlert(*row) for row in rows]

    @_one_at_a_time
    async def mark_alert(
        self,
        alert_id: int,
        state: str,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """sent; queued again (with retry_at); or failed."""
        await self._db.execute(
            "UPDATE alerts SET state = ?, attempts = attempts + 1, last_error = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
            " next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?",
            (
                state, error, state, _iso(self._clock()),
                _iso(retry_at) if retry_at else None, alert_id,
            ),
        )  # fmt: skip
        await self._db.commit()

    @_one_at_a_time
    async def alerts(self, thread_id: int | None = None) -> list[dict[str, object]]:
        async with self._db.execute(
            "SELECT * FROM alerts WHERE ? IS NULL OR thread_id = ? ORDER BY id",
            (thread_id, thread_id),
        ) as cursor:
            rows = await cursor.fetchall()
        return [{key: row[key] for key in row.keys()} for row in rows]  # noqa: SIM118

    @_one_at_a_time
    async def outbox(self, limit: int = 100) -> list[dict[str, object]]:
        async with self._db.execute(
            "SELECT * FROM outbox ORDER BY id DESC LIMIT ?", (limit,)
        ) as cursor:
            rows = await cursor.fetchall()
        return [{key: row[key] for key in row.keys()} for row in rows]  # noqa: SIM118

    @_one_at_a_time
    async def recent_calls(self, limit: int = 50) -> list[StoredCall]:
        return await self._calls(None, limit)

    @_one_at_a_time
    async def call(self, linkedid: str) -> StoredCall | None:
        found = await self._calls(linkedid, 1)
        return found[0] if found else None

    async def _calls(self, linkedid: str | None, limit: int) -> list[StoredCall]:
        """Calls with their text-back's state, newest first."""
        async with self._db.execute(
            """
            SELECT calls.*, outbox.state AS text_state FROM calls
              LEFT JOIN outbox ON outbox.linkedid = calls.linkedid AND outbox.kind = 'textback'
             WHERE :linkedid IS NULL OR calls.linkedid = :linkedid
             ORDER BY calls.ended_at DESC, calls.id DESC LIMIT :limit
            """,
            {"linkedid": linkedid, "limit": limit},
        ) as cursor:
            rows = await cursor.fetchall()
        return [_stored_call(row) for row in rows]


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _maybe(iso: str | None) -> datetime | None:
    return None if iso is None else datetime.fromisoformat(iso)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


_BOOLEAN_COLUMNS = ("withheld", "dry_run", "voicemail_left")


_STORED_CALL_FIELDS = frozenset(StoredCall.__dataclass_fields__)


def _stored_call(row: sqlite3.Row) -> StoredCall:
    # Only the columns StoredCall shows: bookkeeping columns (alerted...) stay in.
    values = {key: row[key] for key in row.keys() if key in _STORED_CALL_FIELDS}  # noqa: SIM118
    for key in _BOOLEAN_COLUMNS:
        if values[key] is not None:
            values[key] = bool(values[key])
    return StoredCall(**values)
