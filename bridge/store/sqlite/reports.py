"""The recovered-lead report's figures: counts over calls, texts, replies and
threads, and how long each thread waited for an owner's first action."""

from __future__ import annotations

from datetime import datetime

from bridge.core.threads import ReportFigures
from bridge.store.sqlite.connection import Aggregate
from bridge.store.sqlite.stamps import iso, moment

# Each count of threads, calls or texts since :start ('' for all time), each
# from an index (migration 10). Replies are the homeowners' own texts: not
# STOP/HELP, not an owner's command - one look per thread in inbox_by_thread.
_COUNTS = """
    SELECT
      (SELECT count(*) FROM calls
        WHERE outcome = 'missed' AND dry_run = 0 AND ended_at >= :start),
      (SELECT count(*) FROM outbox WHERE kind = 'textback'
          AND state IN ('sent', 'delivered') AND created_at >= :start),
      (SELECT count(*) FROM threads t WHERE t.created_at >= :start
          AND EXISTS (SELECT 1 FROM inbox i WHERE i.thread_id = t.id AND i.owner_id IS NULL
                        AND i.keyword IS NULL)),
      (SELECT count(*) FROM threads WHERE status = 'handled' AND created_at >= :start)
"""
# Only threads an owner acted on have a wait; each min is one index seek.
_WAITS = """
    SELECT t.created_at,
           (SELECT min(ended_at) FROM calls WHERE thread_id = t.id),
           (SELECT min(at) FROM owner_actions WHERE thread_id = t.id) AS acted
      FROM threads t WHERE t.created_at >= :start AND acted IS NOT NULL
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
