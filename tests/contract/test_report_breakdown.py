"""WebReportStore: the report page's figures on a known history - missed calls
per local day by outcome (the business's day, not UTC's), and the report's
figures line by line, adding up to what ReportStore.report says."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from bridge.core.breakdown import HANDLED, NOT_TEXTED, REPLIED, TEXTED
from bridge.core.threads import ReportFigures
from bridge.store import Store
from tests.support.report_history import CHICAGO, NEXT_DAY, UNTIL, known_history
from tests.support.store_values import LINE, SECOND_LINE, T0, Clock


def without_leads(figures: ReportFigures) -> ReportFigures:
    """The per-line breakdown does not carry the recovery ledger's leads yet
    (an owner's report page shows the funnel, not the ledger): compare the rest."""
    return dataclasses.replace(figures, leads=[])


async def test_missed_calls_are_counted_per_business_day_by_outcome(
    store: Store, clock: Clock
) -> None:
    await known_history(store, clock)
    breakdown = await store.report_breakdown(None, UNTIL, CHICAGO)
    assert (breakdown.first_day, breakdown.last_day) == (date(2026, 11, 25), date(2026, 11, 28))
    days = breakdown.per_day()
    assert list(days) == [date(2026, 11, d) for d in (25, 26, 27, 28)]
    # 22:30 in Chicago is still the 25th, though UTC says the 26th.
    assert days[date(2026, 11, 25)] == {HANDLED: 1, REPLIED: 1, TEXTED: 1, NOT_TEXTED: 1}
    assert days[date(2026, 11, 26)] == {HANDLED: 0, REPLIED: 0, TEXTED: 0, NOT_TEXTED: 1}
    assert sum(days[date(2026, 11, 27)].values()) == 0
    on_second = breakdown.for_lines({SECOND_LINE}).per_day()
    assert on_second[date(2026, 11, 25)] == {HANDLED: 0, REPLIED: 1, TEXTED: 0, NOT_TEXTED: 0}


async def test_each_line_has_the_reports_figures_and_they_add_up_to_the_report(
    store: Store, clock: Clock
) -> None:
    await known_history(store, clock)
    breakdown = await store.report_breakdown(None, UNTIL, CHICAGO)
    by_line = {f.line: f for f in breakdown.lines}
    assert set(by_line) == {LINE, SECOND_LINE}
    main, second = by_line[LINE], by_line[SECOND_LINE]
    assert (main.missed_calls, main.texted, main.replied, main.handled) == (3, 2, 1, 1)
    assert main.first_action_waits == (NEXT_DAY + timedelta(minutes=30) - T0,)
    assert (second.missed_calls, second.texted, second.replied, second.handled) == (2, 1, 1, 0)
    assert second.first_action_waits == ()
    assert breakdown.totals() == without_leads(await store.report(None))
    assert breakdown.for_lines({SECOND_LINE}).totals().missed_calls == 2


async def test_a_period_starts_at_its_first_local_day(store: Store, clock: Clock) -> None:
    await known_history(store, clock)
    since = datetime(2026, 11, 26, tzinfo=CHICAGO)
    breakdown = await store.report_breakdown(since, UNTIL, CHICAGO)
    assert breakdown.first_day == date(2026, 11, 26)
    assert {d.day for d in breakdown.days} == {date(2026, 11, 26)}
    assert breakdown.totals() == without_leads(await store.report(since))
    assert breakdown.totals().missed_calls == 1


async def test_an_empty_store_has_no_days(store: Store) -> None:
    breakdown = await store.report_breakdown(None, UNTIL, CHICAGO)
    assert (breakdown.first_day, breakdown.days, breakdown.lines) == (None, (), ())
    assert breakdown.per_day() == {}
    assert breakdown.totals().missed_calls == 0
