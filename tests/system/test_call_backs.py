"""The whole bridge over the AMI double: a desk calling a missed caller back,
and the caller ringing again and getting through, close the loop on the
caller's thread (no reminder then); an unanswered call-back is only noted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.core.calls import CallDecision, Outcome
from bridge.followup.worker import due_timers
from bridge.sim import callgen
from bridge.sim.ami_server import recorded_events
from bridge.sim.callbacks import call_back
from bridge.store import Store
from tests.support.expected import CALLER
from tests.support.office import Office, office
from tests.support.polling import until_true


class ShiftedClock:
    """The real time, moved on by what the test advances (a call's talk time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


async def missed_thread(shop: Office) -> int:
    decision = await shop.missed_call(callgen.render("no_answer"))
    assert decision.outcome is Outcome.MISSED
    assert decision.caller == CALLER
    store = shop.bridge.store
    (summary,) = await store.threads()
    return summary.id


async def open_call_answered(store: Store) -> bool:
    return any('"answered_at": "' in call.state for call in await store.open_calls())


async def play_call_back(
    shop: Office, clock: ShiftedClock, pbx: callgen.Pbx, *, dialled: str, talk: float | None
) -> CallDecision:
    """Desk 201 calls ``dialled``: rings, then (with ``talk``) answered, the
    clock moved on ``talk`` seconds once the bridge saw the answer, hung up."""
    steps = call_back(pbx, dialled=dialled, answered=talk is not None)
    for _ in steps:
        await shop.asterisk.play(recorded_events(pbx.take()))
    # Every step up to the last is played; the last (the hang-up) is still in ``pbx``.
    if talk is not None:
        await until_true(lambda: open_call_answered(shop.bridge.store))
        clock.advance(seconds=talk)
    await shop.asterisk.play(recorded_events(pbx.take()))
    async with asyncio.timeout(5):
        return await shop.decisions.get()


async def reminder_due(shop: Office, clock: ShiftedClock, thread_id: int) -> bool:
    later = due_timers(clock() + timedelta(hours=3), shop.bridge.config.follow_up)
    return thread_id in [s.thread_id for s in await shop.bridge.store.due_threads(later)]


async def test_an_answered_call_back_calls_the_thread_back(tmp_path: Path) -> None:
    clock = ShiftedClock()
    async with office(tmp_path, clock=clock) as shop:
        thread_id = await missed_thread(shop)
        assert await reminder_due(shop, clock, thread_id)
        pbx = callgen.Pbx(epoch=1_795_618_000)
        decision = await play_call_back(shop, clock, pbx, dialled="95125559876", talk=125)
        assert decision.outcome is Outcome.OUTBOUND
        assert decision.callee == CALLER
        found = await shop.bridge.store.thread(thread_id)
        assert found is not None
        summary, events = found
        assert summary.status == "handled"
        notes = [e.text for e in events if e.what == "owner pbx: called"]
        assert len(notes) == 1
        assert notes[0].startswith("called back by 201 at ")
        assert notes[0].endswith(", talked 2 min")
        assert not await reminder_due(shop, clock, thread_id)


async def test_an_unanswered_call_back_is_noted_and_the_thread_stays_open(tmp_path: Path) -> None:
    clock = ShiftedClock()
    async with office(tmp_path, clock=clock) as shop:
        thread_id = await missed_thread(shop)
        pbx = callgen.Pbx(epoch=1_795_618_000)
        decision = await play_call_back(shop, clock, pbx, dialled="+15125559876", talk=None)
        assert decision.callee == CALLER
        found = await shop.bridge.store.thread(thread_id)
        assert found is not None
        summary, events = found
        assert summary.status != "handled"
        assert any(
            e.what == "call back" and "tried to call back: 201 at " in e.text for e in events
        )
        assert await reminder_due(shop, clock, thread_id)


async def test_the_caller_rings_back_and_is_answered(tmp_path: Path) -> None:
    async with office(tmp_path) as shop:
        thread_id = await missed_thread(shop)
        pbx = callgen.Pbx(epoch=1_795_618_000)
        answered = await shop.missed_call(callgen.render("answered", pbx=pbx))
        assert answered.outcome is Outcome.ANSWERED
        assert answered.caller == CALLER
        found = await shop.bridge.store.thread(thread_id)
        assert found is not None
        summary, events = found
        assert summary.status == "handled"
        assert any(e.text.startswith("reached on a later call") for e in events)
        later = due_timers(datetime.now(UTC) + timedelta(hours=3), shop.bridge.config.follow_up)
        assert thread_id not in [s.thread_id for s in await shop.bridge.store.due_threads(later)]
