"""OutboxStore's batches: owner SMS alerts due together carried by one text,
sharing its fate; only alerts nothing of which can have gone out."""

from __future__ import annotations

from bridge.store import Store
from tests.support.store_values import DOMAIN, LATER, OTHER, T0, decision, sms

OWNER = "+15125550199"


async def _three_alerts(store: Store) -> list[int]:
    for n in range(3):
        await store.record_decision(decision(f"c{n}", caller=f"+1512555{2000 + n:04d}"))
    await store.queue_alerts([(e, [sms(OWNER)]) for e in await store.unalerted()], DOMAIN)
    return [t.id for t in await store.due_texts(LATER)]


async def test_a_batch_carries_alerts_and_they_are_sent_with_it(store: Store) -> None:
    await _three_alerts(store)
    due = await store.owner_alerts_due(OWNER, T0)
    assert [a.thread_id for a in due] == [1, 2, 3]
    assert await store.owner_alerts_due(OTHER, T0) == []
    batch = await store.queue_batch(OWNER, due[:2], "textback: 2 missed calls", 1)
    assert batch is not None
    assert [t.id for t in await store.due_texts(LATER)] == [due[2].text_id, batch.id]
    assert [a.text_id for a in await store.owner_alerts_due(OWNER, T0)] == [due[2].text_id]
    await store.mark_sending(batch.id, "modem")
    await store.mark_sent(batch.id, [9], T0)
    states = [(a["state"], a["sent_at"] is not None) for a in await store.alerts()]
    assert states == [("sent", True), ("sent", True), ("queued", False)]
    rows = {r["id"]: r["state"] for r in await store.outbox()}
    assert [rows[a.text_id] for a in due] == ["sent", "sent", "queued"]


async def test_a_batch_that_fails_fails_what_it_carries(store: Store) -> None:
    await _three_alerts(store)
    due = await store.owner_alerts_due(OWNER, T0)
    batch = await store.queue_batch(OWNER, due, "textback: 3 missed calls", 1)
    assert batch is not None
    await store.mark_final(batch.id, "expired", "too late")
    assert {a["state"] for a in await store.alerts()} == {"failed"}
    assert await store.due_texts(LATER) == []


async def test_an_alert_handed_to_a_transport_is_never_carried(store: Store) -> None:
    first, *_ = await _three_alerts(store)
    due = await store.owner_alerts_due(OWNER, T0)
    await store.mark_sending(first, "modem")
    assert await store.queue_batch(OWNER, due, "textback: 3 missed calls", 1) is None
    assert len(await store.outbox()) == 3  # nothing written
    assert first not in [a.text_id for a in await store.owner_alerts_due(OWNER, T0)]


async def test_an_owner_opting_out_fails_the_alerts_queued_to_them_batched_or_not(
    store: Store,
) -> None:
    await _three_alerts(store)
    due = await store.owner_alerts_due(OWNER, T0)
    assert await store.queue_batch(OWNER, due[:2], "textback: 2 missed calls", 1) is not None
    await store.set_opt_out(OWNER, opted_out=True, keyword="STOP", source="sms", at=T0)
    assert await store.due_texts(LATER) == []
    alerts = await store.alerts()
    assert [a["state"] for a in alerts] == ["failed", "failed", "failed"]  # none left queued
    assert {a["last_error"] for a in alerts} == {"text cancelled: opted out"}
