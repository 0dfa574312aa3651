"""What the report page shows, built from values: the period chosen, the
figures `textback report` prints, and the four charts. Pure (no I/O): the
page (report_page.py) reads the store and hands the figures in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from bridge.config import Config
from bridge.core.breakdown import HANDLED, NOT_TEXTED, OUTCOMES, REPLIED, TEXTED, ReportBreakdown
from bridge.core.numbers import display
from bridge.core.threads import ReportFigures
from bridge.followup.report import build as build_report
from bridge.web.charts import Series, funnel, grouped_bars, histogram, stacked_bars

# The period a person picks, by its query value: days back, today included.
PERIODS: dict[str, int | None] = {"7": 7, "30": 30, "90": 90, "all": None}
PERIOD_NAMES = {"7": "7 days", "30": "30 days", "90": "90 days", "all": "All time"}
DEFAULT_PERIOD = "30"

_OUTCOME_SERIES = {  # bottom of each day's bar up
    HANDLED: ("Called back / handled", "#2e7d32"),
    REPLIED: ("Texted, replied", "#1565c0"),
    TEXTED: ("Texted, no reply", "#f9a825"),
    NOT_TEXTED: ("Not texted", "#9e9e9e"),
}
# How long a lead waited for an owner's first action, in buckets a person reads.
_WAITS = (
    ("< 5 min", timedelta(minutes=5)),
    ("5-15 min", timedelta(minutes=15)),
    ("15-60 min", timedelta(hours=1)),
    ("1-4 h", timedelta(hours=4)),
    ("4-24 h", timedelta(days=1)),
    ("> 1 day", timedelta.max),
)
_STAGES = (
    ("missed", "Missed", "#9e9e9e"),
    ("texted", "Texted", "#f9a825"),
    ("replied", "Replied", "#1565c0"),
    ("handled", "Handled", "#2e7d32"),
)


class UnknownPeriod(ValueError):
    """A period the page does not offer (the message says which it does)."""


@dataclass(frozen=True, slots=True)
class ReportView:
    period: str  # a key of PERIODS
    since: datetime | None
    figures: list[tuple[str, str]]  # (label, value) as `textback report` prints them
    stages: list[tuple[str, str, str]]  # the recovery ledger: stage, leads, share
    charts: dict[str, str]  # name -> SVG markup (escaped by bridge.web.charts)
    every_line: bool  # False: only the viewer's lines are counted
    bucket: str  # "day", "week" or "month": what one bar of the daily chart is


def period_start(period: str, now: datetime, zone: tzinfo) -> datetime | None:
    """The local midnight the period starts at (None: all time)."""
    if period not in PERIODS:
        raise UnknownPeriod(f"unknown period {period[:20]!r}: pick one of {', '.join(PERIODS)}")
    days = PERIODS[period]
    if days is None:
        return None
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    return datetime.combine(first, time(0), tzinfo=zone)


def build_view(
    config: Config,
    period: str,
    since: datetime | None,
    breakdown: ReportBreakdown,
    headline: ReportFigures,
    seen: frozenset[str | None] | None = None,
) -> ReportView:
    """``headline``: ReportStore.report's figures (every line's). ``seen``:
    the viewer's (None: an admin, every line): the figures are then
    ``breakdown``'s (already the viewer's) with the ledger of those lines' leads."""
    if seen is None:
        figures = headline
    else:
        mine = [lead for lead in headline.leads if lead.line in seen]
        figures = replace(breakdown.totals(), leads=mine)
    business = config.business
    report = build_report(figures, since, business.average_job_value, business.currency)
    bucket, days = _bars(breakdown)
    names = _line_names(config)
    lines = [f for f in breakdown.lines if f.missed_calls or f.texted or f.replied or f.handled]
    line_values = {key: [getattr(f, _field(key)) for f in lines] for key, _, _ in _STAGES}
    charts = {
        "days": stacked_bars(
            f"Missed calls per {bucket} by outcome",
            [label for label, _ in days],
            [
                Series(key, name, colour, [counts[key] for _, counts in days])
                for key, (name, colour) in _OUTCOME_SERIES.items()
            ],
        ),
        "funnel": funnel(
            "From missed call to called back or handled (share of missed calls)",
            [(name, getattr(figures, _field(key))) for key, name, _ in _STAGES],
            [colour for _, _, colour in _STAGES],
        ),
        "waits": histogram(
            "Time from missed call to an owner's first action", wait_buckets(figures)
        ),
        "lines": grouped_bars(
            "By line",
            [_line_label(f.line, names, business.region) for f in lines],
            [Series(key, name, colour, line_values[key]) for key, name, colour in _STAGES],
        ),
    }  # fmt: skip
    return ReportView(
        period, since, report.lines(), report.stage_rows(), charts, seen is None, bucket
    )


def wait_buckets(figures: ReportFigures) -> list[tuple[str, int]]:
    counts = dict.fromkeys((name for name, _ in _WAITS), 0)
    for wait in figures.first_action_waits:
        name = next(name for name, below in _WAITS if wait < below)
        counts[name] += 1
    return list(counts.items())


def _field(stage: str) -> str:
    return "missed_calls" if stage == "missed" else stage


def _line_names(config: Config) -> dict[str | None, str]:
    return {line.did: line.name for line in config.lines}


def _line_label(line: str | None, names: dict[str | None, str], region: str) -> str:
    """The line's name in the config, else its number (a DID nobody configured)."""
    if line is None:
        return "No line"
    return names.get(line) or display(line, region)


def _bars(breakdown: ReportBreakdown) -> tuple[str, list[tuple[str, dict[str, int]]]]:
    """The daily counts as bars: a bar a day up to ~3 months, then a week, then a month."""
    per_day = breakdown.per_day()
    span = len(per_day)
    if span <= 92:
        return "day", [(f"{day:%b} {day.day}", counts) for day, counts in per_day.items()]
    if span <= 730:
        return "week", _grouped(per_day, lambda d: d - timedelta(days=d.weekday()), "%b %d")
    return "month", _grouped(per_day, lambda d: d.replace(day=1), "%b %Y")


def _grouped(
    per_day: dict[date, dict[str, int]], start_of: Callable[[date], date], label: str
) -> list[tuple[str, dict[str, int]]]:
    merged: dict[date, dict[str, int]] = {}
    for day, counts in per_day.items():
        into = merged.setdefault(start_of(day), dict.fromkeys(OUTCOMES, 0))
        for key, value in counts.items():
            into[key] += value
    return [(f"{start:{label}}", counts) for start, counts in merged.items()]
