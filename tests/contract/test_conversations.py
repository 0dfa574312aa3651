"""InboundStore and the threads side of HistoryStore: texts in, filed in
their thread with what they ask for; STOP; copies; owners' commands."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.core.texts import OwnerAction
from bridge.store import Store
from tests.support.store_values import (
    CALLER,
    LATER,
    LINE,
    OTHER,
    T0,
    Clock,
    a_text,
    decision,
    received,
    stop,
)

MIKE = "+15125550199"


async def status(store: Store, thread_id: int = 1) -> str:
    summary = await store.thread_summary(thread_id)
    assert summary is not None
    return summary.status


async def events(store: Store, thread_id: int = 1) -> list[tuple[str, str]]:
    found = await store.thread(thread_id)
    assert found is not None
    return [(event.what, event.text) for event in found[1]]


async def test_a_reply_joins_the_callers_thread(store: Store, clock: Clock) -> None:
    await store.record_decision(decision(), text=a_text())
    clock.advance(minutes=3)
    filed = await store.store_incoming(received("Need a roof quote", at=clock()), None)
    assert filed is not None
    assert (filed.thread_id, filed.choice_changed) == (1, False)
    summary = await store.thread_summary(1)
    assert summary is not None
    assert (summary.status, summary.last_reply, summary.caller, summary.line) == (
        "replied", "Need a roof quote", CALLER, LINE,
    )  # fmt: skip
    assert summary.last_activity_at > summary.created_at
    assert sorted(what for what, _ in await events(store)) == [
        "missed call", "text in", "text out (queued)",
    ]  # fmt: skip


async def test_a_strangers_text_starts_a_thread_of_no_line(store: Store) -> None:
    filed = await store.store_incoming(received("Do you do gutters?", OTHER), None)
    assert filed is not None
    assert filed.thread_id is not None
    summary = await store.thread_summary(filed.thread_id)
    assert summary is not None
    assert (summary.caller, summary.line, summary.status, summary.calls) == (
        OTHER, None, "replied", 0,
    )  # fmt: skip


async def test_a_copy_of_a_text_is_stored_once(store: Store) -> None:
    """Sender, network time and words together say it is the same text."""
    sent = T0 - timedelta(seconds=2)
    first = await store.store_incoming(received("Hello", network_time=sent), None)
    assert first is not None
    assert await store.store_incoming(received("Hello", network_time=sent), None) is None
    later = await store.store_incoming(
        received("Hello", network_time=sent + timedelta(minutes=1)), None
    )
    other = await store.store_incoming(received("Hello", OTHER, network_time=sent), None)
    words = await store.store_incoming(received("Hello!", network_time=sent), None)
    unstamped = [await store.store_incoming(received("Hi"), None) for _ in range(2)]  # SIP
    assert None not in (later, other, words, *unstamped)
    assert [what for what, _ in await events(store)].count("text in") == 5


async def test_a_sender_that_is_not_a_phone_number_is_kept_in_no_thread(store: Store) -> None:
    filed = await store.store_incoming(received("Your code is 1234", "AcmeBank"), None, lead=False)
    assert filed is not None
    assert (filed.thread_id, filed.choice_changed) == (None, False)
    assert await store.threads() == []
    assert await store.unalerted() == []  # news to nobody


async def test_stop_closes_the_thread_opts_out_and_confirms_once(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    filed = await store.store_incoming(received("STOP"), "stop", opt_out=stop())
    assert filed is not None
    assert (filed.thread_id, filed.choice_changed) == (1, True)
    assert await status(store) == "opted_out"
    assert await store.is_opted_out(CALLER)
    queued = await store.due_texts(LATER)
    assert [(t.kind, t.body) for t in queued] == [("confirmation", "Acme: you're unsubscribed")]
    again = await store.store_incoming(received("stop"), "stop", opt_out=stop())
    assert again is not None
    assert again.choice_changed is False  # nothing changed: no second confirmation
    assert len(await store.due_texts(LATER)) == 1
    assert [e.kind for e in await store.unalerted()] == ["missed_call"]  # STOP is no reply


async def test_after_an_opt_out_a_text_starts_a_new_thread(store: Store) -> None:
    await store.record_decision(decision())
    await store.store_incoming(received("STOP"), "stop", opt_out=stop())
    filed = await store.store_incoming(received("START"), "start", opt_out=stop(opted_out=False))
    assert filed is not None
    assert (filed.thread_id, filed.choice_changed) == (2, True)
    assert not await store.is_opted_out(CALLER)
    assert (await status(store, 1), await status(store, 2)) == ("opted_out", "new")
    kinds = [t.body for t in await store.due_texts(LATER)]
    assert kinds == ["Acme: you're unsubscribed", "Acme: you're subscribed again"]


@pytest.mark.parametrize("closed", ["handled", "cold"])
async def test_a_reply_reopens_a_closed_thread(store: Store, closed: str) -> None:
    await store.record_decision(decision())
    if closed == "handled":
        await store.owner_action("mike", OwnerAction(1, "done"))
    else:
        (state,) = await store.open_threads()
        assert await store.mark_cold(state)
    assert await store.threads(open_only=True) == []
    filed = await store.store_incoming(received("Are you still coming?"), None)
    assert filed is not None
    assert filed.thread_id == 1
    assert await status(store) == "replied"


async def test_urgent_stays_urgent(store: Store) -> None:
    await store.record_decision(decision())
    await store.store_incoming(received("Burst pipe!"), None, urgent=True)
    await store.store_incoming(received("thanks"), None)
    summary = await store.thread_summary(1)
    assert summary is not None
    assert (summary.urgent, summary.last_reply) == (True, "thanks")


async def test_an_owners_answer_goes_to_the_caller_and_the_thread_waits_again(
    store: Store, clock: Clock
) -> None:
    await store.record_decision(decision(), text=a_text())
    await store.store_incoming(received("Need a quote"), None)
    clock.advance(minutes=5)
    answer = OwnerAction(1, "reply", a_text(kind="reply", body="On my way"))
    command = received("1 On my way", MIKE, network_time=T0)
    assert await store.store_owner_text("mike", command, answer) is not None
    assert await store.store_owner_text("mike", command, answer) is None  # a SIM copy
    summary = await store.thread_summary(1)
    assert summary is not None
    assert (summary.status, summary.last_reply) == ("awaiting_reply", "Need a quote")
    replies = [t for t in await store.due_texts(LATER) if t.kind == "reply"]
    assert [(t.to_number, t.body, t.from_line) for t in replies] == [(CALLER, "On my way", LINE)]
    assert ("owner mike: reply", "On my way") in await events(store)
    assert [what for what, _ in await events(store)].count("owner mike: reply") == 1
    news = sorted(e.kind for e in await store.unalerted())
    assert news == ["missed_call", "reply"]  # the owner's own text is no news


@pytest.mark.parametrize("how", ["called", "done"])
async def test_an_owner_closes_a_thread_by_text_or_from_the_office(store: Store, how: str) -> None:
    await store.record_decision(decision())
    await store.record_decision(decision("other", caller=OTHER))
    command = received(f"{how.upper()} 1", MIKE)
    assert await store.store_owner_text("mike", command, OwnerAction(1, how)) is not None
    await store.owner_action("anna", OwnerAction(2, how))
    assert (await status(store, 1), await status(store, 2)) == ("handled", "handled")
    assert (f"owner mike: {how}", "") in await events(store, 1)
    assert (f"owner anna: {how}", "") in await events(store, 2)
    assert await store.threads(open_only=True) == []


async def test_an_owners_text_that_commands_nothing_is_kept(store: Store) -> None:
    inbox_id = await store.store_owner_text("mike", received("what?", MIKE))
    assert inbox_id is not None
    assert await store.threads() == []
    assert await store.unalerted() == []


async def test_threads_list_open_ones_first_then_newest_activity(
    store: Store, clock: Clock
) -> None:
    for n, caller in enumerate(["+15125550001", "+15125550002", "+15125550003"]):
        clock.advance(minutes=1)
        await store.record_decision(decision(f"c{n}", caller=caller, ended_at=clock()))
    await store.owner_action("mike", OwnerAction(3, "done"))  # newest, but closed
    clock.advance(minutes=1)
    await store.store_incoming(received("me again", "+15125550001", at=clock()), None)
    assert [t.id for t in await store.threads()] == [1, 2, 3]
    assert [t.id for t in await store.threads(open_only=True)] == [1, 2]
    assert [t.id for t in await store.threads(1)] == [1]
    assert await store.thread_summary(99) is None
    assert await store.thread(99) is None
