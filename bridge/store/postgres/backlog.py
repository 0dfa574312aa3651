"""How far behind the outbox is (bridge/store/sqlite/backlog.py's twin), from
the outbox_due index."""

from __future__ import annotations

from datetime import datetime, timedelta

from bridge.core.texts import Backlog
from bridge.store.postgres.connection import Aggregate
from bridge.store.sqlite.stamps import iso, moment

_WAITING = (
    "SELECT count(*) AS waiting, min(created_at) AS oldest FROM outbox"
    " WHERE state IN ('queued', 'sending')"
)
_FAILED_SINCE = (
    "SELECT last_error FROM outbox WHERE state IN ('failed', 'expired')"
    " AND next_attempt_at >= ? ORDER BY next_attempt_at DESC"
)


class OutboxBacklog(Aggregate):
    async def outbox_backlog(self, now: datetime) -> Backlog:
        async with self._conn.reading() as sql:
            waiting = await sql.row(_WAITING)
            failures = await sql.rows(_FAILED_SINCE, (iso(now - timedelta(hours=1)),))
        assert waiting is not None
        oldest = waiting["oldest"]
        return Backlog(
            queued=int(waiting["waiting"]),
            oldest_queued_at=None if oldest is None else moment(oldest),
            failed_last_hour=len(failures),
            last_failure=next((row["last_error"] for row in failures if row["last_error"]), None),
        )
