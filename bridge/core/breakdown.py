"""The report broken down for the inbox's report page: the report's figures
line by line, and each local day's missed calls by what became of them. Pure
values; the store fills them (WebReportStore), the page filters them to the
lines an owner may see and draws them."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from bridge.core.threads import ReportFigures

# What became of a missed call, by its thread's state now: the first that
# holds, in this order (the report page stacks them in the same order).
HANDLED = "handled"  # called back or marked handled (by an owner or the PBX)
REPLIED = "replied"  # texted, and the caller answered
TEXTED = "texted"  # texted, no answer yet
NOT_TEXTED = "not_texted"  # no text went (withheld, opted out, a cap, a failure)
OUTCOMES = (HANDLED, REPLIED, TEXTED, NOT_TEXTED)


@dataclass(frozen=True, slots=True)
class DayOutcome:
    """How many missed calls on ``line`` on local ``day`` came to ``outcome``."""

    day: date
    line: str | None
    outcome: str
    calls: int


@dataclass(frozen=True, slots=True)
class LineFigures:
    """The report's figures (as ReportStore.report counts them) for one line."""

    line: str | None
    missed_calls: int = 0
    texted: int = 0
    replied: int = 0
    handled: int = 0
    first_action_waits: tuple[timedelta, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportBreakdown:
    first_day: date | None  # the period's first local day (None: nothing missed yet)
    last_day: date
    days: tuple[DayOutcome, ...] = ()
    lines: tuple[LineFigures, ...] = field(default=())

    def for_lines(self, lines: Collection[str | None]) -> ReportBreakdown:
        """Only what happened on ``lines``."""
        return ReportBreakdown(
            self.first_day,
            self.last_day,
            tuple(d for d in self.days if d.line in lines),
            tuple(f for f in self.lines if f.line in lines),
        )

    def totals(self) -> ReportFigures:
        """Every line's figures added up: the report, for these lines."""
        waits = [wait for figures in self.lines for wait in figures.first_action_waits]
        return ReportFigures(
            missed_calls=sum(f.missed_calls for f in self.lines),
            texted=sum(f.texted for f in self.lines),
            replied=sum(f.replied for f in self.lines),
            handled=sum(f.handled for f in self.lines),
            first_action_waits=sorted(waits),
        )

    def per_day(self) -> dict[date, dict[str, int]]:
        """Each day of the period (quiet ones too), its missed calls by outcome."""
        if self.first_day is None:
            return {}
        span = (self.last_day - self.first_day).days + 1
        table = {
            self.first_day + timedelta(days=n): dict.fromkeys(OUTCOMES, 0) for n in range(span)
        }
        for row in self.days:
            if row.day in table:
                table[row.day][row.outcome] += row.calls
        return table


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def day_bounds(first: date, last: date, zone: tzinfo) -> Iterable[tuple[date, datetime, datetime]]:
    """Each local day from ``first`` to ``last`` with the UTC moments it starts
    and ends at (23 or 25 hours long when the clocks change)."""
    day = first
    start = _midnight(day, zone)
    while day <= last:
        following = day + timedelta(days=1)
        end = _midnight(following, zone)
        yield day, start, end
        day, start = following, end


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
