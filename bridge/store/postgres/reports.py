"""The recovered-lead report's figures (bridge/store/sqlite/reports.py's twin)."""

from __future__ import annotations

from datetime import datetime

from bridge.core.threads import ReportFigures
from bridge.store.postgres.connection import Aggregate
from bridge.store.report_reads import leads as lead_records
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

# The recovery ledger: one row per lead (a thread with a missed call) since
# :start (bridge/store/sqlite/reports.py's _LEADS).
_LEADS = """
    SELECT id, line, missed_at, texted, replied, called_back, handled FROM (
      SELECT t.id, t.line,
             (SELECT min(ended_at) FROM calls WHERE thread_id = t.id AND outcome = 'missed'
                 AND dry_run = 0) AS missed_at,
             EXISTS (SELECT 1 FROM outbox WHERE thread_id = t.id AND kind = 'textback'
                       AND state IN ('sent', 'delivered')) AS texted,
             EXISTS (SELECT 1 FROM inbox WHERE thread_id = t.id AND owner_id IS NULL
                       AND keyword IS NULL) AS replied,
             (SELECT min(at) FROM owner_actions WHERE thread_id = t.id AND owner_id = 'pbx'
                 AND action IN ('called', 'done')) AS called_back,
             t.handled_at IS NOT NULL AS handled, t.created_at
        FROM threads t WHERE t.created_at >= :start) AS leads
     WHERE missed_at IS NOT NULL ORDER BY created_at, id
"""
_STEPS = """
    SELECT s.thread_id, s.id, s.step, s.cents, s.reason FROM threads t
      JOIN lead_steps s ON s.thread_id = t.id
     WHERE t.created_at >= :start
"""


class Reports(Aggregate):
    async def report(self, since: datetime | None) -> ReportFigures:
        start = {"start": iso(since) if since else ""}
        async with self._conn.reading() as sql:
            counts = await sql.row(_COUNTS, start)
            rows = await sql.rows(_WAITS, start)
            leads = await lead_records(sql, _STEPS, _LEADS, start)
        assert counts is not None
        missed, texted, replied, handled = (int(count) for count in counts)
        waits = [moment(acted) - moment(called or created) for created, called, acted in rows]
        return ReportFigures(missed, texted, replied, handled, waits, leads)
