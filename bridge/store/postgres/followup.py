"""Follow-through (bridge/store/sqlite/followup.py's twin): each change is
conditional on the thread being as it was read - a conditional UPDATE, which
READ COMMITTED re-checks against the committed row, so of two bridges'
reminders for one wait only one is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime

from bridge.core.alerts import AlertDraft
from bridge.core.texts import Cap, OutgoingText
from bridge.core.threads import DueTimers, FollowUpState, ThreadSummary
from bridge.store.postgres.alerts import insert_alert, insert_alerts
from bridge.store.postgres.connection import Aggregate, Row, Transaction, lock_number
from bridge.store.postgres.conversations import OPEN, thread_summaries
from bridge.store.postgres.outbox import insert_text
from bridge.store.sqlite.stamps import iso, iso_or_none, moment, moment_or_none

Also = Callable[[Transaction, datetime], Awaitable[bool]]
_STATE = "SELECT id, caller, line, status, last_activity_at, reminded_at, nudged_at FROM threads"
_OPEN_THREADS = f"{_STATE} WHERE status IN {OPEN} ORDER BY id"
_DUE = f"""
    {_STATE} WHERE status IN ('new', 'awaiting_reply') AND reminded_at IS NULL
                AND last_activity_at <= :reply_from
    UNION {_STATE} WHERE status = 'replied' AND reminded_at IS NULL
                AND last_activity_at <= :action_from
    UNION {_STATE} WHERE status IN {OPEN} AND reminded_at <= :cold_from
    UNION {_STATE} WHERE status = 'awaiting_reply' AND nudged_at IS NULL
                AND last_activity_at > :nudge_after AND last_activity_at <= :nudge_up_to
    ORDER BY id
"""
_CHANGE_IF_AS_READ = (
    " WHERE id = :id AND status = :status AND last_activity_at = :since"
    " AND reminded_at IS NOT DISTINCT FROM :reminded::text"
    " AND nudged_at IS NOT DISTINCT FROM :nudged::text RETURNING id"
)


def _state(r: Row) -> FollowUpState:
    return FollowUpState(
        r[0], r[1], r[2], r[3], moment(r[4]), moment_or_none(r[5]), moment_or_none(r[6])
    )


def _due_params(due: DueTimers) -> dict[str, str | None]:
    nudge = due.nudge_between
    return {
        "reply_from": iso(due.reply_wait_from),
        "action_from": iso(due.action_wait_from),
        "cold_from": iso(due.cold_from),
        "nudge_after": iso(nudge[0]) if nudge else None,
        "nudge_up_to": iso(nudge[1]) if nudge else None,
    }


class FollowUp(Aggregate):
    async def open_threads(self) -> list[FollowUpState]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(_OPEN_THREADS)
        return [_state(r) for r in rows]

    async def due_threads(self, due: DueTimers) -> list[FollowUpState]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(_DUE, _due_params(due))
        return [_state(r) for r in rows]

    async def remind(self, state: FollowUpState, drafts: Sequence[AlertDraft], domain: str) -> bool:
        async def queue(tx: Transaction, now: datetime) -> bool:
            await insert_alerts(tx, now, state.thread_id, "reminder", drafts, domain)
            return True

        return await self._change_thread(state, "reminded_at = :now", queue)

    async def mark_cold(self, state: FollowUpState) -> bool:
        return await self._change_thread(state, "status = 'cold'", None)

    async def nudge(self, state: FollowUpState, text: OutgoingText, *, cap: Cap) -> bool:
        async def queue(tx: Transaction, now: datetime) -> bool:
            return await insert_text(tx, now, text, thread_id=state.thread_id, cap=cap) is not None

        return await self._change_thread(state, "nudged_at = :now", queue)

    async def _change_thread(
        self, state: FollowUpState, assignments: str, also: Also | None
    ) -> bool:
        async with self._conn.transaction() as tx:
            # The caller's lock before the thread's row: the order a decision takes them in.
            await lock_number(tx, state.caller)
            now = self._clock()
            changed = await tx.row(
                f"UPDATE threads SET {assignments}{_CHANGE_IF_AS_READ}",  # noqa: S608 -- our own assignments
                {
                    "now": iso(now),
                    "id": state.thread_id,
                    "status": state.status,
                    "since": iso(state.waiting_since),
                    "reminded": iso_or_none(state.reminded_at),
                    "nudged": iso_or_none(state.nudged_at),
                },
            )
            if changed is not None and also is not None and not await also(tx, now):
                tx.undo()
                return False
        return changed is not None

    async def digest_threads(
        self, since: datetime, until: datetime
    ) -> tuple[list[ThreadSummary], list[ThreadSummary]]:
        async with self._conn.reading() as sql:
            open_ = await thread_summaries(sql, None, True, 500)
            recovered = await thread_summaries(sql, None, False, 500, handled=(since, until))
        return open_, recovered

    async def queue_digest(
        self, owner_id: str, day: date, draft: AlertDraft | None, domain: str
    ) -> bool:
        async with self._conn.transaction() as tx:
            claimed = await tx.row(
                "INSERT INTO digests (owner_id, day) VALUES (?, ?)"
                " ON CONFLICT DO NOTHING RETURNING owner_id",
                (owner_id, day.isoformat()),
            )
            if claimed is not None and draft is not None:
                await insert_alert(tx, self._clock(), None, "digest", draft, domain)
        return claimed is not None

    async def digest_sent(self, owner_id: str, day: date) -> bool:
        async with self._conn.reading() as sql:
            found = await sql.scalar(
                "SELECT 1 FROM digests WHERE owner_id = ? AND day = ?", (owner_id, day.isoformat())
            )
        return found is not None
