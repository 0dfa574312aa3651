"""AlertStore: news for owners is queued once, in the transaction that marks
it told; a thread's emails thread in a mail client; an SMS alert is a text."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.calls import Outcome, Reason
from bridge.store import Store
from tests.support.store_values import (
    CALLER,
    DOMAIN,
    LATER,
    OTHER,
    T0,
    Clock,
    a_text,
    decision,
    email,
    received,
    sms,
)


async def test_missed_calls_and_replies_are_news_until_queued(store: Store, clock: Clock) -> None:
    await store.record_decision(decision("texted"), text=a_text(body="Sorry we missed you"))
    lost = decision(
        "lost", caller=OTHER, outcome=Outcome.UNKNOWN, reason=Reason.LINK_LOST,
        ended_at=T0 + timedelta(minutes=1), detail="ended while the AMI link was down",
    )  # fmt: skip
    await store.record_decision(lost, text_skip="not-missed")
    clock.advance(minutes=2)
    await store.store_incoming(received("Need a quote", at=clock()), None)
    await store.store_incoming(received("HELP", at=clock()), "help")  # answered, not news
    news = await store.unalerted()
    assert [(e.kind, e.caller, e.thread_id) for e in news] == [
        ("missed_call", CALLER, 1), ("missed_call", OTHER, 2), ("reply", CALLER, 1),
    ]  # fmt: skip
    texted, lost, reply = news
    assert (texted.texted, texted.skip, texted.unsure, texted.text) == (
        "Sorry we missed you", None, False, "NOANSWER - dial ended NOANSWER",
    )  # fmt: skip
    assert (lost.texted, lost.skip, lost.unsure) == (None, "not-missed", True)
    assert (reply.text, reply.line, reply.texted) == ("Need a quote", "+15125550100", None)
    ids = await store.queue_alerts([(texted, [email()]), (lost, []), (reply, [email()])], DOMAIN)
    assert len(ids) == 2
    assert await store.unalerted() == []  # told: never queued again, even with no alert


async def test_a_threads_first_email_is_its_root_and_later_ones_reply_to_it(
    store: Store,
) -> None:
    await store.record_decision(decision(), text=a_text())
    (call,) = await store.unalerted()
    await store.queue_alerts([(call, [email()])], DOMAIN)
    await store.store_incoming(received("Need a quote"), None)
    (reply,) = await store.unalerted()
    await store.queue_alerts([(reply, [email()])], DOMAIN)
    mike_first, mike_second = await store.due_alerts(T0, "email")
    root = f"<textback.thread1@{DOMAIN}>"
    assert (mike_first.message_id, mike_first.in_reply_to) == (root, None)
    assert mike_second.in_reply_to == root
    assert mike_second.message_id.startswith("<textback.reply.")
    assert mike_second.message_id.endswith(f"@{DOMAIN}>")
    assert (mike_second.thread_id, mike_second.recipient, mike_second.subject) == (
        1, "mike@acme.example", "Missed call",
    )  # fmt: skip
    assert (mike_second.body_text, mike_second.body_html) == ("Jane called", "<p>Jane</p>")


async def test_each_owners_emails_are_one_conversation_in_their_mailbox(store: Store) -> None:
    """Two owners emailed about one thread: Message-IDs stay unique."""
    await store.record_decision(decision(), text=a_text())
    (call,) = await store.unalerted()
    await store.queue_alerts([(call, [email(), email("anna@acme.example", "anna")])], DOMAIN)
    await store.store_incoming(received("Need a quote"), None)
    (reply,) = await store.unalerted()
    await store.queue_alerts([(reply, [email(), email("anna@acme.example", "anna")])], DOMAIN)
    mike_first, anna_first, mike_second, anna_second = await store.due_alerts(T0, "email")
    assert (mike_first.message_id, mike_first.in_reply_to) == (f"<textback.thread1@{DOMAIN}>", None)
    assert anna_first.message_id != mike_first.message_id
    assert anna_first.message_id.startswith("<textback.thread1.")
    assert anna_first.in_reply_to is None
    assert mike_second.in_reply_to == mike_first.message_id
    assert anna_second.in_reply_to == anna_first.message_id


async def test_an_email_is_retried_when_due_and_never_after_it_is_settled(
    store: Store,
) -> None:
    await store.record_decision(decision("a"))
    await store.record_decision(decision("b", caller=OTHER, ended_at=T0 + timedelta(seconds=1)))
    news = await store.unalerted()
    first, second = await store.queue_alerts([(event, [email()]) for event in news], DOMAIN)
    retry_at = T0 + timedelta(minutes=1)
    await store.mark_alert(first, "queued", error="421 try later", retry_at=retry_at)
    assert [a.id for a in await store.due_alerts(T0, "email")] == [second]
    due = await store.due_alerts(retry_at, "email")
    assert [(a.id, a.attempts) for a in due] == [(first, 1), (second, 0)]
    await store.mark_alert(first, "sent")
    await store.mark_alert(second, "failed", error="550 no such user")
    assert await store.due_alerts(LATER, "email") == []
    for thread_id, state in ((1, "sent"), (2, "failed")):
        found = await store.thread(thread_id)
        assert found is not None
        assert [e.what for e in found[1] if e.kind == "alert"] == [
            f"missed_call alert to mike by email ({state})"
        ]


async def test_an_sms_alert_is_a_text_and_shares_its_fate(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    (call,) = await store.unalerted()
    (alert_id,) = await store.queue_alerts([(call, [sms()])], DOMAIN)
    (queued,) = await store.due_alerts(T0, "sms")
    assert queued.id == alert_id
    owner_text = next(t for t in await store.due_texts(LATER) if t.kind == "owner_alert")
    assert (owner_text.to_number, owner_text.body) == ("+15125550199", "Jane called: 512-555-9876")
    await store.mark_sending(owner_text.id, "modem")
    await store.mark_sent(owner_text.id, [9], T0)
    assert await store.due_alerts(LATER, "sms") == []
    found = await store.thread(1)
    assert found is not None
    assert [e.what for e in found[1] if e.kind == "alert"] == [
        "missed_call alert to mike by sms (sent)"
    ]
    # An owner's alert text is not a text to the caller: the thread still waits for one.
    assert [e.what for e in found[1] if e.kind == "out"] == ["text out (queued)"]


async def test_an_sms_alert_fails_with_its_text(store: Store) -> None:
    await store.record_decision(decision())
    (call,) = await store.unalerted()
    await store.queue_alerts([(call, [sms()])], DOMAIN)
    (owner_text,) = await store.due_texts(LATER)
    await store.mark_final(owner_text.id, "expired", "too late")
    assert await store.due_alerts(LATER, "sms") == []
    found = await store.thread(1)
    assert found is not None
    assert [e.what for e in found[1] if e.kind == "alert"] == [
        "missed_call alert to mike by sms (failed)"
    ]


async def test_a_stopped_owner_alert_text_is_still_an_alert(store: Store) -> None:
    """STOP from a caller cancels texts to the caller, never alerts to owners."""
    await store.record_decision(decision())
    (call,) = await store.unalerted()
    await store.queue_alerts([(call, [sms()])], DOMAIN)
    await store.set_opt_out(CALLER, opted_out=True, keyword="STOP", source="sms", at=T0)
    assert [t.kind for t in await store.due_texts(LATER)] == ["owner_alert"]
