"""How far behind the outbox is: read by the health strip and the metrics
endpoint, often, so every count comes from the outbox_due index (state,
next_attempt_at), never from the years of sent texts."""

from __future__ import annotations

from datetime import datetime, timedelta

from bridge.core.texts import Backlog
from bridge.store.sqlite.connection import Aggregate
from bridge.store.sqlite.stamps import iso, moment

# Waiting texts are few (the outbox drains them in seconds): counting them
# and finding the oldest reads only their index entries.
_WAITING = (
    "SELECT count(*) AS waiting, min(created_at) AS oldest FROM outbox"
    " WHERE state IN ('queued', 'sending')"
)
# A text given up on keeps the moment its last try was due: the failures of
# the last hour are two ranges of the same index, read newest first.
_FAILED_SINCE = (
    "SELECT last_error FROM outbox WHERE state IN ('failed', 'expired')"
    " AND next_attempt_at >= ? ORDER BY next_attempt_at DESC"
)


class OutboxBacklog(Aggregate):
    async def outbox_backlog(self, now: datetime) -> Backlog:
        async with self._conn.reading() as sql:
            waiting = await sql.row(_WAITING)
            failures = await sql.rows(_FAILED_SINCE, (iso(now - timedelta(hours=1)),))
        assert waiting is not None  # an aggregate always returns its row
        oldest = waiting["oldest"]
        return Backlog(
            queued=int(waiting["waiting"]),
            oldest_queued_at=None if oldest is None else moment(oldest),
            failed_last_hour=len(failures),
            last_failure=next((row["last_error"] for row in failures if row["last_error"]), None),
        )
