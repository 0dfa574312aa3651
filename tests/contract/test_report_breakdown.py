"""WebReportStore: the report page's figures on a known history - missed calls
per local day by outcome (the business's day, not UTC's), and the report's
figures line by line, adding up to what ReportStore.report says."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.core.breakdown import HANDLED, NOT_TEXTED, REPLIED, TEXTED
from bridge.core.calls import Outcome
from bridge.core.texts import OwnerAction
from bridge.store import Store
from tests.support.store_values import (
    CALLER,
    LATER,
    LINE,
    OTHER,
    SECOND_LINE,
    T0,
    Clock,
    a_text,
    decision,
    received,
)

CHICAGO = ZoneInfo("America/Chicago")
THIRD, FOURTH = "+15125550143", "+15125550144"
LATE = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)  # 22:30 on the 25th in Chicago
NEXT_DAY = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 9:00 on the 26th
UNTIL = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def _missed(store: Store, clock: Clock, linkedid: str, at: datetime, **call: object) -> None:
    clock.now = at
    caller = call.get("caller", CALLER)
    text = a_text(str(caller)) if caller is not None else None
    await store.record_decision(decision(linkedid, started_at=at, ended_at=at, **call), text=text)


async def _send_all_but(store: Store, clock: Clock, unsent: str) -> None:
    for text in await store.due_texts(LATER):
        if text.to_number != unsent:
            await store.mark_sending(text.id, "modem")
            await store.mark_sent(text.id, [text.id], clock())


async def _history(store: Store, clock: Clock) -> None:
    """Two lines over two local days, one of each outcome, and what is never counted."""
    await _missed(store, clock, "won", T0)  # thread 1: texted, replied, called back
    await _missed(store, clock, "quiet", T0 + timedelta(hours=1), caller=OTHER)  # texted only
    await _missed(store, clock, "withheld", T0 + timedelta(hours=2), caller=None, withheld=True)
    await _missed(store, clock, "late", LATE, caller=THIRD, line=SECOND_LINE)  # replied
    await _missed(store, clock, "unsent", NEXT_DAY, caller=FOURTH, line=SECOND_LINE)
    await store.record_decision(decision("rehearsal", caller=FOURTH), dry_run=True)
    await store.record_decision(decision("picked-up", outcome=Outcome.ANSWERED, reason=None))
    await _send_all_but(store, clock, FOURTH)
    clock.now = NEXT_DAY + timedelta(minutes=10)
    await store.store_incoming(received("Yes please", at=clock()), None)
    await store.store_incoming(received("Tomorrow?", THIRD, at=clock()), None)
    await store.store_incoming(received("HELP", OTHER, at=clock()), "help")  # not a reply
    clock.advance(minutes=20)
    await store.owner_action("mike", OwnerAction(1, "called"))


async def test_missed_calls_are_counted_per_business_day_by_outcome(
    store: Store, clock: Clock
) -> None:
    await _history(store, clock)
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
    await _history(store, clock)
    breakdown = await store.report_breakdown(None, UNTIL, CHICAGO)
    by_line = {f.line: f for f in breakdown.lines}
    assert set(by_line) == {LINE, SECOND_LINE}
    main, second = by_line[LINE], by_line[SECOND_LINE]
    assert (main.missed_calls, main.texted, main.replied, main.handled) == (3, 2, 1, 1)
    assert main.first_action_waits == (NEXT_DAY + timedelta(minutes=30) - T0,)
    assert (second.missed_calls, second.texted, second.replied, second.handled) == (2, 1, 1, 0)
    assert second.first_action_waits == ()
    assert breakdown.totals() == await store.report(None)
    assert breakdown.for_lines({SECOND_LINE}).totals().missed_calls == 2


async def test_a_period_starts_at_its_first_local_day(store: Store, clock: Clock) -> None:
    await _history(store, clock)
    since = datetime(2026, 11, 26, tzinfo=CHICAGO)
    breakdown = await store.report_breakdown(since, UNTIL, CHICAGO)
    assert breakdown.first_day == date(2026, 11, 26)
    assert {d.day for d in breakdown.days} == {date(2026, 11, 26)}
    assert breakdown.totals() == await store.report(since)
    assert breakdown.totals().missed_calls == 1


async def test_an_empty_store_has_no_days(store: Store) -> None:
    breakdown = await store.report_breakdown(None, UNTIL, CHICAGO)
    assert (breakdown.first_day, breakdown.days, breakdown.lines) == (None, (), ())
    assert breakdown.per_day() == {}
    assert breakdown.totals().missed_calls == 0
