"""Owner SMS alerts batched: several due for one owner at once go out as one
text. The batch is a text of its own; each alert it carries is 'cancelled'
with a note naming it until the batch is settled, then sent or failed with it
(outbox.settle_carried) - so a crash in between neither loses an alert nor
sends it twice: only the batch is ever handed to a transport."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bridge.core.alerts import CarriedAlert
from bridge.core.texts import OutgoingText, QueuedText
from bridge.store.sqlite.connection import Aggregate
from bridge.store.sqlite.outbox import CARRIED, insert_text
from bridge.store.sqlite.stamps import iso, moment

# Fresh owner alerts to one number: never handed to a transport (so nothing
# of them may have gone out), due, not a batch themselves (those carry no alert).
_DUE_ALERTS = """
    SELECT o.id, a.kind, o.thread_id, t.caller, a.subject, o.created_at, o.from_line,
           o.expires_at
      FROM outbox o JOIN alerts a ON a.id = o.alert_id LEFT JOIN threads t ON t.id = o.thread_id
     WHERE o.to_number = ? AND o.kind = 'owner_alert' AND o.state = 'queued'
       AND o.maybe_sent = 0 AND o.transport IS NULL AND o.next_attempt_at <= ?
       AND o.expires_at > ?
     ORDER BY o.id LIMIT 50
"""


class Batches(Aggregate):
    async def owner_alerts_due(self, number: str, now: datetime) -> list[CarriedAlert]:
        """Owner SMS alerts to ``number`` a batch may carry, oldest first."""
        async with self._conn.reading() as sql:
            rows = await sql.rows(_DUE_ALERTS, (number, iso(now), iso(now)))
        return [CarriedAlert(*row) for row in rows]

    async def queue_batch(
        self, number: str, carried: Sequence[CarriedAlert], body: str, parts: int
    ) -> QueuedText | None:
        """One text to ``number`` for ``carried``, which wait on it from now
        on; None (and nothing written) when one is no longer free to carry."""
        if not carried:
            return None
        first = carried[0]
        expires = max(moment(a.expires_at) for a in carried)  # worth it while any one is
        text = OutgoingText(number, body, parts, expires, kind="owner_alert")
        async with self._conn.transaction() as tx:
            batch_id = await insert_text(tx, self._clock(), text)
            assert batch_id is not None  # no cap
            await tx.run(
                "UPDATE outbox SET from_line = ? WHERE id = ?", (first.from_line, batch_id)
            )
            ids = [a.text_id for a in carried]
            marks = ",".join("?" * len(ids))
            taken = await tx.rows(
                f"UPDATE outbox SET state = 'cancelled', last_error = ?, carried_by = ?"  # noqa: S608 -- placeholders only
                f" WHERE id IN ({marks})"
                " AND state = 'queued' AND maybe_sent = 0 AND transport IS NULL RETURNING id",
                (CARRIED.format(batch_id), batch_id, *ids),
            )
            if len(taken) != len(ids):
                tx.undo()
                return None
        return QueuedText(batch_id, "owner_alert", None, number, body, parts, 0, expires,
                          from_line=first.from_line)  # fmt: skip
