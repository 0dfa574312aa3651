"""Owner SMS alerts batched (bridge/store/sqlite/batches.py's twin). The take
of the carried alerts is one conditional UPDATE: of two bridges batching the
same alerts, the second takes fewer than it asked for and undoes its batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bridge.core.alerts import CarriedAlert
from bridge.core.texts import OutgoingText, QueuedText
from bridge.store.postgres.connection import Aggregate
from bridge.store.postgres.outbox import CARRIED, insert_text
from bridge.store.sqlite.stamps import iso, moment

_DUE_ALERTS = """
    SELECT o.id, a.kind, o.thread_id, t.caller, a.subject, o.created_at, o.from_line,
           o.expires_at
      FROM outbox o JOIN alerts a ON a.id = o.alert_id LEFT JOIN threads t ON t.id = o.thread_id
     WHERE o.to_number = ? AND o.kind = 'owner_alert' AND o.state = 'queued'
       AND o.maybe_sent = 0 AND o.transport IS NULL AND o.next_attempt_at <= ?
       AND o.expires_at > ?
     ORDER BY o.id LIMIT 50
"""
_TAKE = """
    UPDATE outbox SET state = 'cancelled', last_error = ?, carried_by = ?
     WHERE id = ANY(?::bigint[])
       AND state = 'queued' AND maybe_sent = 0 AND transport IS NULL RETURNING id
"""


class Batches(Aggregate):
    async def owner_alerts_due(self, number: str, now: datetime) -> list[CarriedAlert]:
        async with self._conn.reading() as sql:
            rows = await sql.rows(_DUE_ALERTS, (number, iso(now), iso(now)))
        return [CarriedAlert(*row) for row in rows]

    async def queue_batch(
        self, number: str, carried: Sequence[CarriedAlert], body: str, parts: int
    ) -> QueuedText | None:
        if not carried:
            return None
        first = carried[0]
        expires = max(moment(a.expires_at) for a in carried)
        text = OutgoingText(number, body, parts, expires, kind="owner_alert")
        async with self._conn.transaction() as tx:
            batch_id = await insert_text(tx, self._clock(), text)
            assert batch_id is not None  # no cap
            await tx.run(
                "UPDATE outbox SET from_line = ? WHERE id = ?", (first.from_line, batch_id)
            )
            ids = [a.text_id for a in carried]
            taken = await tx.rows(_TAKE, (CARRIED.format(batch_id), batch_id, ids))
            if len(taken) != len(ids):
                tx.undo()
                return None
        return QueuedText(batch_id, "owner_alert", None, number, body, parts, 0, expires,
                          from_line=first.from_line)  # fmt: skip
