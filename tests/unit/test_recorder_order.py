"""The recorder in a burst: the texts of a commit go before anything else the
recorder does - the outbox, woken by them, reads them before the decisions
are logged and told, and before the burst's next transaction takes the
store's one connection (issue 14 item 6)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bridge.bus import Bus
from bridge.core.calls import CallDecision, OpenCall
from bridge.core.events import CallDecided, TextQueued
from bridge.core.recording import Plan, Recorded
from bridge.core.texts import History, OutgoingText
from bridge.detection.recorder import DECISIONS_AT_ONCE, DecisionRecorder
from tests.support.polling import until
from tests.support.store_values import decision

T0 = datetime(2026, 12, 2, 15, 2, tzinfo=UTC)


class SlowStore:
    """A RecorderStore whose first write waits for ``go``; each write logged."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.go = asyncio.Event()

    async def record_in_order(
        self, items: Sequence[OpenCall | CallDecision], plan: Plan, now: datetime, *,
        dry_run: bool = False,
    ) -> list[Recorded]:  # fmt: skip
        decisions = [item for item in items if isinstance(item, CallDecision)]
        self.log.append("write " + " ".join(d.linkedid for d in decisions))
        await self.go.wait()
        return [Recorded(d, True, plan(d, lambda number: History())) for d in decisions]


async def test_the_outbox_reads_a_commits_texts_before_the_next_write_and_the_logging() -> None:
    log: list[str] = []
    store, bus, woken = SlowStore(log), Bus(), asyncio.Event()
    bus.subscribe(TextQueued, lambda e: woken.set())
    bus.subscribe(CallDecided, lambda e: log.append(f"told {e.decision.linkedid}"))
    text = OutgoingText("+15125550142", "Sorry we missed you", 1, T0 + timedelta(hours=1))
    recorder = DecisionRecorder(
        store,  # type: ignore[arg-type] -- the one method the recorder calls
        lambda d, history, now: (text, None),
        bus,
        clock=lambda: T0,
        describe=lambda d: d.linkedid,
    )

    async def outbox() -> None:  # as the outbox worker: woken, it asks for the queue
        await woken.wait()
        log.append("outbox reads")

    reader = asyncio.create_task(outbox())
    task = asyncio.create_task(recorder.run())
    try:
        recorder.put(decision("a"))
        await until(lambda: log == ["write a"])
        for linkedid in ("b", "c"):  # the burst goes on while a is written
            recorder.put(decision(linkedid))
        store.go.set()
        await until(lambda: len(log) == 6)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await reader

    assert log == ["write a", "outbox reads", "told a", "write b c", "told b", "told c"]


async def test_a_burst_is_written_a_batch_of_decisions_at_a_time_in_order() -> None:
    log: list[str] = []
    store = SlowStore(log)
    recorder = DecisionRecorder(
        store,  # type: ignore[arg-type] -- the one method the recorder calls
        lambda d, history, now: (None, "why not"),
        Bus(),
        clock=lambda: T0,
        describe=lambda d: d.linkedid,
    )
    burst = [str(n) for n in range(2 * DECISIONS_AT_ONCE + 5)]
    for linkedid in burst:  # all of it waits before the first write
        recorder.put(decision(linkedid))
    store.go.set()
    task = asyncio.create_task(recorder.run())
    try:
        await until(lambda: len(log) == 3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    written = [line.removeprefix("write ").split() for line in log]
    assert [len(batch) for batch in written] == [DECISIONS_AT_ONCE, DECISIONS_AT_ONCE, 5]
    assert [linkedid for batch in written for linkedid in batch] == burst
