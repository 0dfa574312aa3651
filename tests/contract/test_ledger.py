"""The recovery ledger over every backend: owners' BOOKED / WON / LOST steps
(InboundStore.store_owner_step, HistoryStore.lead_step), their effect on the
thread, FollowUpStore.lead_states, and the leads ReportStore.report reads."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.callbacks import CALLED, ThreadLink
from bridge.core.calls import Outcome
from bridge.core.ledger import BOOKED, LOST, WON, LeadState, LeadStep
from bridge.core.texts import OwnerAction
from bridge.store import Store
from tests.support.store_values import (
    CALLER,
    LATER,
    OTHER,
    SECOND_LINE,
    T0,
    Clock,
    a_text,
    decision,
    received,
)

MIKE = "+15125550199"
THIRD = "+15125550143"


async def status(store: Store, thread: int) -> str:
    found = await store.thread_summary(thread)
    assert found is not None
    return found.status


async def test_a_step_closes_the_thread_with_the_owners_text_in_one_go(
    store: Store, clock: Clock
) -> None:
    await store.record_decision(decision("a"), text=a_text())
    clock.advance(minutes=5)
    step = LeadStep(1, BOOKED, 45000)
    moved = await store.store_owner_step("mike", received("BOOKED 1 450", MIKE, at=clock()), step)
    assert moved is not None
    assert (moved.outcome, moved.after, moved.closed) == (
        "recorded", LeadState(BOOKED, 45000), True,
    )  # fmt: skip
    assert await status(store, 1) == "handled"
    (text,) = [row for row in await store.inbox() if row["owner_id"] == "mike"]
    assert (text["body"], text["thread_id"], text["alerted"]) == ("BOOKED 1 450", 1, 1)
    found = await store.thread(1)
    assert found is not None
    # Shown on the thread as what the owner did; the owner's text is no reply.
    assert found[0].last_reply is None
    assert [event.kind for event in await store.unalerted()] == ["missed_call"]
    assert await store.open_threads() == []  # no reminder comes for it


async def test_a_copy_of_the_text_records_nothing_twice(store: Store) -> None:
    await store.record_decision(decision("a"))
    text = received("WON 1 500", MIKE, network_time=T0)
    assert await store.store_owner_step("mike", text, LeadStep(1, WON, 50000)) is not None
    assert await store.store_owner_step("mike", text, LeadStep(1, WON, 50000)) is None
    assert len([row for row in await store.inbox() if row["owner_id"]]) == 1
    assert await store.lead_states([1]) == {1: LeadState(WON, 50000)}


async def test_no_such_thread_writes_nothing(store: Store) -> None:
    assert await store.lead_step("office", LeadStep(9, BOOKED)) is None
    assert await store.store_owner_step("mike", received("LOST 9", MIKE), LeadStep(9, LOST)) is None
    assert await store.inbox() == []


async def test_the_rules_decide_on_the_state_the_store_holds(store: Store) -> None:
    await store.record_decision(decision("a"))
    steps = [
        (LeadStep(1, WON), "recorded", LeadState(WON)),  # won before anything: booked and won
        (LeadStep(1, BOOKED, 100), "refused", LeadState(WON)),  # a sold job is not booked again
        (LeadStep(1, WON), "unchanged", LeadState(WON)),
        (LeadStep(1, WON, 90000), "recorded", LeadState(WON, 90000)),  # the amount changed
        (LeadStep(1, LOST, reason="cancelled"), "recorded", LeadState(LOST, 90000, "cancelled")),
        (LeadStep(1, LOST), "unchanged", LeadState(LOST, 90000, "cancelled")),
        (LeadStep(1, BOOKED), "recorded", LeadState(BOOKED, 90000)),  # they came back
    ]
    for step, outcome, after in steps:
        moved = await store.lead_step("office", step)
        assert moved is not None
        assert (moved.outcome, moved.after) == (outcome, after), step
    assert await store.lead_states([1, 1, 2]) == {1: LeadState(BOOKED, 90000)}


async def test_a_handled_thread_keeps_when_and_an_opted_out_one_stays_so(
    store: Store, clock: Clock
) -> None:
    await store.record_decision(decision("a"))
    await store.record_decision(decision("b", caller=OTHER))
    await store.owner_action("mike", OwnerAction(1, "done"))
    await store.store_incoming(received("STOP", OTHER), "stop")
    handled = await store.digest_threads(T0 - timedelta(days=1), T0 + timedelta(days=1))
    clock.advance(days=3)
    moved = await store.lead_step("sue", LeadStep(1, BOOKED))
    assert moved is not None
    assert moved.closed is False
    assert (await store.lead_step("sue", LeadStep(2, LOST))).closed is False  # type: ignore[union-attr]
    assert await status(store, 2) == "opted_out"
    # Still handled on the day it was: the digest of that day still has it.
    again = await store.digest_threads(T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert [t.id for t in again[1]] == [t.id for t in handled[1]] == [1]


async def test_the_report_reads_each_leads_stages(store: Store, clock: Clock) -> None:
    # 1: texted, replied, called back by the PBX 12 min after, booked, won at 1,200.
    await store.record_decision(decision("a"), text=a_text())
    # 2: texted (not sent), on the second line, lost.
    await store.record_decision(decision("b", caller=OTHER, line=SECOND_LINE), text=a_text(OTHER))
    # 3: a dry run is no lead; an answered call neither.
    await store.record_decision(decision("c", caller=THIRD), dry_run=True)
    await store.record_decision(decision("d", caller=THIRD, outcome=Outcome.ANSWERED))
    for text in await store.due_texts(LATER):
        if text.to_number == CALLER:
            await store.mark_sending(text.id, "modem")
            await store.mark_sent(text.id, [7], T0)
    clock.advance(minutes=5)
    await store.store_incoming(received("yes please", at=clock()), None)
    clock.advance(minutes=7)
    link = ThreadLink(CALLER, CALLED, "called back by 201")
    back = decision("e", outcome=Outcome.OUTBOUND, caller="201", callee=CALLER, ended_at=clock())
    await store.record_decision(back, link=link)
    await store.lead_step("mike", LeadStep(1, BOOKED, 45000))
    await store.lead_step("mike", LeadStep(1, WON, 120000))
    await store.lead_step("mike", LeadStep(2, LOST, reason="price"))

    figures = await store.report(None)
    one, two = sorted(figures.leads, key=lambda lead: lead.thread_id)
    assert (one.thread_id, one.line, one.missed_at) == (1, "+15125550100", T0)
    assert (one.texted, one.replied, one.handled, one.booked) == (True, True, True, True)
    assert one.called_back_at == T0 + timedelta(minutes=12)
    assert one.state == LeadState(WON, 120000)
    assert (two.line, two.texted, two.replied, two.called_back_at) == (
        SECOND_LINE,
        False,
        False,
        None,
    )
    assert (two.handled, two.booked, two.state) == (True, False, LeadState(LOST, None, "price"))
    assert (await store.report(T0 + timedelta(minutes=1))).leads == []
