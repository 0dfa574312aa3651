"""FollowUpStore: each timer's change happens only if the thread is as it was
read, together with what it queues; digests once per owner and day."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bridge.config import FollowUpConfig
from bridge.core.texts import Cap, OwnerAction
from bridge.core.threads import DueTimers, FollowUpState
from bridge.followup.worker import due_timers, next_step, nudge_due
from bridge.store import Store
from tests.support.store_values import (
    CALLER,
    DOMAIN,
    LATER,
    OTHER,
    T0,
    Clock,
    Opener,
    a_text,
    decision,
    email,
    received,
    sms,
)

DAY = date(2026, 11, 25)
DAILY = Cap(3, timedelta(hours=24), any_kind=True)


async def only_open_thread(store: Store) -> FollowUpState:
    (state,) = await store.open_threads()
    return state


async def test_open_threads_carry_what_their_timers_run_from(store: Store, clock: Clock) -> None:
    await store.record_decision(decision("a"))
    await store.record_decision(decision("b", caller=OTHER))
    await store.owner_action("mike", OwnerAction(2, "done"))
    clock.advance(minutes=7)
    await store.store_incoming(received("hello", at=clock()), None)
    (state,) = await store.open_threads()
    assert state == FollowUpState(1, CALLER, "+15125550100", "replied", clock(), None, None)


async def test_one_reminder_per_wait(store: Store, clock: Clock) -> None:
    await store.record_decision(decision())
    state = await only_open_thread(store)
    clock.advance(hours=2)
    assert await store.remind(state, [email(), sms()], DOMAIN) is True
    reminded = await only_open_thread(store)
    assert reminded.reminded_at == clock()
    assert await store.remind(state, [email()], DOMAIN) is False  # as read before: moved on
    assert len(await store.due_alerts(LATER, "email")) == 1
    assert [t.kind for t in await store.due_texts(LATER)] == ["owner_alert"]
    # A reply starts a new wait: one more reminder is due for it.
    await store.store_incoming(received("still there?", at=clock()), None)
    waiting = await only_open_thread(store)
    assert (waiting.status, waiting.reminded_at) == ("replied", None)
    assert await store.remind(reminded, [email()], DOMAIN) is False
    assert await store.remind(waiting, [email()], DOMAIN) is True
    found = await store.thread(1)
    assert found is not None
    assert [e.what for e in found[1]].count("reminder alert to mike by email (queued)") == 2


async def test_a_thread_goes_cold_only_as_it_was_read(store: Store) -> None:
    await store.record_decision(decision())
    state = await only_open_thread(store)
    await store.store_incoming(received("hi"), None)  # it moved on
    assert await store.mark_cold(state) is False
    assert await store.open_threads() != []
    assert await store.mark_cold(await only_open_thread(store)) is True
    assert await store.open_threads() == []
    summary = await store.thread_summary(1)
    assert summary is not None
    assert summary.status == "cold"


async def test_one_nudge_per_thread_within_the_cap(store: Store, clock: Clock) -> None:
    await store.record_decision(decision(), text=a_text())
    state = await only_open_thread(store)
    nudge = a_text(kind="nudge", body="Still need a hand?")
    assert await store.nudge(state, nudge, cap=DAILY) is True
    nudged = await only_open_thread(store)
    assert nudged.nudged_at == clock()
    assert await store.nudge(state, nudge, cap=DAILY) is False
    assert await store.nudge(nudged, nudge, cap=DAILY) is True  # the worker never asks twice
    assert [t.kind for t in await store.due_texts(LATER)] == ["textback", "nudge", "nudge"]


async def test_a_nudge_over_the_cap_writes_nothing(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    for _ in range(2):
        await store.queue_text(a_text(kind="confirmation"))
    state = await only_open_thread(store)
    assert await store.nudge(state, a_text(kind="nudge"), cap=DAILY) is False
    assert await only_open_thread(store) == state  # it may fit later
    assert [t.kind for t in await store.due_texts(LATER)].count("nudge") == 0


async def test_a_digest_goes_once_a_day_whatever_restarts(backend: Opener, clock: Clock) -> None:
    digest = email()
    async with await backend(clock) as store:
        assert await store.digest_sent("mike", DAY) is False
        assert await store.queue_digest("mike", DAY, digest, DOMAIN) is True
        assert await store.queue_digest("mike", DAY, digest, DOMAIN) is False
    async with await backend(clock) as store:
        assert await store.digest_sent("mike", DAY) is True
        assert await store.queue_digest("mike", DAY, digest, DOMAIN) is False
        assert await store.digest_sent("anna", DAY) is False
        # Nothing to tell: the day is claimed all the same, with no email.
        assert await store.queue_digest("anna", DAY, None, DOMAIN) is True
        assert await store.digest_sent("anna", DAY) is True
        next_day = DAY + timedelta(days=1)
        assert await store.queue_digest("mike", next_day, digest, DOMAIN) is True
        digests = await store.due_alerts(LATER, "email")
        assert [(a.thread_id, a.recipient) for a in digests] == [(None, "mike@acme.example")] * 2
        assert digests[0].message_id.startswith("<textback.digest.")


async def test_the_digest_reads_open_threads_and_those_handled_that_day(
    store: Store, clock: Clock
) -> None:
    await store.record_decision(decision("open"))
    await store.record_decision(decision("won", caller=OTHER))
    await store.record_decision(decision("before", caller="+15125550143"))
    await store.owner_action("mike", OwnerAction(3, "done"))  # at T0: before the window
    clock.advance(hours=1)
    await store.owner_action("mike", OwnerAction(2, "done"))
    window = (T0 + timedelta(minutes=30), T0 + timedelta(days=1))
    open_, recovered = await store.digest_threads(*window)
    assert [t.id for t in open_] == [1]
    assert [(t.id, t.status) for t in recovered] == [(2, "handled")]


def timers(now: datetime, *, nudge_after: timedelta | None = None) -> DueTimers:
    """Reply wait 2 h, action wait 30 min, cold 24 h after the reminder; a
    nudge (when asked) due ``nudge_after`` after the last activity, for a day."""
    nudge = (
        None if nudge_after is None else (now - nudge_after - timedelta(days=1), now - nudge_after)
    )
    return DueTimers(
        now - timedelta(hours=2), now - timedelta(minutes=30), now - timedelta(hours=24), nudge
    )


async def due_ids(store: Store, now: datetime, **nudge: timedelta) -> list[int]:
    return [state.thread_id for state in await store.due_threads(timers(now, **nudge))]


async def test_due_threads_are_those_whose_wait_is_over(store: Store, clock: Clock) -> None:
    await store.record_decision(decision("waits"))  # #1, new: the reply wait
    await store.record_decision(decision("replied", caller=OTHER))  # #2: the action wait
    await store.store_incoming(received("hi", OTHER), None)
    await store.record_decision(decision("done", caller="+15125550143"))  # #3, closed
    await store.owner_action("mike", OwnerAction(3, "done"))
    assert await due_ids(store, T0 + timedelta(minutes=29)) == []
    assert await due_ids(store, T0 + timedelta(minutes=30)) == [2]  # on the dot
    assert await due_ids(store, T0 + timedelta(hours=2)) == [1, 2]
    (state, *_) = await store.due_threads(timers(T0 + timedelta(hours=2)))
    assert state == FollowUpState(1, CALLER, "+15125550100", "new", T0, None, None)


async def test_a_reminded_thread_is_due_again_when_it_may_go_cold(
    store: Store, clock: Clock
) -> None:
    await store.record_decision(decision())
    clock.advance(hours=2)
    (state,) = await store.due_threads(timers(clock()))
    assert await store.remind(state, [email()], DOMAIN) is True
    assert await due_ids(store, clock() + timedelta(hours=23)) == []
    assert await due_ids(store, clock() + timedelta(hours=24)) == [1]


async def test_a_nudge_is_due_within_its_window_only(store: Store, clock: Clock) -> None:
    await store.record_decision(decision(), text=a_text())
    (text,) = await store.due_texts(LATER)
    await store.mark_sent(text.id, [1], T0)  # awaiting the caller's reply
    (state,) = await store.due_threads(timers(T0 + timedelta(hours=2)))
    await store.remind(state, [email()], DOMAIN)  # not due again for 24 h
    later = T0 + timedelta(hours=4)
    assert await due_ids(store, later, nudge_after=timedelta(hours=4)) == [1]
    assert await due_ids(store, later, nudge_after=timedelta(hours=5)) == []  # not yet
    assert await due_ids(store, later) == []  # no nudges asked for
    assert await store.nudge(await only_open_thread(store), a_text(kind="nudge"), cap=DAILY)
    assert await due_ids(store, later, nudge_after=timedelta(hours=4)) == []  # one per thread


async def test_due_threads_are_exactly_those_the_follow_up_rules_act_on(
    store: Store, clock: Clock
) -> None:
    """Over threads at every stage and moments around each timer, the store's
    due threads are the open threads next_step or nudge_due acts on."""
    rules = FollowUpConfig.model_validate({"nudge": {"enabled": True, "after_hours": 5}})
    callers = [f"+1512555{n:04d}" for n in range(6)]
    for n, caller in enumerate(callers):
        clock.advance(minutes=17 * n)
        await store.record_decision(decision(f"c{n}", caller=caller), text=a_text(caller))
    for text in await store.due_texts(LATER):
        if text.to_number in callers[:4]:
            await store.mark_sent(text.id, [1], clock())  # awaiting their reply
    await store.store_incoming(received("hi", callers[1], at=clock()), None)  # replied
    clock.advance(hours=3)
    for state in await store.open_threads():
        if state.caller in callers[2:4]:
            await store.remind(state, [email()], DOMAIN)
    await store.owner_action("mike", OwnerAction(6, "done"))  # closed
    for minutes in range(-4 * 60, 60 * 60, 7):
        now = clock() + timedelta(minutes=minutes)
        acted = [
            s.thread_id
            for s in await store.open_threads()
            if next_step(s, now, rules) or nudge_due(s, now, rules)
        ]
        assert [s.thread_id for s in await store.due_threads(due_timers(now, rules))] == acted
