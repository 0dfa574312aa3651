"""RecorderStore's links: a call-back or the caller reached on a later call
changes the caller's open thread in the decision's own transaction."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.callbacks import CALLED, REACHED, TRIED, ThreadLink
from bridge.core.calls import CallDecision, Outcome
from bridge.store import Store
from tests.support.store_values import CALLER, OTHER, T0, decision


def outbound(linkedid: str, callee: str = CALLER) -> CallDecision:
    return decision(
        linkedid, outcome=Outcome.OUTBOUND, reason=None, caller=None, caller_raw="201",
        caller_name="Desk 201", line=None, line_name=None, callee=callee,
        answered_by="PJSIP/trunk-00000001", answered_at=T0 - timedelta(minutes=2),
        started_at=T0 - timedelta(minutes=3), detail="placed from from-internal",
    )  # fmt: skip


async def missed_thread(store: Store) -> int:
    await store.record_decision(decision("missed-1"))
    (summary,) = await store.threads()
    return summary.id


async def test_a_call_back_talked_on_closes_the_thread_as_called(store: Store) -> None:
    thread_id = await missed_thread(store)
    link = ThreadLink(CALLER, CALLED, "called back by 201 at 9:12 am, talked 2 min")
    assert await store.record_decision(outbound("out-1"), link=link)
    found = await store.thread(thread_id)
    assert found is not None
    summary, events = found
    assert summary.status == "handled"
    assert summary.calls == 1  # the missed call: the call-back is no missed call
    whats = [(e.what, e.text) for e in events]
    assert ("owner pbx: called", "called back by 201 at 9:12 am, talked 2 min") in whats
    assert ("call back", "outbound - called back by 201 at 9:12 am, talked 2 min") in whats
    call = await store.call("out-1")
    assert call is not None
    assert call.thread_id == thread_id
    assert [s.thread_id for s in await store.open_threads()] == []
    # The call-back is no news of its own: only the missed call waits to be told.
    assert [e.text for e in await store.unalerted()] == ["NOANSWER - dial ended NOANSWER"]


async def test_an_attempt_is_noted_and_the_thread_stays_open(store: Store) -> None:
    thread_id = await missed_thread(store)
    before = await store.open_threads()
    link = ThreadLink(CALLER, TRIED, "tried to call back: 201 at 9:12 am, not answered")
    assert await store.record_decision(outbound("out-2"), link=link)
    found = await store.thread(thread_id)
    assert found is not None
    summary, events = found
    assert summary.status == "new"
    # What a reminder names: the latest call-back on the thread.
    assert summary.last_call_back == "tried to call back: 201 at 9:12 am, not answered"
    assert ("call back", "outbound - tried to call back: 201 at 9:12 am, not answered") in [
        (e.what, e.text) for e in events
    ]
    assert await store.open_threads() == before  # the reminder still runs from the missed call


async def test_the_caller_reached_on_a_later_call_resolves_the_thread(store: Store) -> None:
    thread_id = await missed_thread(store)
    answered = decision("in-2", outcome=Outcome.ANSWERED, reason=None, answered_by="PJSIP/201-2")
    link = ThreadLink(CALLER, REACHED, "reached on a later call at 9:30 am")
    assert await store.record_decision(answered, link=link)
    summary = await store.thread_summary(thread_id)
    assert summary is not None
    assert summary.status == "handled"


async def test_a_link_to_a_number_with_no_open_thread_changes_nothing(store: Store) -> None:
    thread_id = await missed_thread(store)
    link = ThreadLink(OTHER, CALLED, "called back by 201")
    assert await store.record_decision(outbound("out-3", OTHER), link=link)
    summary = await store.thread_summary(thread_id)
    assert summary is not None
    assert summary.status == "new"
    call = await store.call("out-3")
    assert call is not None
    assert call.thread_id is None
    # A dry run never touches a thread either.
    again = ThreadLink(CALLER, CALLED, "called back by 201")
    assert await store.record_decision(outbound("out-4"), link=again, dry_run=True)
    summary = await store.thread_summary(thread_id)
    assert summary is not None
    assert summary.status == "new"


async def test_a_click_to_call_joins_the_thread_it_names_even_when_handled(store: Store) -> None:
    thread_id = await missed_thread(store)
    done = ThreadLink(CALLER, REACHED, "reached on a later call at 9:30 am")
    await store.record_decision(decision("in-9", outcome=Outcome.ANSWERED, reason=None), link=done)
    # No open thread for the number now: only the thread the call names takes it.
    link = ThreadLink(CALLER, TRIED, "tried to call back: 201 at 9:40 am", thread_id=thread_id)
    assert await store.record_decision(outbound("out-5"), link=link)
    call = await store.call("out-5")
    assert call is not None
    assert call.thread_id == thread_id


async def test_a_click_to_call_naming_another_number_s_thread_is_not_put_there(
    store: Store,
) -> None:
    thread_id = await missed_thread(store)
    link = ThreadLink(OTHER, CALLED, "called back by 201", thread_id=thread_id)
    assert await store.record_decision(outbound("out-6", OTHER), link=link)
    call = await store.call("out-6")
    assert call is not None
    assert call.thread_id is None
    summary = await store.thread_summary(thread_id)
    assert summary is not None
    assert summary.status == "new"
