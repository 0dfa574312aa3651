"""Calls (bridge/store/sqlite/calls.py's twin): each decision committed with
its thread and text-back in one transaction, under the caller's lock. Two
bridges reporting one Linkedid: the second's insert waits on the unique
index for the first to commit, then does nothing (False)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridge.core.callbacks import ThreadLink
from bridge.core.calls import CallDecision, OpenCall, Outcome
from bridge.core.recording import HistoryOf, Plan, Recorded
from bridge.core.texts import History, OutgoingText
from bridge.core.threads import StoredCall
from bridge.store.postgres.connection import Aggregate, Row, Sql, lock_number
from bridge.store.postgres.conversations import thread_for
from bridge.store.postgres.links import apply_link
from bridge.store.postgres.outbox import history, insert_text
from bridge.store.sqlite.stamps import iso, moment, moment_or_none

_LEADS = (Outcome.MISSED, Outcome.UNKNOWN)
_INSERT_CALL = """
    INSERT INTO calls (linkedid, outcome, reason, caller, caller_raw, caller_name,
                       withheld, line, line_name, started_at, ended_at,
                       voicemail_left, dial_status, answered_by, detail, source,
                       dry_run, decided_at, text_skip)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (office, linkedid) DO NOTHING
    RETURNING id
"""
_BOOLEAN_COLUMNS = ("withheld", "dry_run", "voicemail_left")
_STORED_CALL_FIELDS = frozenset(StoredCall.__dataclass_fields__)
_CALLS = """
    SELECT calls.*, outbox.state AS text_state FROM calls
      LEFT JOIN outbox ON outbox.linkedid = calls.linkedid AND outbox.kind = 'textback'
