"""The recovery ledger (bridge/store/sqlite/ledger.py's twin). Under READ
COMMITTED the lead's state is read with its thread's row locked (FOR UPDATE):
two owners' steps on one lead at once are decided one after the other, each
on the state the other left - as SQLite's single writer decides them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bridge.core.ledger import LeadState, LeadStep, Transition, decide, fold
from bridge.core.texts import ReceivedText
from bridge.store.postgres.connection import Aggregate, Sql, lock_number
from bridge.store.postgres.conversations import _already_stored, _insert_inbox
from bridge.store.sqlite.stamps import iso

_STEPS_OF = "SELECT step, cents, reason FROM lead_steps WHERE thread_id = ?::bigint ORDER BY id"


async def lead_state(sql: Sql, thread_id: int) -> LeadState:
    rows = await sql.rows(_STEPS_OF, (thread_id,))
    return fold([(row[0], row[1], row[2]) for row in rows])


async def _apply_step(sql: Sql, now: datetime, owner_id: str, step: LeadStep) -> Transition | None:
    """The step, if the rules take it, and the thread handled. None: no such thread."""
    status = await sql.scalar(
        "SELECT status FROM threads WHERE id = ?::bigint FOR UPDATE", (step.thread_id,)
    )
    if status is None:
        return None
    transition = decide(await lead_state(sql, step.thread_id), step)
    if transition.outcome != "recorded":
        return transition
    at = iso(now)
    await sql.run(
        "INSERT INTO lead_steps (thread_id, step, cents, reason, owner_id, at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (step.thread_id, step.step, step.cents, transition.after.reason, owner_id, at),
    )
    # Handled, as DONE makes it (no more reminders) - but an opted-out thread
    # stays opted out, and one handled before keeps when and by whom.
    closes = status not in ("handled", "opted_out")
    if closes:
        await sql.run(
            "UPDATE threads SET status = 'handled', handled_at = ?, handled_by = ?,"
            " last_activity_at = ? WHERE id = ?",
            (at, owner_id, at, step.thread_id),
        )
    else:
        await sql.run("UPDATE threads SET last_activity_at = ? WHERE id = ?", (at, step.thread_id))
    return replace(transition, closed=closes)


class Ledger(Aggregate):
    async def store_owner_step(
        self, owner_id: str, text: ReceivedText, step: LeadStep
    ) -> Transition | None:
        """An owner's BOOKED / WON / LOST text and its step, together. None: a
        copy of a text already stored, or no such thread (nothing written)."""
        async with self._conn.transaction() as tx:
            now = self._clock()
            await lock_number(tx, text.sender)  # a copy of the same text: stored once
            if await _already_stored(tx, text):
                return None
            transition = await _apply_step(tx, now, owner_id, step)
            if transition is None:
                return None
            await _insert_inbox(
                tx, now, text, None, step.thread_id, owner_id=owner_id, alerted=True
            )
        return transition

    async def lead_step(self, owner_id: str, step: LeadStep) -> Transition | None:
        """A step recorded from the office (`textback booked|won|lost`). None: no such thread."""
        async with self._conn.transaction() as tx:
            return await _apply_step(tx, self._clock(), owner_id, step)

    async def lead_states(self, thread_ids: Sequence[int]) -> dict[int, LeadState]:
        """Where each of these leads is (a thread with no step is left out)."""
        found: dict[int, LeadState] = {}
        async with self._conn.reading() as sql:
            for thread_id in dict.fromkeys(thread_ids):
                state = await lead_state(sql, thread_id)
                if state.step is not None:
                    found[thread_id] = state
        return found
