"""RetentionStore: prune blanks the bulky words of finished conversations
older than a moment; the rows the report counts, the opt-outs and every
running conversation stay as they were."""

from __future__ import annotations

from datetime import timedelta

from bridge.core.retention import PRUNED, Pruned
from bridge.core.texts import OwnerAction
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
    stop,
)

RECENT = "+15125550143"
OPEN_OLD = "+15125550144"


async def _history(store: Store, clock: Clock) -> None:
    """A year ago: a lead won (handled), one that said STOP, one still open;
    today: a new lead. Every text sent, every reply alerted by email."""
    for n, caller in enumerate((CALLER, OTHER, OPEN_OLD)):
        await store.record_decision(decision(f"old-{n}", caller=caller), text=a_text(caller))
    await _send_all(store)
    clock.advance(minutes=10)
    await store.store_incoming(received("Need a roof repair quote", at=clock()), None)
    await store.store_incoming(received("STOP", OTHER, at=clock()), "stop", opt_out=stop(OTHER))
    await store.store_incoming(received("Still there?", OPEN_OLD, at=clock()), None)
    await store.queue_alerts([(e, [email()]) for e in await store.unalerted()], DOMAIN)
    for alert in await store.alerts():
        await store.mark_alert(int(str(alert["id"])), "sent")
    await _send_all(store)
    await store.owner_action("mike", OwnerAction(1, "done"))
    clock.advance(days=365)
    await store.record_decision(decision("new", caller=RECENT, ended_at=clock()),
                                text=a_text(RECENT))  # fmt: skip
    await _send_all(store)
    await store.store_incoming(received("Yes please", RECENT, at=clock()), None)


async def _send_all(store: Store) -> None:
    for text in await store.due_texts(LATER):
        await store.mark_sending(text.id, "modem")
        await store.mark_sent(text.id, [text.id], T0)


async def test_prune_keeps_the_figures_the_opt_outs_and_what_is_still_running(
    store: Store, clock: Clock
) -> None:
    await _history(store, clock)
    before = await store.report(None)
    cutoff = clock() - timedelta(days=30)
    rows = (await store.inbox(), await store.outbox(), await store.alerts())
    dry = await store.prune(cutoff, dry_run=True)
    assert (await store.inbox(), await store.outbox(), await store.alerts()) == rows
    bodies = {r["id"]: r["body"] for r in rows[0]}
    pruned = await store.prune(cutoff)
    assert pruned == dry
    # The handled lead's words went: its text-back, the reply, both alerts; the
    # opted-out lead's text-back, alert and confirmation - but not the STOP itself.
    assert pruned == Pruned(alerts=3, texts_out=3, texts_in=1)
    assert await store.report(None) == before
    assert await store.is_opted_out(OTHER)
    inbox = {r["sender"]: r for r in await store.inbox()}
    assert inbox[OTHER]["body"] == "STOP"
    assert inbox[CALLER]["body"] == PRUNED
    assert inbox[OPEN_OLD]["body"] == "Still there?"  # an old lead still open: untouched
    assert inbox[RECENT]["body"] == "Yes please"
    assert {r["id"]: r["body"] for r in await store.inbox()}.keys() == bodies.keys()  # rows stay
    out = {r["to_number"]: r["body"] for r in await store.outbox() if r["kind"] == "textback"}
    assert (out[CALLER], out[OTHER]) == (PRUNED, PRUNED)
    assert out[OPEN_OLD] == out[RECENT] == "Sorry we missed your call"
    for alert in await store.alerts():
        blank = (alert["body_text"], alert["body_html"]) == (PRUNED, None)
        assert blank is (alert["thread_id"] in (1, 2))  # the open thread's alerts stay
    thread = await store.thread(4)
    assert thread is not None
    assert [e.text for e in thread[1]][1:] == ["Sorry we missed your call", "Yes please"]
    assert await store.prune(cutoff) == Pruned()  # nothing left to blank


async def test_nothing_is_pruned_that_is_younger_than_the_moment(
    store: Store, clock: Clock
) -> None:
    await _history(store, clock)
    assert await store.prune(T0 - timedelta(days=1)) == Pruned()
