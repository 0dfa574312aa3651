"""The recorder while the store refuses writes (a database away): detection
goes on, decisions are held in order and written once when the store is
back, the hold is bounded (open-call states go first), and the recorder says
when it went and came back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from bridge.bus import Bus
from bridge.core.calls import CallDecision, OpenCall
from bridge.core.events import CallDecided, StoreFailed
from bridge.core.recording import Plan, Recorded
from bridge.core.texts import History
from bridge.detection.recorder import DecisionRecorder
from bridge.store import StoreUnavailable
from tests.support.polling import until
from tests.support.store_values import decision

T0 = datetime(2026, 12, 2, 15, 2, tzinfo=UTC)


class AwayStore:
    """A RecorderStore that refuses every write while ``away``."""

    def __init__(self) -> None:
        self.away = True
        self.tries = 0
        self.written: list[str] = []  # linkedids, "open:" + linkedid for a call's state

    async def record_in_order(
        self, items: Sequence[OpenCall | CallDecision], plan: Plan, now: datetime, *,
        dry_run: bool = False,
    ) -> list[Recorded]:  # fmt: skip
        self.tries += 1
        if self.away:
            raise StoreUnavailable("the PostgreSQL server cannot be reached")
        recorded = []
        for item in items:
            if isinstance(item, OpenCall):
                self.written.append(f"open:{item.linkedid}")
                continue
            self.written.append(item.linkedid)
            recorded.append(Recorded(item, True, plan(item, lambda number: History())))
        return recorded


def recorder_on(store: AwayStore, bus: Bus, *, hold: int = 10_000) -> DecisionRecorder:
    return DecisionRecorder(
        store,  # type: ignore[arg-type] -- the one method the recorder calls
        lambda d, history, now: (None, "not texted here"),
        bus,
        clock=lambda: T0,
        describe=lambda d: d.linkedid,
        retry_min=0.001,
        hold=hold,
    )


@contextlib.asynccontextmanager
async def running(recorder: DecisionRecorder) -> AsyncIterator[None]:
    task = asyncio.create_task(recorder.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def opened(linkedid: str) -> OpenCall:
    return OpenCall(linkedid, "{}", T0)


async def test_decisions_are_held_while_the_store_is_away_and_written_once_in_order() -> None:
    store, bus = AwayStore(), Bus()
    decided: list[str] = []
    failures: list[StoreFailed] = []
    bus.subscribe(CallDecided, lambda e: decided.append(e.decision.linkedid))
    bus.subscribe(StoreFailed, failures.append)
    recorder = recorder_on(store, bus)
    async with running(recorder):
        recorder.put(decision("a"))
        await until(lambda: store.tries >= 3)  # retried, and still refused
        for item in (opened("b"), decision("b"), decision("c")):
            recorder.put(item)  # detection never waits for the store
        assert recorder.away_since == T0
        assert recorder.held == 3
        assert decided == []  # nothing acts on a decision before it is committed
        store.away = False
        await until(lambda: decided == ["a", "b", "c"])
        # Each once, in order; b's state is not written only to be closed by its decision.
        assert store.written == ["a", "b", "c"]
        assert (recorder.away_since, recorder.held) == (None, 0)
    assert failures
    assert {f.error for f in failures} == {"StoreUnavailable"}


async def test_a_full_hold_lets_calls_in_progress_go_first_then_the_oldest_decision() -> None:
    store, bus = AwayStore(), Bus()
    recorder = recorder_on(store, bus, hold=4)
    for item in (opened("1"), decision("1"), opened("2"), decision("2"), decision("3")):
        recorder.put(item)
    assert recorder.dropped == 1  # the oldest call-in-progress state
    recorder.put(decision("4"))  # the other state goes
    recorder.put(decision("5"))  # only decisions left: the oldest goes, logged
    assert (recorder.dropped, recorder.held) == (3, 4)
    store.away = False
    async with running(recorder):
        await until(lambda: len(store.written) == 4)
    assert store.written == ["2", "3", "4", "5"]


async def test_a_backlog_writes_the_decisions_then_each_open_calls_latest_state() -> None:
    """One statement for the states, not one per run between decisions; a
    call decided in the same backlog keeps no state (its decision closes it)."""
    store, bus = AwayStore(), Bus()
    store.away = False
    recorder = recorder_on(store, bus)
    ringing = OpenCall("x", '{"ringing": 1}', T0)
    later = OpenCall("x", '{"ringing": 2}', T0)
    backlog = (opened("a"), ringing, decision("a"), opened("y"), later, decision("b"), opened("b"))
    for item in backlog:
        recorder.put(item)
    written: list[Sequence[OpenCall | CallDecision]] = []
    record = store.record_in_order

    async def recording(
        items: Sequence[OpenCall | CallDecision], *a: object, **k: bool
    ) -> list[Recorded]:
        written.append(list(items))
        return await record(items, *a, **k)  # type: ignore[arg-type]

    store.record_in_order = recording  # type: ignore[method-assign]
    async with running(recorder):
        await until(lambda: bool(written))
    assert written == [[decision("a"), decision("b"), opened("y"), later, opened("b")]]
