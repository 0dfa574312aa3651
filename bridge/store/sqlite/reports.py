"""The recovered-lead report's figures: counts over calls, texts, replies and
threads, and how long each thread waited for an owner's first action."""

from __future__ import annotations

from datetime import datetime

from bridge.core.threads import ReportFigures
from bridge.store.sqlite.connection import Aggregate
from bridge.store.sqlite.stamps import iso, moment

# Each count of threads, calls or texts since :start ('' for all time). Replies
# are the homeowners' own texts: not STOP/HELP, not an owner's command.
_COUNTS = """
    SELECT
      (SELECT count(*) FROM calls
        WHERE outcome = 'missed' AND dry_run = 0 AND ended_at >= :start),
      (SELECT count(*) FROM outbox WHERE kind = 'textback'
          AND state IN ('sent', 'delivered') AND created_at >= :start),
      (SELECT count(DISTINCT i.thread_id) FROM inbox i JOIN threads t ON t.id = i.thread_id
        WHERE i.keyword IS NULL AND i.owner_id IS NULL AND t.created_at >= :start),
      (SELECT count(*) FROM threads WHERE status = 'handled' AND created_at >= :start)
"""
_WAITS = """
    SELECT t.created_at,
           (SELECT min(ended_at) FROM calls WHERE thread_id = t.id),
           (SELECT min(at) FROM owner_actions WHERE thread_id = t.id)
      FROM threads t WHERE t.created_at >= :start
"""


class Reports(Aggregate):
    async def report(self, since: datetime | None) -> ReportFigures:
        """What the text-back recovered, for threads started since ``since``."""
        start = {"start": iso(since) if since else ""}
        async with self._conn.reading() as sql:
            counts = await sql.row(_COUNTS, start)
            rows = await sql.rows(_WAITS, start)
        assert counts is not None
        missed, texted, replied, handled = (int(count) for count in counts)
        waits = [
            moment(acted) - moment(called or created)
            for created, called, acted in rows
            if acted is not None
        ]
        return ReportFigures(missed, texted, replied, handled, waits)
