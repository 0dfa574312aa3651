"""Texts out: queued, sent, delivered or given up on; and who may be texted at
all (opt-outs). The functions at the top run inside another aggregate's
transaction: a text is queued in the same one as the decision, the reply or
the alert that calls for it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bridge.core.texts import SEND_ORDER, Cap, History, OutgoingText, QueuedText
from bridge.store.sqlite.connection import Aggregate, Sql, one_trip
from bridge.store.sqlite.database import BlockingSql, BlockingTransaction
from bridge.store.sqlite.stamps import iso, moment

# Texts that count against caps and cooldowns: not failed, expired or cancelled.
LIVE = "('queued', 'sending', 'sent', 'delivered')"
# Texts to a number (of one kind, or any when the kind parameter is NULL) since a moment.
_TEXTS_TO_SINCE = (
    f"SELECT count(*) FROM outbox WHERE to_number = ? AND created_at >= ?"  # noqa: S608 -- constants only
    f" AND state IN {LIVE} AND kind = coalesce(?, kind)"
)
_INSERT_TEXT = f"""
    INSERT INTO outbox (kind, linkedid, to_number, body, parts, state, created_at,
                        next_attempt_at, expires_at, thread_id, alert_id, from_line)
    SELECT ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?,
           (SELECT line FROM threads WHERE id = ?)
     WHERE ? IS NULL OR ? > ({_TEXTS_TO_SINCE})
    RETURNING id
"""  # noqa: S608 -- constants only
# What the policy reads of one number (its cooldown, its footer, its STOP)...
_NUMBER_HISTORY = f"""
    SELECT (SELECT max(created_at) FROM outbox WHERE kind = 'textback' AND to_number = :number
              AND state IN {LIVE}),
           EXISTS (SELECT 1 FROM outbox WHERE to_number = :number
                     AND state IN ('sent', 'delivered')),
           coalesce((SELECT opted_out FROM opt_outs WHERE number = :number), 0)
"""  # noqa: S608 -- constants only
# ... and of every number (the caps): a walk of the last hour's textbacks.
_TEXTBACK_COUNTS = f"""
    SELECT (SELECT count(*) FROM outbox WHERE kind = 'textback' AND state IN {LIVE}
              AND created_at >= :hour_ago),
           (SELECT count(*) FROM outbox WHERE kind = 'textback' AND state IN {LIVE}
              AND created_at >= :minute_ago)
"""  # noqa: S608 -- constants only
# A kind's place in SEND_ORDER; a kind not listed goes last.
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
# The text is in a transport's hands (mark_sending), if it is still queued.
_CLAIM = (
    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, transport = ?,"
    " slots = ? WHERE id = ? AND state = 'queued' RETURNING id"
)
_SETTLE_ALERT = (
    "UPDATE alerts SET state = ?, last_error = ?, attempts = attempts + 1,"
    " sent_at = CASE WHEN ? = 'sent' THEN ? END WHERE id = ?"
)


# An owner alert carried by a batch text waits 'cancelled', naming its batch
# (carried_by, and this note for people), until the batch is settled; then it
# shares its fate.
CARRIED = "carried by text {}"
_SETTLE_CARRIED = """
    UPDATE outbox SET state = :state, sent_at = :sent_at, last_error = :error
     WHERE carried_by = :batch AND state = 'cancelled' RETURNING alert_id
"""


@one_trip
def settle_carried(
    sql: BlockingSql, batch_id: int, state: str, error: str | None, at: datetime
) -> list[int]:
    """The alerts a batch text carried share its fate; their alert ids."""
    sent_at = iso(at) if state == "sent" else None
    rows = sql.rows(
        _SETTLE_CARRIED,
        {"state": state, "sent_at": sent_at, "error": error, "batch": batch_id},
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


@one_trip
def insert_text(
    sql: BlockingSql,
    now: datetime,
    text: OutgoingText,
    *,
    thread_id: int | None = None,
    linkedid: str | None = None,
    alert_id: int | None = None,
    cap: Cap | None = None,
) -> int | None:
    """The one way a text enters the outbox, inside the caller's transaction.
    It goes out from its thread's line. A ``cap`` is checked in the same
    statement as the insert, so two texts arriving at once cannot both slip
    under it. None when the cap held it back."""
    params = _insert_text_params(now, text, thread_id, linkedid, alert_id, cap)
    row = sql.row(_INSERT_TEXT, params)
    return None if row is None else int(row[0])


async def opted_out(sql: Sql, number: str) -> bool:
    return bool(await sql.scalar("SELECT opted_out FROM opt_outs WHERE number = ?", (number,)))


async def record_choice(
    sql: Sql, number: str, opted_out: bool, keyword: str, source: str, at: datetime
) -> None:
    """STOP or START from ``number``, inside the caller's transaction. STOP
    cancels what is still queued to it (a confirmation still goes)."""
    await sql.run(
        """
        INSERT INTO opt_outs (number, opted_out, keyword, source, changed_at)
        VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (number) DO UPDATE SET opted_out = excluded.opted_out,
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
        # An owner's alert (or a batch of them) cancelled with its text fails with it.
        failed = ("failed", "text cancelled: opted out", "failed", iso(at))
        for text_id, alert_id in cancelled:
            carried = await settle_carried(sql, text_id, "cancelled", "opted out", at)
            for alert in [a for a in (alert_id, *carried) if a is not None]:
                await sql.run(_SETTLE_ALERT, (*failed, alert))


