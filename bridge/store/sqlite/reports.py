"""The recovered-lead report's figures: counts over calls, texts, replies and
threads, and how long each thread waited for an owner's first action."""

from __future__ import annotations

from datetime import datetime

from bridge.core.threads import ReportFigures
from bridge.store.report_reads import leads as lead_records
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

# The recovery ledger: one row per lead (a thread with a missed call) since
# :start, each stage one index seek on the thread. Called back: the PBX saw a
# call-back talked on, or the caller reached (bridge/store/sqlite/links.py).
_LEADS = """
    SELECT t.id, t.line,
           (SELECT min(ended_at) FROM calls WHERE thread_id = t.id AND +outcome = 'missed'
               AND +dry_run = 0) AS missed_at,
           EXISTS (SELECT 1 FROM outbox WHERE thread_id = t.id AND kind = 'textback'
                     AND state IN ('sent', 'delivered')),
           EXISTS (SELECT 1 FROM inbox WHERE thread_id = t.id AND owner_id IS NULL
                     AND keyword IS NULL),
           (SELECT min(at) FROM owner_actions WHERE thread_id = t.id AND owner_id = 'pbx'
               AND action IN ('called', 'done')),
           t.handled_at IS NOT NULL
      FROM threads t WHERE t.created_at >= :start AND missed_at IS NOT NULL
     ORDER BY t.created_at, t.id
"""
# Their steps: the threads from their index, then each one's steps (CROSS
# JOIN keeps that order: lead_steps is never read from end to end).
_STEPS = """
    SELECT s.thread_id, s.id, s.step, s.cents, s.reason FROM threads t
     CROSS JOIN lead_steps s ON s.thread_id = t.id
     WHERE t.created_at >= :start
"""


class Reports(Aggregate):
    async def report(self, since: datetime | None) -> ReportFigures:
        """What the text-back recovered, for threads started since ``since``."""
        start = {"start": iso(since) if since else ""}
        async with self._conn.reading() as sql:
            counts = await sql.row(_COUNTS, start)
            rows = await sql.rows(_WAITS, start)
            leads = await lead_records(sql, _STEPS, _LEADS, start)
        assert counts is not None
        missed, texted, replied, handled = (int(count) for count in counts)
        waits = [
            moment(acted) - moment(called or created)
            for created, called, acted in rows
            if acted is not None
        ]
        return ReportFigures(missed, texted, replied, handled, waits, leads)
