"""Texts out, and opt-outs (bridge/store/sqlite/outbox.py's twin). The
functions at the top run inside another aggregate's transaction; a capped
insert holds its number's lock (connection.lock_number) so two bridges'
texts to one number cannot both slip under the cap."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bridge.core.texts import SEND_ORDER, Cap, History, OutgoingText, QueuedText
from bridge.store.postgres.connection import Aggregate, Row, Sql, as_dict, lock_number
from bridge.store.sqlite.stamps import iso, moment

# Texts that count against caps and cooldowns: not failed, expired or cancelled.
LIVE = "('queued', 'sending', 'sent', 'delivered')"
_TEXTS_TO_SINCE = (
    f"SELECT count(*) FROM outbox WHERE to_number = ? AND created_at >= ?"  # noqa: S608 -- constants only
    f" AND state IN {LIVE} AND kind = coalesce(?::text, kind)"
)
_INSERT_TEXT = f"""
    INSERT INTO outbox (kind, linkedid, to_number, body, parts, state, created_at,
                        next_attempt_at, expires_at, thread_id, alert_id, from_line)
    SELECT ?::text, ?::text, ?::text, ?::text, ?::int, 'queued', ?::text, ?::text, ?::text,
           ?::bigint, ?::bigint,
           (SELECT line FROM threads WHERE id = ?::bigint)
     WHERE ?::int IS NULL OR ?::int > ({_TEXTS_TO_SINCE})
    RETURNING id
"""  # noqa: S608 -- constants only
_HISTORY = f"""
    SELECT (SELECT max(created_at) FROM outbox WHERE kind = 'textback' AND to_number = :number
              AND state IN {LIVE}),
           (SELECT count(*) FROM outbox WHERE kind = 'textback' AND state IN {LIVE}
              AND created_at >= :hour_ago),
           (SELECT count(*) FROM outbox WHERE kind = 'textback' AND state IN {LIVE}
              AND created_at >= :minute_ago),
           EXISTS (SELECT 1 FROM outbox WHERE to_number = :number
                     AND state IN ('sent', 'delivered')),
           coalesce((SELECT opted_out FROM opt_outs WHERE number = :number), 0)
"""  # noqa: S608 -- constants only
_PRIORITY = (
    "CASE kind "
    + " ".join(f"WHEN '{kind}' THEN {rank}" for rank, kind in enumerate(SEND_ORDER))
    + f" ELSE {len(SEND_ORDER)} END"
)
# With each text, whether its number opted out: the outbox's check, in the same read.
_DUE = f"""
    SELECT id, kind, linkedid, to_number, body, parts, attempts, expires_at,
           maybe_sent, from_line, transport, slots,
           EXISTS (SELECT 1 FROM opt_outs WHERE number = to_number AND opted_out = 1)
      FROM outbox
     WHERE state = 'queued' AND next_attempt_at <= ?
     ORDER BY {_PRIORITY}, next_attempt_at, id LIMIT ?
"""  # noqa: S608 -- constants only
SETTLE_ALERT = (
    "UPDATE alerts SET state = ?, last_error = ?, attempts = attempts + 1,"
    " sent_at = CASE WHEN ?::text = 'sent' THEN ?::text END WHERE id = ?"
)
CARRIED = "carried by text {}"
_SETTLE_CARRIED = """
    UPDATE outbox SET state = :state, sent_at = :sent_at, last_error = :error
     WHERE carried_by = :batch AND state = 'cancelled' RETURNING alert_id
"""
# The claim of texts (ids, each with its slots as JSON), in one statement: a
# text another bridge is claiming this instant is skipped, not waited for; one
# claimed already is no longer queued. Either way it is not claimed here.
_CLAIM_BATCH = """
    UPDATE outbox SET state = 'sending', attempts = attempts + 1, transport = ?::text,
           slots = claimed.slots
      FROM (SELECT o.id, u.slots FROM outbox o
              JOIN unnest(?::bigint[], ?::text[]) AS u(id, slots) ON o.id = u.id
             WHERE o.state = 'queued' FOR UPDATE OF o SKIP LOCKED) AS claimed
     WHERE outbox.id = claimed.id
    RETURNING outbox.id
