"""Calls: each call's decision, committed before anything acts on it (with its
thread and its text-back, in one transaction); the calls still in progress;
and until when the bridge saw every AMI event."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridge.core.callbacks import ThreadLink
from bridge.core.calls import CallDecision, OpenCall, Outcome
from bridge.core.recording import Plan, Recorded
from bridge.core.texts import OutgoingText
from bridge.core.threads import StoredCall
from bridge.store.sqlite.connection import Aggregate, Sql
from bridge.store.sqlite.conversations import thread_for
from bridge.store.sqlite.database import BlockingTransaction
from bridge.store.sqlite.links import apply_link
from bridge.store.sqlite.outbox import Histories, insert_text
from bridge.store.sqlite.stamps import iso, moment, moment_or_none

# Calls that open (or join) a thread for an owner to follow up: a call whose end
# the bridge could not see may have been missed, and a person should know.
_LEADS = (Outcome.MISSED, Outcome.UNKNOWN)
_INSERT_CALL = """
    INSERT INTO calls (linkedid, outcome, reason, caller, caller_raw, caller_name,
                       withheld, line, line_name, started_at, ended_at,
                       voicemail_left, dial_status, answered_by, detail, source,
                       dry_run, decided_at, text_skip)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (linkedid) DO NOTHING
    RETURNING id
"""
_BOOLEAN_COLUMNS = ("withheld", "dry_run", "voicemail_left")
_STORED_CALL_FIELDS = frozenset(StoredCall.__dataclass_fields__)


def _call_params(
    d: CallDecision, dry_run: bool, decided_at: str, text_skip: str | None
) -> tuple[Any, ...]:
    return (
        d.linkedid, d.outcome.value, d.reason.value if d.reason else None, d.caller,
        d.caller_raw, d.caller_name, int(d.withheld), d.line, d.line_name,
        iso(d.started_at), iso(d.ended_at),
        None if d.voicemail_left is None else int(d.voicemail_left),
        d.dial_status, d.answered_by, d.detail, d.source, int(dry_run), decided_at, text_skip,
    )  # fmt: skip


def _stored_call(row: sqlite3.Row) -> StoredCall:
    # Only the columns StoredCall shows: bookkeeping columns (alerted...) stay in.
    values = {key: row[key] for key in row.keys() if key in _STORED_CALL_FIELDS}  # noqa: SIM118
    for key in _BOOLEAN_COLUMNS:
        if values[key] is not None:
            values[key] = bool(values[key])
    return StoredCall(**values)


_CALLS = """
    SELECT calls.*, outbox.state AS text_state FROM calls
      LEFT JOIN outbox ON outbox.linkedid = calls.linkedid AND outbox.kind = 'textback'
"""
# The newest calls walk calls_by_end backwards and stop at the limit; one call
# is found by its Linkedid (two statements: an optional filter in one would
# make SQLite walk every call looking for it).
_RECENT = f"{_CALLS} ORDER BY calls.ended_at DESC, calls.id DESC LIMIT ?"
_ONE = f"{_CALLS} WHERE calls.linkedid = ?"


async def _calls(sql: Sql, linkedid: str | None, limit: int) -> list[StoredCall]:
    """Calls with their text-back's state, newest first."""
    rows = await (sql.rows(_RECENT, (limit,)) if linkedid is None else sql.rows(_ONE, (linkedid,)))
    return [_stored_call(row) for row in rows]


def _record(
    tx: BlockingTransaction,
    d: CallDecision,
    clock: datetime,
    dry_run: bool,
    text_skip: str | None,
    text: OutgoingText | None,
    link: ThreadLink | None,
) -> bool:
    """record_decision's transaction, on the database's thread."""
    now = iso(clock)
    # Decided (by this report or an earlier one): no longer open.
    tx.run("DELETE FROM open_calls WHERE linkedid = ?", (d.linkedid,))
    if tx.row(_INSERT_CALL, _call_params(d, dry_run, now, text_skip)) is None:
        return False
    thread_id = None
    if dry_run:
        # A rehearsal: no lead to follow up, no news for anyone.
        tx.run("UPDATE calls SET alerted = 1 WHERE linkedid = ?", (d.linkedid,))
    elif d.outcome in _LEADS and d.caller is not None:
        thread_id = thread_for.now(tx, d.caller, d.line, now)
        tx.run("UPDATE calls SET thread_id = ? WHERE linkedid = ?", (thread_id, d.linkedid))
    elif link is not None:
        apply_link.now(tx, link, d.linkedid, now)
    if text is not None:
        insert_text.now(tx, clock, text, linkedid=d.linkedid, thread_id=thread_id)
    return True


