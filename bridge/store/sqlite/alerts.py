"""Owner alerts: the news owners have not heard yet (missed calls, replies),
the alerts queued for it - in the same transaction that marks it alerted, so
none is lost and none made twice - and their sending. An SMS alert is also a
text in the outbox; its fate is that text's (see outbox.mark_sent)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from bridge.core.alerts import AlertDraft, AlertEvent, QueuedAlert
from bridge.core.texts import OutgoingText
from bridge.store.sqlite.connection import Aggregate, one_trip
from bridge.store.sqlite.database import BlockingSql, BlockingTransaction
from bridge.store.sqlite.outbox import insert_text
from bridge.store.sqlite.stamps import iso, iso_or_none

# An owner's SMS alert is still worth sending this long after it was queued.
_OWNER_ALERT_TTL = timedelta(hours=24)
_UNALERTED = """
    SELECT 'missed_call', c.id, c.thread_id, c.caller, c.line, c.ended_at,
           coalesce(c.reason, '') || ' - ' || c.detail,
           (SELECT body FROM outbox o WHERE o.linkedid = c.linkedid
              AND o.kind = 'textback'),
           c.text_skip, c.outcome = 'unknown',
           -- Repeat calls: this thread's missed calls up to this one, since the first.
           (SELECT count(*) FROM calls p WHERE p.thread_id = c.thread_id
               AND p.ended_at <= c.ended_at AND p.outcome IN ('missed', 'unknown')),
           (SELECT min(p.ended_at) FROM calls p WHERE p.thread_id = c.thread_id
               AND p.outcome IN ('missed', 'unknown'))
      FROM calls c WHERE c.alerted = 0 AND c.thread_id IS NOT NULL
    UNION ALL
    SELECT 'reply', i.id, i.thread_id, i.sender, t.line, i.received_at, i.body,
           NULL, NULL, 0, 0, NULL
      FROM inbox i JOIN threads t ON t.id = i.thread_id
     WHERE i.alerted = 0 AND i.keyword IS NULL
    ORDER BY 6
"""
_INSERT_ALERT = """
    INSERT INTO alerts (thread_id, owner_id, channel, kind, recipient, subject,
                        body_text, body_html, message_id, in_reply_to, state,
                        next_attempt_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?) RETURNING id
"""


@one_trip
def insert_alerts(
    sql: BlockingSql,
    now: datetime,
    thread_id: int | None,
    kind: str,
    drafts: Sequence[AlertDraft],
    domain: str,
) -> list[int]:
    return [insert_alert.now(sql, now, thread_id, kind, draft, domain) for draft in drafts]


@one_trip
def insert_alert(
    sql: BlockingSql,
    now: datetime,
    thread_id: int | None,
    kind: str,
    draft: AlertDraft,
    domain: str,
) -> int:
    """One alert row - and for a text, its outbox row - inside the caller's transaction."""
    message_id = f"<textback.{kind}.{uuid.uuid4().hex}@{domain}>"
    in_reply_to = None
    if draft.channel == "email" and thread_id is not None:
        ids = _threading(sql, thread_id, draft.recipient, message_id, domain)
        message_id, in_reply_to = ids
    alert_id = int(
        sql.scalar(
            _INSERT_ALERT,
            (
                thread_id, draft.owner_id, draft.channel, kind, draft.recipient, draft.subject,
                draft.body_text, draft.body_html, message_id, in_reply_to, iso(now), iso(now),
            ),
        )
    )  # fmt: skip
    if draft.channel == "sms":  # the outbox worker sends it, with every other text
        text = OutgoingText(
            draft.recipient, draft.body_text, draft.parts, now + _OWNER_ALERT_TTL,
            kind="owner_alert",
        )  # fmt: skip
        insert_text.now(sql, now, text, thread_id=thread_id, alert_id=alert_id)
    return alert_id


def _threading(
    sql: BlockingSql, thread_id: int, recipient: str, message_id: str, domain: str
) -> tuple[str, str | None]:
    """(Message-ID, In-Reply-To) of a thread's email to ``recipient``: their
    first one is the root of their conversation and later ones refer to it,
    so a mail client shows one. The thread's own root id goes to its first
    recipient; another owner's root is their own (a Message-ID is unique)."""
    root = f"<textback.thread{thread_id}@{domain}>"
    row = sql.row(
        "SELECT (SELECT message_id FROM alerts WHERE thread_id = :thread AND channel = 'email'"
        "         AND recipient = :recipient ORDER BY id LIMIT 1),"
        " EXISTS (SELECT 1 FROM alerts WHERE message_id = :root)",
        {"thread": thread_id, "recipient": recipient, "root": root},
    )
    assert row is not None
    first, taken = row
    if first is not None:
        return message_id, first
    if taken:
        return f"<textback.thread{thread_id}.{uuid.uuid4().hex}@{domain}>", None
    return root, None


class Alerts(Aggregate):
    async def unalerted(self) -> list[AlertEvent]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(_UNALERTED)
        return [
            AlertEvent(
                r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), int(r[10]), r[11]
            )
            for r in rows
        ]

    async def queue_alerts(
        self, batch: Sequence[tuple[AlertEvent, Sequence[AlertDraft]]], domain: str
    ) -> list[int]:
        """Queue events' alerts and mark the events alerted, all in one
        transaction, in one trip: a poll's worth of news must not hold the
        connection between the trips of the text a caller is waiting for."""
        now = self._clock()

        def queue(tx: BlockingTransaction) -> list[int]:
            ids: list[int] = []
            for event, drafts in batch:
                table = "calls" if event.kind == "missed_call" else "inbox"
                tx.run(
                    f"UPDATE {table} SET alerted = 1 WHERE id = ?",  # noqa: S608 -- one of two names
                    (event.source_id,),
                )
                ids += insert_alerts.now(tx, now, event.thread_id, event.kind, drafts, domain)
            return ids

        return await self._conn.run_transaction(queue)

    async def due_alerts(self, now: datetime, channel: str) -> list[QueuedAlert]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(
                "SELECT id, thread_id, channel, recipient, subject, body_text, body_html,"
                " message_id, in_reply_to, attempts FROM alerts WHERE state = 'queued'"
                " AND channel = ? AND next_attempt_at <= ? ORDER BY id",
                (channel, iso(now)),
            )
        return [QueuedAlert(*row) for row in rows]

    async def mark_alert(
        self,
        alert_id: int,
        state: str,
        *,
        error: str | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        """sent; queued again (with retry_at); or failed."""
        await self._conn.write(
            "UPDATE alerts SET state = ?, attempts = attempts + 1, last_error = ?,"
            " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,"
            " next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?",
            (state, error, state, iso(self._clock()), iso_or_none(retry_at), alert_id),
        )

    async def alerts(self, thread_id: int | None = None) -> list[dict[str, object]]:
        """Alerts as rows, every column, oldest first (for tests and support)."""
        async with self._conn.reading() as sql:
            rows = await (
                sql.rows("SELECT * FROM alerts ORDER BY id")
                if thread_id is None
                else sql.rows("SELECT * FROM alerts WHERE thread_id = ? ORDER BY id", (thread_id,))
            )
        return [dict(row) for row in rows]
