"""The recovery ledger: owners' BOOKED / WON / LOST steps on a lead (table
lead_steps, every step kept), each applied in one transaction with its
effect - the thread is marked handled as DONE would - and, by SMS, with the
owner's text. Whether a step is taken is bridge.core.ledger's rule, decided
on the lead's state read inside that transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bridge.core.ledger import LeadState, LeadStep, Transition, decide, fold
from bridge.core.texts import ReceivedText
from bridge.store.sqlite.connection import Aggregate, Sql
from bridge.store.sqlite.conversations import _already_stored, _insert_inbox
from bridge.store.sqlite.stamps import iso

_STEPS_OF = "SELECT step, cents, reason FROM lead_steps WHERE thread_id = ? ORDER BY id"


async def lead_state(sql: Sql, thread_id: int) -> LeadState:
    rows = await sql.rows(_STEPS_OF, (thread_id,))
    return fold([(row[0], row[1], row[2]) for row in rows])


async def _apply_step(sql: Sql, now: datetime, owner_id: str, step: LeadStep) -> Transition | None:
    """The step, if the rules take it, and the thread handled. None: no such thread."""
    status = await sql.scalar("SELECT status FROM threads WHERE id = ?", (step.thread_id,))
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