_SAVE_OPEN_CALLS = (
    "INSERT INTO open_calls (linkedid, state, last_seen) VALUES (?, ?, ?)"
    " ON CONFLICT (linkedid) DO UPDATE SET state = excluded.state,"
    " last_seen = excluded.last_seen"
)


def _open_call_rows(calls: Sequence[OpenCall]) -> list[tuple[str, str, str]]:
    return [(c.linkedid, c.state, iso(c.last_seen)) for c in calls]


def _in_order(
    tx: BlockingTransaction,
    items: Sequence[OpenCall | CallDecision],
    plan: Plan,
    now: datetime,
    clock: datetime,
    dry_run: bool,
) -> list[Recorded]:
    """record_in_order's transaction, on the database's thread: each run of
    open calls one statement, each decision planned from the history as the
    statements before it left it - its number's rows read (this transaction
    sees its own writes), the caps' counts kept on as it queues (Histories)."""
    recorded: list[Recorded] = []
    waiting: list[OpenCall] = []
    histories = Histories(tx, now)
    for item in [*items, None]:
        if isinstance(item, OpenCall):
            waiting.append(item)
            continue
        if waiting:
            tx.run_many(_SAVE_OPEN_CALLS, _open_call_rows(waiting))
            waiting = []
        if item is not None:
            planned = plan(item, histories)
            new = _record(tx, item, clock, dry_run, planned.skip, planned.text, planned.link)
            if new and planned.text is not None:
                histories.queued(planned.text, clock)
            recorded.append(Recorded(item, new, planned))
    return recorded


class Calls(Aggregate):
    async def record_decision(
        self,
        decision: CallDecision,
        *,
        dry_run: bool = False,
        text_skip: str | None = None,
        text: OutgoingText | None = None,
        link: ThreadLink | None = None,
    ) -> bool:
        """Commit a decision, with its text-back (or why not), in one transaction
        - one trip to the database's thread, as it is on every call's way to its
        text. ``link``: what the call does to its number's open thread (a
        call-back, the caller reached), applied with it.

        False if this Linkedid was already decided: then nothing is written.
        """
        clock = self._clock()
        return await self._conn.run_transaction(
            lambda tx: _record(tx, decision, clock, dry_run, text_skip, text, link)
        )

    async def save_open_calls(self, calls: Sequence[OpenCall]) -> None:
        """Keep the latest state of calls in progress, all in one transaction."""
        rows = _open_call_rows(calls)
        await self._conn.run_transaction(lambda tx: tx.run_many(_SAVE_OPEN_CALLS, rows))

    async def record_in_order(
        self,
        items: Sequence[OpenCall | CallDecision],
        plan: Plan,
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> list[Recorded]:
        """The recorder's backlog in one transaction, one trip and one commit
        (a sync of the log), however many calls rang at once."""
        clock = self._clock()
        return await self._conn.run_transaction(
            lambda tx: _in_order(tx, items, plan, now, clock, dry_run)
        )

    async def open_calls(self) -> list[OpenCall]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(
                "SELECT linkedid, state, last_seen FROM open_calls ORDER BY last_seen"
            )
        return [OpenCall(r[0], r[1], moment(r[2])) for r in rows]

    async def seen_until(self) -> datetime | None:
        """Until when the bridge saw every AMI event (None: it never has)."""
        async with self._conn.reading() as sql:
            value = await sql.scalar("SELECT value FROM bridge_state WHERE key = 'ami_seen_until'")
        return moment_or_none(value)

    async def mark_seen(self, moment: datetime) -> None:
        """AMI was connected, so every event up to ``moment`` reached the bridge."""
        await self._conn.write(
            "INSERT INTO bridge_state (key, value) VALUES ('ami_seen_until', ?)"
            " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
            (iso(moment),),
        )

    async def recent_calls(self, limit: int = 50) -> list[StoredCall]:
        async with self._conn.reading() as sql:
            return await _calls(sql, None, limit)

    async def call(self, linkedid: str) -> StoredCall | None:
        async with self._conn.reading() as sql:
            found = await _calls(sql, linkedid, 1)
        return found[0] if found else None
