"""ReportStore and RecordsStore: the recovered-lead figures, and rows as the
schema names their columns."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.calls import Outcome
from bridge.core.texts import OwnerAction
from bridge.store import Store
from tests.support.store_values import (
    DOMAIN,
    LATER,
    OTHER,
    T0,
    Clock,
    a_text,
    decision,
    email,
    received,
)

THIRD = "+15125550143"


async def test_the_report_counts_what_the_text_back_recovered(store: Store, clock: Clock) -> None:
    await store.record_decision(decision("won"), text=a_text())
    await store.record_decision(decision("quiet", caller=OTHER), text=a_text(OTHER))
    await store.record_decision(decision("unsent", caller=THIRD), text=a_text(THIRD))
    await store.record_decision(decision("rehearsal", caller=THIRD), dry_run=True)
    await store.record_decision(decision("picked-up", outcome=Outcome.ANSWERED, reason=None))
    for text in await store.due_texts(LATER):
        if text.to_number != THIRD:
            await store.mark_sending(text.id, "modem")
            await store.mark_sent(text.id, [text.id], T0)
    clock.advance(minutes=10)
    await store.store_incoming(received("Yes please", at=clock()), None)
    await store.store_incoming(received("STOP", OTHER, at=clock()), "stop")  # no reply
    clock.advance(minutes=20)
    await store.owner_action("mike", OwnerAction(1, "called"))
    figures = await store.report(None)
    assert (figures.missed_calls, figures.texted, figures.replied, figures.handled) == (3, 2, 1, 1)
    assert figures.first_action_waits == [timedelta(minutes=30)]
    later = await store.report(T0 + timedelta(minutes=1))
    assert (later.missed_calls, later.texted, later.replied, later.handled) == (0, 0, 0, 0)
    assert later.first_action_waits == []


async def test_records_are_rows_named_as_the_schema_names_them(store: Store) -> None:
    await store.record_decision(decision(), text=a_text())
    await store.store_incoming(received("hi", network_time=T0), None)
    (event,) = [e for e in await store.unalerted() if e.kind == "reply"]
    await store.queue_alerts([(event, [email()])], DOMAIN)
    (text,) = await store.outbox()
    assert {key: text[key] for key in ("kind", "to_number", "state", "thread_id")} == {
        "kind": "textback", "to_number": "+15125559876", "state": "queued", "thread_id": 1,
    }  # fmt: skip
    (incoming,) = await store.inbox()
    assert (incoming["sender"], incoming["body"]) == ("+15125559876", "hi")
    assert (incoming["keyword"], incoming["thread_id"]) == (None, 1)
    (alert,) = await store.alerts()
    assert (alert["kind"], alert["channel"], alert["state"]) == ("reply", "email", "queued")
    assert await store.alerts(thread_id=2) == []
    await store.queue_text(a_text(OTHER, kind="confirmation"))
    assert [row["to_number"] for row in await store.outbox()] == [OTHER, "+15125559876"]
    assert len(await store.outbox(limit=1)) == 1