"""
_RECENT = f"{_CALLS} ORDER BY calls.ended_at DESC, calls.id DESC LIMIT ?"
_ONE = f"{_CALLS} WHERE calls.linkedid = ?"


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


def _stored_call(row: Row) -> StoredCall:
    values = {key: row[key] for key in row.keys() if key in _STORED_CALL_FIELDS}  # noqa: SIM118
    for key in _BOOLEAN_COLUMNS:
        if values[key] is not None:
            values[key] = bool(values[key])
    return StoredCall(**values)


async def _calls(sql: Sql, linkedid: str | None, limit: int) -> list[StoredCall]:
    rows = await (sql.rows(_RECENT, (limit,)) if linkedid is None else sql.rows(_ONE, (linkedid,)))
    return [_stored_call(row) for row in rows]


async def _lock_numbers(
    tx: Sql, decisions: Sequence[CallDecision], link: ThreadLink | None
) -> None:
    """The numbers whose open thread and texts these decisions read (a
    caller; an outbound call's callee, whose thread a call-back joins) stay
    as read until the commit; in one order, so two transactions never wait
    on each other's."""
    numbers = {n for d in decisions for n in (d.caller, d.callee)}
    numbers.add(link.number if link else None)
    for number in sorted(n for n in numbers if n is not None):
        await lock_number(tx, number)


async def _history_of(tx: Sql, d: CallDecision, now: datetime) -> HistoryOf:
    """The caller's history for the plan, read before it (the plan is pure and
    synchronous: it reads only its own decision's caller)."""
    if d.caller is None or not d.is_missed:
        return lambda number: History()
    known = {d.caller: await history(tx, d.caller, now)}
    return lambda number: known[number]


async def _record(
    tx: Sql,
    d: CallDecision,
    clock: datetime,
    dry_run: bool,
    text_skip: str | None,
    text: OutgoingText | None,
    link: ThreadLink | None,
) -> bool:
    """record_decision's statements, inside a transaction holding the numbers' locks."""
    now = iso(clock)
    await tx.run("DELETE FROM open_calls WHERE linkedid = ?", (d.linkedid,))
    if await tx.row(_INSERT_CALL, _call_params(d, dry_run, now, text_skip)) is None:
        return False
    thread_id = None
    if dry_run:
        await tx.run("UPDATE calls SET alerted = 1 WHERE linkedid = ?", (d.linkedid,))
    elif d.outcome in _LEADS and d.caller is not None:
        thread_id = await thread_for(tx, d.caller, d.line, now)
        await tx.run("UPDATE calls SET thread_id = ? WHERE linkedid = ?", (thread_id, d.linkedid))
    elif link is not None:
        await apply_link(tx, link, d.linkedid, now)
    if text is not None:
        await insert_text(tx, clock, text, linkedid=d.linkedid, thread_id=thread_id)
    return True


async def _save_open_calls(tx: Sql, calls: Sequence[OpenCall]) -> None:
    """In Linkedid order, so two bridges saving the same calls lock their rows
    in the same order (no deadlock)."""
    ordered = sorted(calls, key=lambda c: c.linkedid)
    await tx.run_many(
        "INSERT INTO open_calls (linkedid, state, last_seen) VALUES (?, ?, ?)"
        " ON CONFLICT (office, linkedid) DO UPDATE SET state = excluded.state,"
        " last_seen = excluded.last_seen",
        [(c.linkedid, c.state, iso(c.last_seen)) for c in ordered],
    )


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
        """As SQLite's (see there); False, nothing written, for a Linkedid decided before."""
        async with self._conn.transaction() as tx:
            await _lock_numbers(tx, [decision], link)
            return await _record(tx, decision, self._clock(), dry_run, text_skip, text, link)

    async def record_in_order(
        self,
        items: Sequence[OpenCall | CallDecision],
        plan: Plan,
        now: datetime,
        *,
        dry_run: bool = False,
    ) -> list[Recorded]:
        """As SQLite's: the recorder's backlog in one transaction (one commit),
        each decision planned from its caller's history as the statements
        before it left it. Every number the run reads is locked first, in one
        order, so two bridges' runs never wait on each other's."""
        decisions = [item for item in items if isinstance(item, CallDecision)]
        clock = self._clock()
        recorded: list[Recorded] = []
        async with self._conn.transaction() as tx:
            await _lock_numbers(tx, decisions, None)
            waiting: list[OpenCall] = []
            for item in [*items, None]:
                if isinstance(item, OpenCall):
                    waiting.append(item)
                    continue
                if waiting:
                    await _save_open_calls(tx, waiting)
                    waiting = []
                if item is not None:
                    planned = plan(item, await _history_of(tx, item, now))
                    new = await _record(
                        tx, item, clock, dry_run, planned.skip, planned.text, planned.link
                    )
                    recorded.append(Recorded(item, new, planned))
        return recorded

    async def save_open_calls(self, calls: Sequence[OpenCall]) -> None:
        """All in one transaction."""
        async with self._conn.transaction() as tx:
            await _save_open_calls(tx, calls)

    async def open_calls(self) -> list[OpenCall]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(
                "SELECT linkedid, state, last_seen FROM open_calls ORDER BY last_seen"
            )
        return [OpenCall(r[0], r[1], moment(r[2])) for r in rows]

    async def seen_until(self) -> datetime | None:
        async with self._conn.reading() as sql:
            value = await sql.scalar("SELECT value FROM bridge_state WHERE key = 'ami_seen_until'")
        return moment_or_none(value)

    async def mark_seen(self, moment: datetime) -> None:
        await self._conn.write(
            "INSERT INTO bridge_state (key, value) VALUES ('ami_seen_until', ?)"
            " ON CONFLICT (office, key)"
            " DO UPDATE SET value = greatest(bridge_state.value, excluded.value)",
            (iso(moment),),
        )

    async def recent_calls(self, limit: int = 50) -> list[StoredCall]:
        async with self._conn.reading() as sql:
            return await _calls(sql, None, limit)

    async def call(self, linkedid: str) -> StoredCall | None:
        async with self._conn.reading() as sql:
            found = await _calls(sql, linkedid, 1)
        return found[0] if found else None