"""
# mark_sent for several texts (ids, each with its references as JSON) in one
# statement, one round trip: each text sent, a new thread of a text to the
# caller awaiting the reply, what a batch text carried sent with it, and the
# alerts of both.
_SENT_BATCH = """
    WITH sent AS (
        UPDATE outbox SET state = 'sent', sent_at = :at::text, refs = u.refs, last_error = NULL
          FROM unnest(:ids::bigint[], :refs::text[]) AS u(id, refs)
         WHERE outbox.id = u.id
        RETURNING outbox.id, outbox.kind, outbox.thread_id, outbox.alert_id
    ), awaiting AS (
        UPDATE threads SET status = 'awaiting_reply', last_activity_at = :at::text
         WHERE status = 'new'
           AND id IN (SELECT thread_id FROM sent WHERE kind IN ('textback', 'reply', 'nudge'))
    ), carried AS (
        UPDATE outbox SET state = 'sent', sent_at = :at::text, last_error = NULL
         WHERE carried_by IN (SELECT id FROM sent) AND state = 'cancelled'
        RETURNING alert_id
    )
    UPDATE alerts SET state = 'sent', last_error = NULL, attempts = attempts + 1,
           sent_at = :now::text
     WHERE id IN (SELECT alert_id FROM sent UNION ALL SELECT alert_id FROM carried)
"""


async def settle_carried(
    sql: Sql, batch_id: int, state: str, error: str | None, at: datetime
) -> list[int]:
    """The alerts a batch text carried share its fate; their alert ids."""
    sent_at = iso(at) if state == "sent" else None
    rows = await sql.rows(
        _SETTLE_CARRIED, {"state": state, "sent_at": sent_at, "error": error, "batch": batch_id}
    )
    return [int(row[0]) for row in rows if row[0] is not None]


def _insert_text_params(
    now: datetime,
    text: OutgoingText,
    thread_id: int | None,
    linkedid: str | None,
    alert_id: int | None,
    cap: Cap | None,
) -> tuple[Any, ...]:
    return (
        text.kind, linkedid, text.to_number, text.body, text.parts, iso(now), iso(now),
        iso(text.expires_at), thread_id, alert_id, thread_id,
        cap and cap.limit, cap and cap.limit, text.to_number,
        iso(now - cap.window) if cap else "", None if cap and cap.any_kind else text.kind,
    )  # fmt: skip


async def insert_text(
    sql: Sql,
    now: datetime,
    text: OutgoingText,
    *,
    thread_id: int | None = None,
    linkedid: str | None = None,
    alert_id: int | None = None,
    cap: Cap | None = None,
) -> int | None:
    """The one way a text enters the outbox, inside the caller's transaction.
    A ``cap`` is counted under the number's lock. None when the cap held it back."""
    if cap is not None:
        await lock_number(sql, text.to_number)
    params = _insert_text_params(now, text, thread_id, linkedid, alert_id, cap)
    row = await sql.row(_INSERT_TEXT, params)
    return None if row is None else int(row[0])


async def opted_out(sql: Sql, number: str) -> bool:
    return bool(await sql.scalar("SELECT opted_out FROM opt_outs WHERE number = ?", (number,)))


