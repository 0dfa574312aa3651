"""The report page's breakdown values: business days as UTC ranges (clock
changes included), filtering to an owner's lines, totals as the report's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bridge.core.breakdown import (
    HANDLED,
    NOT_TEXTED,
    OUTCOMES,
    DayOutcome,
    LineFigures,
    ReportBreakdown,
    day_bounds,
    local_day,
)

CHICAGO = ZoneInfo("America/Chicago")


def test_a_business_day_is_its_local_midnights_in_utc_even_when_the_clocks_change() -> None:
    (fall_back,) = day_bounds(date(2026, 11, 1), date(2026, 11, 1), CHICAGO)
    day, start, end = fall_back
    assert (start, end) == (
        datetime(2026, 11, 1, 5, tzinfo=UTC),
        datetime(2026, 11, 2, 6, tzinfo=UTC),
    )
    assert end - start == timedelta(hours=25)
    assert local_day(datetime(2026, 11, 2, 5, 59, tzinfo=UTC), CHICAGO) == day


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
    st.integers(min_value=0, max_value=400),
    st.sampled_from(["America/Chicago", "Europe/London", "Australia/Lord_Howe", "UTC"]),
)
def test_days_follow_each_other_without_gap_or_overlap(first: date, span: int, zone: str) -> None:
    days = list(day_bounds(first, first + timedelta(days=span), ZoneInfo(zone)))
    assert [d for d, _, _ in days] == [first + timedelta(days=n) for n in range(span + 1)]
    for (_, _, end), (_, start, _) in pairwise(days):
        assert end == start
    assert all(timedelta(hours=22) < end - start < timedelta(hours=26) for _, start, end in days)


def test_an_owner_sees_their_lines_and_the_totals_are_the_reports_figures() -> None:
    mine, theirs = "+15125550100", "+15125550111"
    breakdown = ReportBreakdown(
        date(2026, 11, 25),
        date(2026, 11, 27),
        (DayOutcome(date(2026, 11, 25), mine, HANDLED, 2), DayOutcome(date(2026, 11, 26), theirs,
         NOT_TEXTED, 5)),
        (LineFigures(mine, 2, 2, 1, 2, (timedelta(minutes=9),)), LineFigures(theirs, 5, 0, 0, 0),
         LineFigures(None, 1, 1, 1, 0, (timedelta(minutes=3),))),
    )  # fmt: skip
    only_mine = breakdown.for_lines({mine})
    assert only_mine.per_day() == {
        date(2026, 11, 25): dict.fromkeys(OUTCOMES, 0) | {HANDLED: 2},
        date(2026, 11, 26): dict.fromkeys(OUTCOMES, 0),
        date(2026, 11, 27): dict.fromkeys(OUTCOMES, 0),
    }
    totals = only_mine.totals()
    assert (totals.missed_calls, totals.texted, totals.replied, totals.handled) == (2, 2, 1, 2)
    every = breakdown.totals()
    assert every.missed_calls == 8
    assert every.first_action_waits == [timedelta(minutes=3), timedelta(minutes=9)]
