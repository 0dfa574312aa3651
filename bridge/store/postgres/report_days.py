"""The report page's figures (bridge/store/sqlite/report_days.py's twin): the
same statements, the days a jsonb array walked by jsonb_array_elements."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bridge.core.breakdown import ReportBreakdown
from bridge.store.postgres.connection import Aggregate
from bridge.store.report_reads import BreakdownStatements, breakdown

# A homeowner's reply: not STOP/HELP, not an owner's command (as the report).
_REPLY = (
    "EXISTS (SELECT 1 FROM inbox i WHERE i.thread_id = t.id AND i.owner_id IS NULL"
    " AND i.keyword IS NULL)"
)
# Each local day is a range of calls_missed (the days are UTC bounds in a
# JSON array, walked first); each call's thread is one primary-key look, its
# reply and its text-back one seek each. 'became', not 'outcome': GROUP BY
# would take calls' own outcome column.
_DAYS = f"""
    SELECT d.value ->> 0 AS day, c.line,
      CASE
        WHEN t.status = 'handled' THEN 'handled'
        WHEN {_REPLY} THEN 'replied'
        WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.thread_id = t.id
                       AND o.kind = 'textback' AND o.state IN ('sent', 'delivered')) THEN 'texted'
        ELSE 'not_texted'
      END AS became,
      count(*) AS calls
    FROM jsonb_array_elements(:days::jsonb) d (value)
    JOIN calls c ON c.outcome = 'missed' AND c.dry_run = 0
         AND c.ended_at >= d.value ->> 1 AND c.ended_at < d.value ->> 2
    LEFT JOIN threads t ON t.id = c.thread_id
    GROUP BY 1, 2, 3
"""  # noqa: S608 -- constants only
_FIRST_MISSED = "SELECT min(ended_at) FROM calls WHERE outcome = 'missed' AND dry_run = 0"
_MISSED = """
    SELECT line, count(*) FROM calls
     WHERE outcome = 'missed' AND dry_run = 0 AND ended_at >= :start GROUP BY line
"""
_TEXTED = """
    SELECT from_line, count(*) FROM outbox WHERE kind = 'textback'
       AND state IN ('sent', 'delivered') AND created_at >= :start GROUP BY from_line
"""
_THREADS = f"""
    SELECT t.line, count(*) FILTER (WHERE {_REPLY}), count(*) FILTER (WHERE t.status = 'handled')
      FROM threads t WHERE t.created_at >= :start GROUP BY t.line
"""  # noqa: S608 -- constants only
_WAITS = """
    SELECT line, created_at, called, acted FROM (
      SELECT t.line, t.created_at,
             (SELECT min(ended_at) FROM calls WHERE thread_id = t.id) AS called,
             (SELECT min(at) FROM owner_actions WHERE thread_id = t.id) AS acted
        FROM threads t WHERE t.created_at >= :start) AS waits
     WHERE acted IS NOT NULL
"""


_STATEMENTS = BreakdownStatements(_DAYS, _FIRST_MISSED, _MISSED, _TEXTED, _THREADS, _WAITS)


class ReportDays(Aggregate):
    async def report_breakdown(
        self, since: datetime | None, until: datetime, zone: tzinfo
    ) -> ReportBreakdown:
        async with self._conn.reading() as sql:
            return await breakdown(sql, _STATEMENTS, since, until, zone)