async def record_choice(
    sql: Sql, number: str, opted_out: bool, keyword: str, source: str, at: datetime
) -> None:
    """STOP or START from ``number``, inside the caller's transaction (which
    holds the number's lock). STOP cancels what is still queued to it."""
    await sql.run(
        """
        INSERT INTO opt_outs (number, opted_out, keyword, source, changed_at)
        VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (office, number) DO UPDATE SET opted_out = excluded.opted_out,
            keyword = excluded.keyword, source = excluded.source,
            changed_at = excluded.changed_at
        """,
        (number, int(opted_out), keyword, source, iso(at)),
    )
    if opted_out:
        cancelled = await sql.rows(
            "UPDATE outbox SET state = 'cancelled', last_error = 'opted out'"
            " WHERE to_number = ? AND state = 'queued' AND kind != 'confirmation'"
            " RETURNING id, alert_id",
            (number,),
        )
        failed = ("failed", "text cancelled: opted out", "failed", iso(at))
        for text_id, alert_id in cancelled:
            carried = await settle_carried(sql, text_id, "cancelled", "opted out", at)
            for alert in [a for a in (alert_id, *carried) if a is not None]:
                await sql.run(SETTLE_ALERT, (*failed, alert))


def _queued_text(r: Row) -> QueuedText:
    return QueuedText(
        id=r[0], kind=r[1], linkedid=r[2], to_number=r[3], body=r[4], parts=r[5],
        attempts=r[6], expires_at=moment(r[7]), maybe_sent=bool(r[8]), from_line=r[9],
        transport=r[10], slots=tuple(json.loads(r[11])), opted_out=bool(r[12]),
    )  # fmt: skip


async def history(sql: Sql, number: str, now: datetime) -> History:
    """What texting's rules need to know of ``number`` (inside a transaction:
    as this transaction's own writes left it)."""
    row = await sql.row(
        _HISTORY,
        {
            "number": number,
            "hour_ago": iso(now - timedelta(hours=1)),
            "minute_ago": iso(now - timedelta(minutes=1)),
        },
    )
    assert row is not None
    last, last_hour, last_minute, ever, stopped = row
    return History(
        opted_out=bool(stopped),
        last_textback_at=None if last is None else moment(last),
        textbacks_last_hour=int(last_hour),
        textbacks_last_minute=int(last_minute),
        ever_texted=bool(ever),
    )