class Histories:
    """text_history for each decision of one transaction, on the database's
    thread. The caps' counts walk every textback of the last hour (0.13 ms at
    1,000), so they are read once, at the first decision that needs them, and
    then kept by what the transaction queues itself (``queued``): in SQLite's
    one writer nothing else can change them before the commit."""

    def __init__(self, sql: BlockingSql, now: datetime):
        self._sql = sql
        self._now = now
        self._hour_ago = now - timedelta(hours=1)
        self._minute_ago = now - timedelta(minutes=1)
        self._counts: list[int] | None = None  # [last hour, last minute]

    def __call__(self, number: str) -> History:
        row = self._sql.row(_NUMBER_HISTORY, {"number": number})
        assert row is not None
        last, ever, stopped = row
        last_hour, last_minute = self._textback_counts()
        return History(
            opted_out=bool(stopped),
            last_textback_at=None if last is None else moment(last),  # the policy judges it
            textbacks_last_hour=last_hour,
            textbacks_last_minute=last_minute,
            ever_texted=bool(ever),
        )

    def queued(self, text: OutgoingText, at: datetime) -> None:
        """``text`` went into the outbox in this transaction, created ``at``."""
        if self._counts is not None and text.kind == "textback":
            self._counts[0] += at >= self._hour_ago
            self._counts[1] += at >= self._minute_ago

    def _textback_counts(self) -> list[int]:
        if self._counts is None:
            params = {"hour_ago": iso(self._hour_ago), "minute_ago": iso(self._minute_ago)}
            row = self._sql.row(_TEXTBACK_COUNTS, params)
            assert row is not None
            self._counts = [int(row[0]), int(row[1])]
        return self._counts


def history(sql: BlockingSql, number: str, now: datetime) -> History:
    """text_history, on the database's thread."""
    return Histories(sql, now)(number)


def _queued_text(r: sqlite3.Row) -> QueuedText:
    return QueuedText(
        id=r[0], kind=r[1], linkedid=r[2], to_number=r[3], body=r[4], parts=r[5],
        attempts=r[6], expires_at=moment(r[7]), maybe_sent=bool(r[8]), from_line=r[9],
        transport=r[10], slots=tuple(json.loads(r[11])), opted_out=bool(r[12]),
    )  # fmt: skip


def _settle_sent(
    tx: BlockingTransaction, text_id: int, refs: str, at: datetime, now: datetime
) -> None:
    """mark_sent's transaction, on the database's thread."""
    row = tx.row(
        "UPDATE outbox SET state = 'sent', sent_at = ?, refs = ?, last_error = NULL"
        " WHERE id = ? RETURNING kind, thread_id, alert_id",
        (iso(at), refs, text_id),
    )
    if row is None:
        return
    kind, thread_id, alert_id = row
    if thread_id is not None and kind in ("textback", "reply", "nudge"):
        tx.run(
            "UPDATE threads SET status = 'awaiting_reply', last_activity_at = ?"
            " WHERE status = 'new' AND id = ?",
            (iso(at), thread_id),
        )
    carried = settle_carried.now(tx, text_id, "sent", None, at)
    for alert in [alert_id, *carried] if alert_id is not None else carried:
        tx.run(_SETTLE_ALERT, ("sent", None, "sent", iso(now), alert))


def _settle_final(
    tx: BlockingTransaction, text_id: int, state: str, error: str, now: datetime
) -> None:
    """mark_final's transaction, on the database's thread."""
    alert_id = tx.scalar(
        "UPDATE outbox SET state = ?, last_error = ? WHERE id = ? RETURNING alert_id",
        (state, error, text_id),
    )
    carried = settle_carried.now(tx, text_id, state, error, now)
    failed = ("failed", f"text {state}: {error}", "failed", iso(now))
    for alert in [alert_id, *carried] if alert_id is not None else carried:
        tx.run(_SETTLE_ALERT, (*failed, alert))


