"""RecorderStore.record_in_order: the recorder's backlog - calls in progress
and decisions, in order - committed at once, storing exactly what
save_open_calls and record_decision one by one would: each decision planned
from its number's history with the decisions before it in the run counted."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.core.callbacks import CALLED, ThreadLink
from bridge.core.calls import CallDecision, OpenCall, Outcome
from bridge.core.recording import HistoryOf, Planned
from bridge.core.texts import History, OutgoingText
from bridge.store import ConstraintViolation, Store
from tests.support.store_values import CALLER, LATER, OTHER, T0, a_text, decision


class Cooldown:
    """A plan like texting's: text a missed caller unless texted already; it
    notes each history it was given."""

    def __init__(self) -> None:
        self.histories: list[History] = []

    def __call__(self, call: CallDecision, history_of: HistoryOf) -> Planned:
        history = history_of(call.caller or "")
        self.histories.append(history)
        if history.last_textback_at is not None:
            return Planned(skip="texted-recently")
        return Planned(a_text(call.caller or ""))


async def test_a_run_stores_what_one_by_one_would(store: Store) -> None:
    plan = Cooldown()
    items = [
        OpenCall("a", "{}", T0),
        OpenCall("later", "{}", T0),
        decision("a"),
        decision("b"),  # the same caller again: the run's first text counts
        decision("c", caller=OTHER),
    ]
    recorded = await store.record_in_order(items, plan, T0 + timedelta(seconds=5))
    assert [(r.decision.linkedid, r.new, r.planned.skip) for r in recorded] == [
        ("a", True, None),
        ("b", True, "texted-recently"),
        ("c", True, None),
    ]
    assert [h.last_textback_at for h in plan.histories] == [None, T0, None]
    assert [h.textbacks_last_hour for h in plan.histories] == [0, 1, 1]
    assert [h.textbacks_last_minute for h in plan.histories] == [0, 1, 1]
    calls = {c.linkedid: c for c in await store.recent_calls()}
    assert {k: (c.text_state, c.text_skip) for k, c in calls.items()} == {
        "a": ("queued", None),
        "b": (None, "texted-recently"),
        "c": ("queued", None),
    }
    assert calls["a"].thread_id == calls["b"].thread_id != calls["c"].thread_id
    assert [c.linkedid for c in await store.open_calls()] == ["later"]  # "a" was decided
    assert {t.to_number for t in await store.due_texts(LATER)} == {CALLER, OTHER}


async def test_the_caps_count_what_was_queued_before_and_in_the_run(store: Store) -> None:
    await store.record_decision(decision("earlier"), text=a_text())
    plan = Cooldown()
    items = [
        decision("a", caller=OTHER),
        decision("a", caller=OTHER),
        decision("b", caller="+15125550177"),
    ]
    await store.record_in_order(items, plan, T0 + timedelta(seconds=5))
    # The second "a" is the same call again: nothing queued, nothing counted.
    assert [h.textbacks_last_hour for h in plan.histories] == [1, 2, 2]
    half_an_hour_on = await store.record_in_order(
        [decision("c", caller="+15125550178")], Cooldown(), T0 + timedelta(minutes=30)
    )
    assert half_an_hour_on[0].planned.text is not None
    later = await store.text_history("+15125550178", T0 + timedelta(minutes=30))
    assert (later.textbacks_last_hour, later.textbacks_last_minute) == (4, 0)


async def test_a_call_decided_before_is_not_written_again(store: Store) -> None:
    await store.record_decision(decision("a"), text=a_text())
    plan = Cooldown()
    recorded = await store.record_in_order([decision("a"), decision("a")], plan, T0)
    assert [r.new for r in recorded] == [False, False]
    assert len(await store.recent_calls()) == 1
    assert len(await store.due_texts(LATER)) == 1


async def test_a_planned_link_joins_the_thread(store: Store) -> None:
    await store.record_decision(decision("missed"))
    back = decision("out", outcome=Outcome.OUTBOUND)
    link = ThreadLink(CALLER, CALLED, "called back by 201")
    (recorded,) = await store.record_in_order([back], lambda *_: Planned(link=link), T0)
    assert recorded.new
    (thread,) = await store.threads()
    assert thread.status == "handled"
    call = await store.call("out")
    assert call is not None
    assert call.thread_id == thread.id


async def test_a_refused_run_leaves_none_of_it(store: Store) -> None:
    spam = OutgoingText(OTHER, "x", 1, T0, kind="spam")

    def plan(call: CallDecision, history_of: HistoryOf) -> Planned:
        return Planned(spam if call.linkedid == "b" else a_text())

    items = [OpenCall("x", "{}", T0), decision("a"), decision("b", caller=OTHER)]
    with pytest.raises(ConstraintViolation):
        await store.record_in_order(items, plan, T0)
    assert await store.recent_calls() == []
    assert await store.open_calls() == []
    assert await store.due_texts(LATER) == []
    assert [r.new for r in await store.record_in_order(items[:2], plan, T0)] == [True]
