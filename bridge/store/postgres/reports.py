"""The recovered-lead report's figures (bridge/store/sqlite/reports.py's twin)."""

from __future__ import annotations

from datetime import datetime

from bridge.core.threads import ReportFigures
from bridge.store.postgres.connection import Aggregate
from bridge.store.sqlite.stamps import iso, moment

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
_WAITS = """
    SELECT created_at, called, acted FROM (
      SELECT t.created_at,
             (SELECT min(ended_at) FROM calls WHERE thread_id = t.id) AS called,
             (SELECT min(at) FROM owner_actions WHERE thread_id = t.id) AS acted
        FROM threads t WHERE t.created_at >= :start) AS waits
     WHERE acted IS NOT NULL
"""


class Reports(Aggregate):
    async def report(self, since: datetime | None) -> ReportFigures:
        start = {"start": iso(since) if since else ""}
        async with self._conn.reading() as sql:
            counts = await sql.row(_COUNTS, start)
            rows = await sql.rows(_WAITS, start)
        assert counts is not None
        missed, texted, replied, handled = (int(count) for count in counts)
        waits = [moment(acted) - moment(called or created) for created, called, acted in rows]
        return ReportFigures(missed, texted, replied, handled, waits)