class Outbox(Aggregate):
    async def text_history(self, number: str, now: datetime) -> History:
        async with self._conn.reading() as sql:
            return await history(sql, number, now)

    async def set_opt_out(
        self, number: str, *, opted_out: bool, keyword: str, source: str, at: datetime
    ) -> None:
        async with self._conn.transaction() as tx:
            await lock_number(tx, number)
            await record_choice(tx, number, opted_out, keyword, source, at)

    async def is_opted_out(self, number: str) -> bool:
        async with self._conn.reading() as sql:
            return await opted_out(sql, number)

    async def queue_text(
        self, text: OutgoingText, *, thread_id: int | None = None, cap: Cap | None = None
    ) -> int | None:
        async with self._conn.transaction() as tx:
            return await insert_text(tx, self._clock(), text, thread_id=thread_id, cap=cap)

    async def due_texts(self, now: datetime, limit: int = 20) -> list[QueuedText]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(_DUE, (iso(now), limit))
        return [_queued_text(row) for row in rows]

    async def held_slots(self, transport: str) -> frozenset[int]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(
                "SELECT slot FROM outbox, jsonb_array_elements_text(outbox.slots::jsonb) AS slot"
                " WHERE transport = ? AND state IN ('queued', 'sending')",
                (transport,),
            )
        return frozenset(int(row[0]) for row in rows)

    async def mark_sending(self, text_id: int, transport: str, slots: Sequence[int] = ()) -> bool:
        return text_id in await self.claim_batch(transport, {text_id: slots})

    async def mark_sent(self, text_id: int, references: Sequence[int], at: datetime) -> None:
        await self.mark_batch_sent({text_id: references}, at)

    async def claim_batch(
        self, transport: str, slots: Mapping[int, Sequence[int]]
    ) -> frozenset[int]:
        """mark_sending for each text, in one statement (one round trip)."""
        kept = [json.dumps(list(s)) for s in slots.values()]
        rows = await self._conn.write(_CLAIM_BATCH, (transport, list(slots), kept))
        return frozenset(int(row[0]) for row in rows)

    async def mark_batch_sent(self, references: Mapping[int, Sequence[int]], at: datetime) -> None:
        """mark_sent for each text, in one statement (one round trip)."""
        refs = [json.dumps(list(r)) for r in references.values()]
        params = {"at": iso(at), "ids": list(references), "refs": refs, "now": iso(self._clock())}
        await self._conn.write(_SENT_BATCH, params)

    async def mark_retry(
        self, text_id: int, error: str, next_attempt: datetime, *, maybe_sent: bool = False
    ) -> None:
        """As SQLite's: ``maybe_sent`` once set stays set and keeps the transport."""
        await self._conn.write(
            "UPDATE outbox SET attempts = attempts + (state = 'queued')::int,"
            " state = 'queued', last_error = ?, next_attempt_at = ?,"
            " maybe_sent = CASE WHEN ?::boolean THEN 1 ELSE maybe_sent END,"
            " transport = CASE WHEN ?::boolean OR maybe_sent = 1 THEN transport END,"
            " slots = CASE WHEN ?::boolean OR maybe_sent = 1 THEN slots ELSE '[]' END"
            " WHERE id = ?",
            (error, iso(next_attempt), maybe_sent, maybe_sent, maybe_sent, text_id),
        )

    async def mark_final(self, text_id: int, state: str, error: str) -> None:
        assert state in ("failed", "expired", "cancelled")
        async with self._conn.transaction() as tx:
            alert_id = await tx.scalar(
                "UPDATE outbox SET state = ?, last_error = ? WHERE id = ? RETURNING alert_id",
                (state, error, text_id),
            )
            carried = await settle_carried(tx, text_id, state, error, self._clock())
            failed = ("failed", f"text {state}: {error}", "failed", iso(self._clock()))
            for alert in [alert_id, *carried] if alert_id is not None else carried:
                await tx.run(SETTLE_ALERT, (*failed, alert))

    async def recover_interrupted(self) -> int:
        """Texts left sending go back in the queue, as maybe sent. With several
        bridges on one database each must run this only at its own start (as
        `textback run` does): it requeues every bridge's texts in flight."""
        rows = await self._conn.write(
            "UPDATE outbox SET state = 'queued', maybe_sent = 1, last_error = 'interrupted"
            " before ' || coalesce(transport, 'the transport') || ' confirmed it'"
            " WHERE state = 'sending' RETURNING id"
        )
        return len(rows)

    async def record_delivery(self, reference: int, recipient: str, delivered: bool) -> int | None:
        async with self._conn.transaction() as tx:
            row = await tx.row(
                "SELECT id, refs, delivered_refs FROM outbox"
                " WHERE to_number = ? AND state = 'sent'"
                " AND refs::jsonb @> jsonb_build_array(?::int)"
                " ORDER BY id DESC LIMIT 1 FOR UPDATE",
                (recipient, reference),
            )
            if row is None:
                return None
            text_id, refs, done = int(row[0]), json.loads(row[1]), json.loads(row[2])
            if not delivered:
                error = f"part {reference} was not delivered"
                await tx.run("UPDATE outbox SET last_error = ? WHERE id = ?", (error, text_id))
                return text_id
            done = sorted({*done, reference})
            if set(done) >= set(refs):
                await tx.run(
                    "UPDATE outbox SET state = 'delivered', delivered_at = ?, delivered_refs = ?"
                    " WHERE id = ?",
                    (iso(self._clock()), json.dumps(done), text_id),
                )
            else:
                await tx.run(
                    "UPDATE outbox SET delivered_refs = ? WHERE id = ?", (json.dumps(done), text_id)
                )
        return text_id

    async def outbox(self, limit: int = 100) -> list[dict[str, object]]:
        async with self._conn.reading() as sql:
            rows = await sql.rows("SELECT * FROM outbox ORDER BY id DESC LIMIT ?", (limit,))
        return [as_dict(row) for row in rows]
