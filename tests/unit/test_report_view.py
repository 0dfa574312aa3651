"""The report page's view from values: the period's first local midnight, the
lines an owner sees, the report's figures for them, and charts of them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bridge.core.breakdown import HANDLED, NOT_TEXTED, TEXTED, DayOutcome, LineFigures
from bridge.core.breakdown import ReportBreakdown as Breakdown
from bridge.core.ledger import LeadRecord, LeadState
from bridge.core.threads import ReportFigures
from bridge.web.report_view import (
    UnknownPeriod,
    build_view,
    period_start,
    wait_buckets,
)
from tests.support.report_history import CHICAGO, HOSTILE_NAME, report_office
from tests.support.store_values import LINE, SECOND_LINE

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 22:00 on the 27th in Chicago
CONFIG = report_office()
NONE = ReportFigures(0, 0, 0, 0, [])


def lead(line: str) -> LeadRecord:
    return LeadRecord(1, line, NOW, True, True, None, True, False, LeadState())


def test_a_period_starts_at_a_local_midnight_today_included() -> None:
    assert period_start("7", NOW, CHICAGO) == datetime(2026, 11, 21, tzinfo=CHICAGO)
    assert period_start("30", NOW, CHICAGO) == datetime(2026, 10, 29, tzinfo=CHICAGO)
    assert period_start("all", NOW, CHICAGO) is None
    with pytest.raises(UnknownPeriod, match=r"unknown period '365': pick one of 7, 30, 90, all"):
        period_start("365", NOW, CHICAGO)


def breakdown(first: date, last: date) -> Breakdown:
    return Breakdown(
        first,
        last,
        (DayOutcome(first, LINE, HANDLED, 2), DayOutcome(first, SECOND_LINE, TEXTED, 1),
         DayOutcome(last, SECOND_LINE, NOT_TEXTED, 4)),
        (LineFigures(LINE, 2, 2, 2, 2, (timedelta(minutes=3), timedelta(hours=2))),
         LineFigures(SECOND_LINE, 5, 1, 0, 0)),
    )  # fmt: skip


def test_the_view_counts_the_lines_it_is_given_as_the_report_does() -> None:
    mine = breakdown(date(2026, 11, 25), date(2026, 11, 27)).for_lines({LINE, None})
    every = ReportFigures(7, 3, 2, 2, [], [lead(LINE), lead(LINE), lead(SECOND_LINE)])
    view = build_view(CONFIG, "7", None, mine, every, frozenset({LINE, None}))
    assert dict(view.figures)["missed calls"] == "2 (2 leads)"  # not the other line's lead
    assert dict(view.figures)["handled by an owner"] == "2 (100%)"
    assert ("missed", "2", "100%") in view.stages
    assert not view.every_line
    assert view.bucket == "day"
    assert "Nov 25: Called back / handled 2" in view.charts["days"]
    assert "Texted, no reply" not in view.charts["days"].split("</g>", 1)[1]  # no such bar
    assert "Main line: Missed 2" in view.charts["lines"]
    assert HOSTILE_NAME not in view.charts["lines"]


def test_an_admin_sees_the_reports_own_figures_and_every_line_escaped() -> None:
    every = breakdown(date(2026, 11, 25), date(2026, 11, 27))
    headline = ReportFigures(7, 3, 2, 2, [timedelta(minutes=3)])
    view = build_view(CONFIG, "all", None, every, headline)
    assert dict(view.figures)["handled by an owner"] == "2 (29%)"
    assert view.every_line
    assert dict(view.figures)["missed calls"] == "7"
    assert "&lt;script&gt;alert(&quot;line&quot;)&lt;/script&gt;: Missed 5" in view.charts["lines"]
    assert "<script>" not in "".join(view.charts.values())
    assert "Missed: 7" in view.charts["funnel"]
    assert "Handled: 2" in view.charts["funnel"]


def test_long_periods_are_drawn_a_week_then_a_month_a_bar() -> None:
    weeks = build_view(CONFIG, "all", None, breakdown(date(2026, 1, 1), date(2026, 12, 1)), NONE)
    assert weeks.bucket == "week"
    assert "Missed calls per week by outcome" in weeks.charts["days"]
    assert "Dec 29: Called back / handled 2" in weeks.charts["days"]  # the week of Jan 1
    years = build_view(CONFIG, "all", None, breakdown(date(2023, 1, 1), date(2026, 12, 1)), NONE)
    assert years.bucket == "month"
    assert "Jan 2023: Called back / handled 2" in years.charts["days"]


def test_waits_fall_into_buckets_a_person_reads() -> None:
    figures = ReportFigures(0, 0, 0, 0, [timedelta(minutes=m) for m in (1, 4, 5, 90, 60 * 30)])
    assert wait_buckets(figures) == [
        ("< 5 min", 2), ("5-15 min", 1), ("15-60 min", 0), ("1-4 h", 1), ("4-24 h", 0),
        ("> 1 day", 1),
    ]  # fmt: skip