class Outbox(Aggregate):
    async def text_history(self, number: str, now: datetime) -> History:
        """What the texting policy needs to know about ``number`` and the last hour."""
        return await self._conn.run_read(lambda sql: history(sql, number, now))

    async def set_opt_out(
        self, number: str, *, opted_out: bool, keyword: str, source: str, at: datetime
    ) -> None:
        """Record STOP (or START) from ``number``. Queued texts to it are cancelled."""
        async with self._conn.transaction() as tx:
            await record_choice(tx, number, opted_out, keyword, source, at)

    async def is_opted_out(self, number: str) -> bool:
        async with self._conn.reading() as sql:
            return await opted_out(sql, number)

    async def queue_text(
        self, text: OutgoingText, *, thread_id: int | None = None, cap: Cap | None = None
    ) -> int | None:
        """Queue a text; its id, or None when ``cap`` held it back."""
        params = _insert_text_params(self._clock(), text, thread_id, None, None, cap)
        rows = await self._conn.write(_INSERT_TEXT, params)
        return int(rows[0][0]) if rows else None

    async def due_texts(self, now: datetime, limit: int = 20) -> list[QueuedText]:
        """What is due, in SEND_ORDER, then the longest waiting first."""
        async with self._conn.reading() as sql:
            rows = await sql.rows(_DUE, (iso(now), limit))
        return [_queued_text(row) for row in rows]

    async def held_slots(self, transport: str) -> frozenset[int]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(
                "SELECT value FROM outbox, json_each(outbox.slots)"
                " WHERE transport = ? AND state IN ('queued', 'sending')",
                (transport,),
            )
        return frozenset(int(row[0]) for row in rows)

    async def mark_sending(self, text_id: int, transport: str, slots: Sequence[int] = ()) -> bool:
        """The text is in ``transport``'s hands from now on (kept in ``slots``):
        one statement, committed before the text can leave, so a crash leaves
        the trace to settle it from - there and only there. False when it is no
        longer queued (a STOP cancelled it meanwhile): it must not go."""
        rows = await self._conn.write(_CLAIM, (transport, json.dumps(list(slots)), text_id))
        return bool(rows)

    async def claim_batch(
        self, transport: str, slots: Mapping[int, Sequence[int]]
    ) -> frozenset[int]:
        """mark_sending for each text, all in one commit (one trip)."""

        def claim(tx: BlockingTransaction) -> frozenset[int]:
            claimed = (
                tx.row(_CLAIM, (transport, json.dumps(list(kept)), text_id))
                for text_id, kept in slots.items()
            )
            return frozenset(int(row[0]) for row in claimed if row is not None)

        return await self._conn.run_transaction(claim)

    async def mark_sent(self, text_id: int, references: Sequence[int], at: datetime) -> None:
        """Sent: its thread now waits for the caller, its alert (if it is one) is sent."""
        await self.mark_batch_sent({text_id: references}, at)

    async def mark_batch_sent(self, references: Mapping[int, Sequence[int]], at: datetime) -> None:
        """mark_sent for each text, all in one commit (one trip)."""
        now = self._clock()

        def settle(tx: BlockingTransaction) -> None:
            for text_id, refs in references.items():
                _settle_sent(tx, text_id, json.dumps(list(refs)), at, now)

        await self._conn.run_transaction(settle)

    async def mark_retry(
        self, text_id: int, error: str, next_attempt: datetime, *, maybe_sent: bool = False
    ) -> None:
        """``maybe_sent``: it may have gone out (no confirmation came), so every
        later attempt goes as a possible duplicate, through the same transport;
        once set, it stays set. A text that certainly never left is free to go
        through any transport next time. An attempt that failed before the
        handover (still ``queued``) is counted here: the next goes to the line's
        next transport."""
        await self._conn.write(
            "UPDATE outbox SET attempts = attempts + (state = 'queued'),"
            " state = 'queued', last_error = ?, next_attempt_at = ?,"
            " maybe_sent = CASE WHEN ? THEN 1 ELSE maybe_sent END,"
            " transport = CASE WHEN ? OR maybe_sent THEN transport END,"
            " slots = CASE WHEN ? OR maybe_sent THEN slots ELSE '[]' END WHERE id = ?",
            (error, iso(next_attempt), maybe_sent, maybe_sent, maybe_sent, text_id),
        )

    async def mark_final(self, text_id: int, state: str, error: str) -> None:
        """failed, expired or cancelled: never tried again; its alert failed with it."""
        assert state in ("failed", "expired", "cancelled")
        now = self._clock()
        await self._conn.run_transaction(lambda tx: _settle_final(tx, text_id, state, error, now))

    async def recover_interrupted(self) -> int:
        """After a crash: texts handed to a transport that never confirmed them
        go back in the queue, as maybe sent and bound to that transport."""
        rows = await self._conn.write(
            "UPDATE outbox SET state = 'queued', maybe_sent = 1, last_error = 'interrupted"
            " before ' || coalesce(transport, 'the transport') || ' confirmed it'"
            " WHERE state = 'sending' RETURNING id"
        )
        return len(rows)

    async def record_delivery(self, reference: int, recipient: str, delivered: bool) -> int | None:
        """Match a status report to the latest sent text with that part reference."""
        async with self._conn.transaction() as tx:
            row = await tx.row(
                """
                SELECT id, refs, delivered_refs FROM outbox
                WHERE to_number = ? AND state = 'sent'
                  AND EXISTS (SELECT 1 FROM json_each(outbox.refs) WHERE value = ?)
                ORDER BY id DESC LIMIT 1
                """,
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
        """The newest texts as rows, every column (for tests and support)."""
        async with self._conn.reading() as sql:
            rows = await sql.rows("SELECT * FROM outbox ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in rows]
