"""OutboxStore (and queue_text, delivery reports, opt-outs): a text's life from
queued to delivered, retries, giving up, and a crash while sending."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bridge.core.texts import Cap
from bridge.store import Store
from tests.support.store_values import (
    CALLER,
    DOMAIN,
    LATER,
    LINE,
    OTHER,
    T0,
    Clock,
    Opener,
    a_text,
    decision,
    sms,
)


async def text_state(store: Store, linkedid: str = "1795617278.10") -> str | None:
    call = await store.call(linkedid)
    assert call is not None
    return call.text_state


async def test_a_text_back_goes_queued_sending_sent_delivered(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    (text,) = await store.due_texts(T0)
    assert (text.attempts, text.maybe_sent) == (0, False)
    assert text.expires_at == T0 + timedelta(minutes=30)
    await store.mark_sending(text.id, "modem")
    assert await text_state(store) == "sending"
    assert await store.due_texts(LATER) == []  # being sent: nobody else takes it
    await store.mark_sent(text.id, [17], T0)
    assert await text_state(store) == "sent"
    assert (await store.text_history(CALLER, T0)).ever_texted is True
    summary = await store.thread_summary(1)
    assert summary is not None
    assert summary.status == "awaiting_reply"  # the caller's turn now
    assert await store.record_delivery(17, CALLER, True) == text.id
    assert await text_state(store) == "delivered"


async def test_a_text_is_due_at_its_time_longest_waiting_first(store: Store) -> None:
    first = await store.queue_text(a_text(body="one"))
    second = await store.queue_text(a_text(OTHER, body="two"))
    assert first is not None
    assert second is not None
    await store.mark_retry(first, "busy", T0 + timedelta(minutes=5))
    assert [t.id for t in await store.due_texts(T0)] == [second]
    assert [t.id for t in await store.due_texts(T0 + timedelta(minutes=5))] == [second, first]
    assert [t.id for t in await store.due_texts(LATER, limit=1)] == [second]


async def test_text_backs_are_due_before_owners_news_and_what_can_wait(store: Store) -> None:
    order = ["owner_notice", "nudge", "owner_alert", "confirmation", "reply", "textback"]
    for n, kind in enumerate(order):  # queued last-first: the order is the kind's, not the age
        await store.queue_text(a_text(f"+1512555{n:04d}", kind=kind))
    assert [t.kind for t in await store.due_texts(LATER)] == list(reversed(order))
    assert [t.kind for t in await store.due_texts(LATER, limit=2)] == ["textback", "reply"]


async def test_a_long_text_is_delivered_when_every_part_is(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    (text,) = await store.due_texts(T0)
    await store.mark_sending(text.id, "modem")
    await store.mark_sent(text.id, [3, 4], T0)
    assert await store.record_delivery(3, CALLER, True) == text.id
    assert await text_state(store) == "sent"
    assert await store.record_delivery(4, CALLER, False) == text.id  # a failed part: noted
    assert await text_state(store) == "sent"
    assert await store.record_delivery(4, CALLER, True) == text.id
    assert await text_state(store) == "delivered"


async def test_a_report_matches_only_a_sent_text_to_that_number(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    (text,) = await store.due_texts(T0)
    assert await store.record_delivery(1, CALLER, True) is None  # not sent yet
    await store.mark_sending(text.id, "modem")
    await store.mark_sent(text.id, [1], T0)
    assert await store.record_delivery(2, CALLER, True) is None
    assert await store.record_delivery(1, OTHER, True) is None
    assert await text_state(store) == "sent"


async def test_a_retry_waits_and_may_sent_once_set_stays_set(store: Store) -> None:
    text_id = await store.queue_text(a_text())
    assert text_id is not None
    await store.mark_sending(text_id, "modem")
    await store.mark_retry(text_id, "no confirmation", T0 + timedelta(seconds=5), maybe_sent=True)
    assert await store.due_texts(T0) == []
    (again,) = await store.due_texts(T0 + timedelta(seconds=5))
    assert (again.attempts, again.maybe_sent) == (1, True)
    await store.mark_sending(text_id, "modem")
    await store.mark_retry(text_id, "modem busy", T0 + timedelta(seconds=10))
    (third,) = await store.due_texts(LATER)
    assert (third.attempts, third.maybe_sent) == (2, True)


async def test_a_text_is_bound_to_its_transport_only_while_it_may_have_gone_out(
    store: Store,
) -> None:
    text_id = await store.queue_text(a_text())
    assert text_id is not None
    await store.mark_retry(text_id, "modem not ready", T0)  # failed before the handover
    (text,) = await store.due_texts(LATER)
    assert (text.attempts, text.pinned) == (1, None)  # counted: the next transport is next
    assert await store.mark_sending(text_id, "modem", [4, 5])
    assert await store.held_slots("modem") == {4, 5}
    await store.mark_retry(text_id, "+CMS ERROR 38", T0)  # certainly never left
    (text,) = await store.due_texts(LATER)
    assert (text.attempts, text.pinned, text.slots) == (2, None, ())
    assert await store.held_slots("modem") == frozenset()
    assert await store.mark_sending(text_id, "sip")
    await store.mark_retry(text_id, "no answer to MessageSend", T0, maybe_sent=True)
    (text,) = await store.due_texts(LATER)
    assert (text.attempts, text.pinned) == (3, "sip")


async def test_a_text_no_longer_queued_is_not_handed_over(store: Store) -> None:
    text_id = await store.queue_text(a_text())
    assert text_id is not None
    await store.mark_final(text_id, "cancelled", "opted out")  # STOP, meanwhile
    assert not await store.mark_sending(text_id, "modem", [1])
    assert await store.held_slots("modem") == frozenset()


@pytest.mark.parametrize("state", ["failed", "expired", "cancelled"])
async def test_a_final_text_is_never_tried_again(store: Store, state: str) -> None:
    await store.record_decision(decision(), text=a_text())
    (text,) = await store.due_texts(T0)
    await store.mark_final(text.id, state, "given up")
    assert await store.due_texts(LATER) == []
    assert await text_state(store) == state
    # Nor does it count as texted: the cooldown does not hold for it.
    assert (await store.text_history(CALLER, T0)).last_textback_at is None


async def test_after_a_crash_texts_left_sending_are_queued_as_maybe_sent(
    backend: Opener, clock: Clock
) -> None:
    async with await backend(clock) as store:
        sending = await store.queue_text(a_text(body="interrupted"))
        waiting = await store.queue_text(a_text(OTHER, body="waiting"))
        assert sending is not None
        assert waiting is not None
        await store.mark_sending(sending, "modem")
    async with await backend(clock) as store:  # the restart
        assert [t.id for t in await store.due_texts(LATER)] == [waiting]
        assert await store.recover_interrupted() == 1
        due = {t.id: t for t in await store.due_texts(LATER)}
        assert (due[sending].maybe_sent, due[sending].attempts) == (True, 1)
        assert due[waiting].maybe_sent is False
        assert await store.recover_interrupted() == 0


async def test_a_cap_holds_back_a_text_within_its_window(store: Store, clock: Clock) -> None:
    cap = Cap(2, timedelta(minutes=10))
    notice = a_text(kind="owner_notice")
    assert await store.queue_text(notice, cap=cap) is not None
    assert await store.queue_text(a_text(kind="confirmation"), cap=cap) is not None
    assert await store.queue_text(notice, cap=cap) is not None  # same kind only: 1 so far
    assert await store.queue_text(notice, cap=cap) is None  # 2 of its kind already
    assert await store.queue_text(notice, cap=Cap(3, timedelta(minutes=10), any_kind=True)) is None
    assert await store.queue_text(a_text(OTHER, kind="owner_notice"), cap=cap) is not None
    clock.advance(minutes=11)
    assert await store.queue_text(notice, cap=cap) is not None


async def test_texts_that_failed_do_not_count_against_a_cap(store: Store) -> None:
    cap = Cap(1, timedelta(minutes=10))
    first = await store.queue_text(a_text(kind="confirmation"), cap=cap)
    assert first is not None
    await store.mark_final(first, "failed", "rejected")
    assert await store.queue_text(a_text(kind="confirmation"), cap=cap) is not None


async def test_stop_cancels_what_is_queued_but_a_confirmation(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    await store.queue_text(a_text(kind="confirmation", body="You're unsubscribed"))
    await store.queue_text(a_text(OTHER, body="someone else"))
    await store.set_opt_out(CALLER, opted_out=True, keyword="STOP", source="sms", at=T0)
    assert await store.is_opted_out(CALLER)
    assert not await store.is_opted_out(OTHER)
    assert {t.body for t in await store.due_texts(LATER)} == {"You're unsubscribed", "someone else"}
    assert await text_state(store) == "cancelled"
    await store.set_opt_out(CALLER, opted_out=False, keyword="START", source="sms", at=T0)
    assert not await store.is_opted_out(CALLER)


async def test_a_text_goes_out_from_its_threads_line(store: Store) -> None:
    await store.record_decision(decision(line=LINE))
    answer = await store.queue_text(a_text(kind="reply", body="On my way"), thread_id=1)
    lonely = await store.queue_text(a_text(OTHER, kind="owner_notice"))
    lines = {t.id: t.from_line for t in await store.due_texts(LATER)}
    assert lines == {answer: LINE, lonely: None}


async def test_only_a_text_to_the_caller_starts_the_wait_for_their_reply(store: Store) -> None:
    await store.record_decision(decision())
    notice = await store.queue_text(a_text(kind="owner_notice"), thread_id=1)
    assert notice is not None
    await store.mark_sending(notice, "modem")
    await store.mark_sent(notice, [1], T0)
    summary = await store.thread_summary(1)
    assert summary is not None
    assert summary.status == "new"
    nudge = await store.queue_text(a_text(kind="nudge"), thread_id=1)
    assert nudge is not None
    await store.mark_sending(nudge, "modem")
    await store.mark_sent(nudge, [2], T0)
    summary = await store.thread_summary(1)
    assert summary is not None
    assert summary.status == "awaiting_reply"


async def test_a_batch_is_claimed_in_one_go_but_a_text_no_longer_queued(store: Store) -> None:
    first = await store.queue_text(a_text(body="one"))
    second = await store.queue_text(a_text(OTHER, body="two"))
    gone = await store.queue_text(a_text("+15125550143", body="three"))
    assert first is not None
    assert second is not None
    assert gone is not None
    await store.mark_final(gone, "cancelled", "opted out")  # STOP, meanwhile
    claimed = await store.claim_batch("modem", {first: [4], second: [5, 6], gone: [7]})
    assert claimed == {first, second}
    assert await store.held_slots("modem") == {4, 5, 6}
    assert await store.due_texts(LATER) == []  # being sent: nobody else takes them
    rows = {r["id"]: (r["state"], r["attempts"], r["transport"]) for r in await store.outbox()}
    assert rows == {
        first: ("sending", 1, "modem"),
        second: ("sending", 1, "modem"),
        gone: ("cancelled", 0, None),
    }
    assert await store.claim_batch("modem", {first: [4]}) == frozenset()  # not twice


async def test_a_batch_left_sending_by_a_crash_is_queued_with_its_slots(
    backend: Opener, clock: Clock
) -> None:
    async with await backend(clock) as store:
        first = await store.queue_text(a_text(body="one"))
        second = await store.queue_text(a_text(OTHER, body="two"))
        assert first is not None
        assert second is not None
        await store.claim_batch("modem", {first: [1], second: [2]})
        await store.mark_batch_sent({first: [31]}, T0)  # the second's answer never came
    async with await backend(clock) as store:  # the restart
        assert await store.recover_interrupted() == 1
        (text,) = await store.due_texts(LATER)
        assert (text.id, text.maybe_sent, text.pinned, text.slots) == (second, True, "modem", (2,))
        assert await store.held_slots("modem") == {2}


async def test_a_batch_is_marked_sent_in_one_go_with_its_threads_and_alerts(
    store: Store,
) -> None:
    await store.record_decision(decision(), text=a_text())
    await store.record_decision(decision("1795617278.20", caller=OTHER), text=a_text(OTHER))
    owner = "+15125550199"
    await store.queue_alerts([(e, [sms(owner)]) for e in await store.unalerted()], DOMAIN)
    due = await store.due_texts(LATER)
    assert [t.kind for t in due] == ["textback", "textback", "owner_alert", "owner_alert"]
    alerts = await store.owner_alerts_due(owner, T0)
    batch = await store.queue_batch(owner, alerts[:1], "textback: 1 missed call", 1)
    assert batch is not None
    texts = [due[0].id, due[1].id, batch.id, alerts[1].text_id]
    assert await store.claim_batch("modem", {t: [n] for n, t in enumerate(texts)}) == set(texts)
    await store.mark_batch_sent({t: [20 + n] for n, t in enumerate(texts)}, T0)
    rows = {r["id"]: r for r in await store.outbox()}
    assert {rows[t]["state"] for t in texts} == {"sent"}
    assert json.loads(str(rows[due[1].id]["refs"])) == [21]
    assert rows[alerts[0].text_id]["state"] == "sent"  # carried by the batch
    assert [a["state"] for a in await store.alerts()] == ["sent", "sent"]
    for thread_id in (1, 2):  # the callers' turn now
        summary = await store.thread_summary(thread_id)
        assert summary is not None
        assert summary.status == "awaiting_reply"
    assert await store.record_delivery(21, OTHER, True) == due[1].id


async def test_the_due_texts_say_which_numbers_opted_out(store: Store) -> None:
    await store.set_opt_out(CALLER, opted_out=True, keyword="STOP", source="sms", at=T0)
    confirmation = await store.queue_text(a_text(kind="confirmation", body="Unsubscribed"))
    late = await store.queue_text(a_text(kind="owner_notice"))  # queued after the STOP
    other = await store.queue_text(a_text(OTHER))
    flags = {t.id: t.opted_out for t in await store.due_texts(LATER)}
    assert flags == {confirmation: True, late: True, other: False}
    await store.set_opt_out(CALLER, opted_out=False, keyword="START", source="sms", at=T0)
    assert {t.opted_out for t in await store.due_texts(LATER)} == {False}
