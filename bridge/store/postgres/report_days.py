"""The report page's figures (bridge/store/sqlite/report_days.py's twin): the
same statements, the days a jsonb array walked by jsonb_array_elements."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta, tzinfo

from bridge.core.breakdown import (
    DayOutcome,
    LineFigures,
    ReportBreakdown,
    day_bounds,
    local_day,
)
from bridge.store.postgres.connection import Aggregate, Sql
from bridge.store.sqlite.stamps import iso, moment

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


class ReportDays(Aggregate):
    async def report_breakdown(
        self, since: datetime | None, until: datetime, zone: tzinfo
    ) -> ReportBreakdown:
        start = {"start": iso(since) if since else ""}
        last_day = local_day(until, zone)
        async with self._conn.reading() as sql:
            first = await _first_day(sql, since, zone)
            days = await _days(sql, first, last_day, zone) if first is not None else []
            lines = await _lines(sql, start)
        return ReportBreakdown(first, last_day, tuple(days), lines)


async def _first_day(sql: Sql, since: datetime | None, zone: tzinfo) -> date | None:
    if since is not None:
        return local_day(since, zone)
    earliest = await sql.scalar(_FIRST_MISSED)
    return None if earliest is None else local_day(moment(earliest), zone)


async def _days(sql: Sql, first: date, last: date, zone: tzinfo) -> list[DayOutcome]:
    bounds = [
        (day.isoformat(), iso(start), iso(end)) for day, start, end in day_bounds(first, last, zone)
    ]
    rows = await sql.rows(_DAYS, {"days": json.dumps(bounds)})
    return [
        DayOutcome(date.fromisoformat(day), line, outcome, int(calls))
        for day, line, outcome, calls in rows
    ]


async def _lines(sql: Sql, start: dict[str, str]) -> tuple[LineFigures, ...]:
    counts: defaultdict[str | None, dict[str, int]] = defaultdict(dict)
    for line, missed in await sql.rows(_MISSED, start):
        counts[line]["missed_calls"] = int(missed)
    for line, texted in await sql.rows(_TEXTED, start):
        counts[line]["texted"] = int(texted)
    for line, replied, handled in await sql.rows(_THREADS, start):
        counts[line] |= {"replied": int(replied), "handled": int(handled)}
    waits: defaultdict[str | None, list[timedelta]] = defaultdict(list)
    for line, created, called, acted in await sql.rows(_WAITS, start):
        waits[line].append(moment(acted) - moment(called or created))
    return tuple(
        LineFigures(line, **counts[line], first_action_waits=tuple(sorted(waits[line])))
        for line in sorted(counts.keys() | waits.keys(), key=lambda line: line or "")
    )
