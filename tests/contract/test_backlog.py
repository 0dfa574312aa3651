"""OpsStore: how far behind the outbox is, as the health strip and /metrics see it."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.texts import Backlog
from bridge.store import Store
from tests.support.store_values import OTHER, T0, Clock, a_text


async def test_an_empty_outbox_has_no_backlog(store: Store) -> None:
    assert await store.outbox_backlog(T0) == Backlog(0, None, 0, None)


async def test_waiting_texts_count_from_the_oldest_until_they_go(
    store: Store, clock: Clock
) -> None:
    first = await store.queue_text(a_text(body="one"))
    clock.advance(minutes=3)
    second = await store.queue_text(a_text(OTHER, body="two"))
    assert first is not None
    assert second is not None
    await store.mark_sending(first, "modem")  # handed over, unconfirmed: still waiting
    backlog = await store.outbox_backlog(clock())
    assert (backlog.queued, backlog.oldest_queued_at) == (2, T0)
    await store.mark_sent(first, [3], clock())
    backlog = await store.outbox_backlog(clock())
    assert (backlog.queued, backlog.oldest_queued_at) == (1, T0 + timedelta(minutes=3))


async def test_failures_of_the_last_hour_are_counted_newest_error_first(
    store: Store, clock: Clock
) -> None:
    old = await store.queue_text(a_text(body="old"))
    assert old is not None
    await store.mark_final(old, "failed", "no signal")
    clock.advance(hours=2)
    for body, error in (("one", "+CMS ERROR: 38"), ("two", "modem unplugged")):
        text = await store.queue_text(a_text(OTHER, body=body))
        assert text is not None
        await store.mark_retry(text, error, clock())
        await store.mark_final(text, "expired" if body == "two" else "failed", error)
        clock.advance(minutes=1)
    backlog = await store.outbox_backlog(clock())
    assert (backlog.queued, backlog.failed_last_hour) == (0, 2)
    assert backlog.last_failure == "modem unplugged"
