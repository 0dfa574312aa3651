"""`CALL 12` end to end over the AMI double and the simulated modem: the
owner texts it, Asterisk is asked to ring the owner's extension, the call it
places (the owner's leg, then the homeowner's, played as Asterisk emits them)
is decided as a call-back on thread 12, and the owner hears in words both
that their phone rings and, when it does not answer, that nobody was called."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridge.ami.framer import AmiMessage
from bridge.core.calls import Outcome
from bridge.sim import callgen
from bridge.sim.ami_server import recorded_events
from bridge.sim.originate import NO_ANSWER, click_to_call
from bridge.store import Store
from tests.support.calls import ShiftedClock
from tests.support.expected import CALLER
from tests.support.office import NO_ALERTS, Office, office
from tests.support.polling import until, until_true

MIKE = "+15125550199"
OWNER = {
    "id": "mike", "name": "Mike", "mobile": MIKE, "extension": "PJSIP/201",
    "alerts": {"business_hours": NO_ALERTS, "after_hours": NO_ALERTS},
}  # fmt: skip


def texts_to(shop: Office, number: str) -> list[str]:
    return [s.text for s in shop.modem.engine.sent if s.number == number]


def originates(shop: Office) -> list[AmiMessage]:
    return [a for a in shop.asterisk.actions if a.get("Action") == "Originate"]


async def open_call_answered(store: Store) -> bool:
    return any('"answered_at": "' in call.state for call in await store.open_calls())


async def owner_calls_back(shop: Office) -> tuple[int, AmiMessage]:
    """A missed call opens thread #1; the owner texts CALL 1; the Originate."""
    shop.asterisk.write_classes |= {"originate"}
    missed = await shop.missed_call(callgen.render("no_answer"))
    assert missed.outcome is Outcome.MISSED
    (summary,) = await shop.bridge.store.threads()
    shop.modem.receive(MIKE, f"CALL {summary.id}")
    await until(lambda: len(originates(shop)) == 1)
    (action,) = originates(shop)
    return summary.id, action


async def test_call_12_rings_the_owner_then_the_caller_and_calls_the_thread_back(
    tmp_path: Path,
) -> None:
    clock = ShiftedClock()
    async with office(tmp_path, owners=[OWNER], clock=clock) as shop:
        thread_id, action = await owner_calls_back(shop)
        assert action.get("Channel") == "PJSIP/201"
        assert action.get("Exten") == CALLER
        assert action.get("CallerID") == '"Main line" <+15125550100>'
        assert f"TEXTBACK_THREAD={thread_id}" in action.getall("Variable")
        await until(lambda: len(texts_to(shop, MIKE)) == 1)
        assert texts_to(shop, MIKE) == [
            f"#{thread_id}: ringing your phone, then (512) 555-9876"
            " - pick up and textback puts you through."
        ]
        pbx = callgen.Pbx(epoch=1_795_618_000)
        steps = click_to_call(pbx, action)
        for _ in steps:  # the owner's leg rings, is answered; the homeowner's rings, answers
            await shop.asterisk.play(recorded_events(pbx.take()))
        # Every step but the hang-up is played: the homeowner is talking.
        await until_true(lambda: open_call_answered(shop.bridge.store))
        clock.advance(seconds=125)
        await shop.asterisk.play(recorded_events(pbx.take()))
        async with asyncio.timeout(5):
            decision = await shop.decisions.get()
        assert decision.outcome is Outcome.OUTBOUND
        assert decision.callee == CALLER
        assert decision.thread_hint == thread_id
        found = await shop.bridge.store.thread(thread_id)
        assert found is not None
        summary, events = found
        assert summary.status == "handled"
        assert summary.calls == 1  # the missed call; the call-back is none
        (note,) = [e.text for e in events if e.what == "owner pbx: called"]
        assert note.startswith("called back by 201 at ")
        assert note.endswith(", talked 2 min")


async def test_the_owner_not_answering_is_told_and_nothing_changes(tmp_path: Path) -> None:
    async with office(tmp_path, owners=[OWNER]) as shop:
        thread_id, action = await owner_calls_back(shop)
        pbx = callgen.Pbx(epoch=1_795_618_000)
        for _ in click_to_call(pbx, action, owner=NO_ANSWER):
            await shop.asterisk.play(recorded_events(pbx.take()))
        await shop.asterisk.play(recorded_events(pbx.take()))
        async with asyncio.timeout(5):
            decision = await shop.decisions.get()
        assert decision.outcome is Outcome.INTERNAL  # only the owner's phone rang
        await until(lambda: len(texts_to(shop, MIKE)) == 2)
        assert texts_to(shop, MIKE)[1] == (
            f"#{thread_id}: your phone (PJSIP/201) was not reached: it rang and nobody"
            f" answered. Nobody was called. CALL {thread_id} to try again."
        )
        summary = await shop.bridge.store.thread_summary(thread_id)
        assert summary is not None
        assert summary.status == "awaiting_reply"
