"""What both backends make of the report's rows: the recovery ledger's leads
(ReportStore.report) and the report page's breakdown (report_breakdown).
Each backend keeps its own statements (the dialects differ in a few words)
and hands them in; reading the rows into values is written once, here."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol

from bridge.core.breakdown import (
    DayOutcome,
    LineFigures,
    ReportBreakdown,
    day_bounds,
    local_day,
)
from bridge.core.ledger import LeadRecord, LeadState, fold
from bridge.store.sqlite.stamps import iso, moment, moment_or_none


class Reader(Protocol):
    """A backend's statements on one connection (sqlite's or postgres' Sql)."""

    async def rows(self, sql: str, params: Mapping[str, Any]) -> Sequence[Any]: ...

    async def scalar(self, sql: str) -> Any: ...


async def leads(
    sql: Reader, steps: str, records: str, start: Mapping[str, str]
) -> list[LeadRecord]:
    """Each lead since ``start`` with its ledger state. ``steps``: (thread_id,
    id, step, cents, reason) rows; ``records``: (thread, line, first missed
    call, texted, replied, called back at, handled) rows."""
    by_thread: dict[int, list[tuple[str, int | None, str | None]]] = {}
    for thread_id, _, step, cents, reason in sorted(map(tuple, await sql.rows(steps, start))):
        by_thread.setdefault(int(thread_id), []).append((step, cents, reason))
    found = []
    for row in await sql.rows(records, start):
        if row[2] < start["start"]:
            continue  # a lead is counted from its first missed call (stamps sort as text)
        thread_id = int(row[0])
        taken = by_thread.get(thread_id, [])
        state = fold(taken) if taken else LeadState()
        booked = any(step in ("booked", "won") for step, _, _ in taken)
        record = LeadRecord(
            thread_id, row[1], moment(row[2]), bool(row[3]), bool(row[4]),
            moment_or_none(row[5]), bool(row[6]), booked, state,
        )  # fmt: skip
        found.append(record)
    return found


@dataclass(frozen=True, slots=True)
class BreakdownStatements:
    """A backend's statements for the report page (see sqlite/report_days.py)."""

    days: str  # :days, a JSON array of [day, start, end] -> (day, line, became, calls)
    first_missed: str  # the first missed call's end
    missed: str  # :start -> (line, missed calls)
    texted: str  # :start -> (line, texts-back sent)
    threads: str  # :start -> (line, replied, handled)
    waits: str  # :start -> (line, created, first call, first owner action)


async def breakdown(
    sql: Reader, statements: BreakdownStatements, since: datetime | None, until: datetime,
    zone: tzinfo,
) -> ReportBreakdown:  # fmt: skip
    """The report page's figures for ``since`` (None: all time) to ``until``."""
    last_day = local_day(until, zone)
    first = await _first_day(sql, statements, since, zone)
    days = await _days(sql, statements, first, last_day, zone) if first is not None else []
    lines = await _lines(sql, statements, {"start": iso(since) if since else ""})
    return ReportBreakdown(first, last_day, tuple(days), lines)


async def _first_day(
    sql: Reader, statements: BreakdownStatements, since: datetime | None, zone: tzinfo
) -> date | None:
    if since is not None:
        return local_day(since, zone)
    earliest = await sql.scalar(statements.first_missed)
    return None if earliest is None else local_day(moment(earliest), zone)


async def _days(
    sql: Reader, statements: BreakdownStatements, first: date, last: date, zone: tzinfo
) -> list[DayOutcome]:
    bounds = [
        (day.isoformat(), iso(start), iso(end)) for day, start, end in day_bounds(first, last, zone)
    ]
    rows = await sql.rows(statements.days, {"days": json.dumps(bounds)})
    return [
        DayOutcome(date.fromisoformat(day), line, outcome, int(calls))
        for day, line, outcome, calls in rows
    ]


async def _lines(
    sql: Reader, statements: BreakdownStatements, start: Mapping[str, str]
) -> tuple[LineFigures, ...]:
    counts: defaultdict[str | None, dict[str, int]] = defaultdict(dict)
    for line, missed in await sql.rows(statements.missed, start):
        counts[line]["missed_calls"] = int(missed)
    for line, texted in await sql.rows(statements.texted, start):
        counts[line]["texted"] = int(texted)
    for line, replied, handled in await sql.rows(statements.threads, start):
        counts[line] |= {"replied": int(replied), "handled": int(handled)}
    waits: defaultdict[str | None, list[timedelta]] = defaultdict(list)
    for line, created, called, acted in await sql.rows(statements.waits, start):
        waits[line].append(moment(acted) - moment(called or created))
    return tuple(
        LineFigures(line, **counts[line], first_action_waits=tuple(sorted(waits[line])))
        for line in sorted(counts.keys() | waits.keys(), key=lambda line: line or "")
    )
