"""What the outbox tells the bus about each attempt (the metrics count it): a
retry that certainly never left, one that may have gone out, the sent text
with its call and moment, a failure with the transport that had it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.bus import Bus
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.events import TextFailed, TextRetried, TextSent
from bridge.core.texts import OutgoingText
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.base import Handover, SendError, SendResult
from tests.support.expected import CALLER
from tests.support.polling import until
from tests.support.transports import AlwaysUp

# One moment for the store and the worker alike: the text is due at once, and sent then.
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)


class Scripted(AlwaysUp):
    """Each send raises the next scripted error, after the handover unless
    ``early``; an empty script sends."""

    name = "modem"

    def __init__(self, script: list[tuple[SendError, bool]]) -> None:
        self.script = script

    async def send(
        self, to: str, body: str, *, key: int = 0, on_handover: Handover | None = None, **_: object
    ) -> SendResult:
        error, early = self.script.pop(0) if self.script else (None, False)
        if error is not None and early:
            raise error
        if on_handover is not None:
            await on_handover(())
        if error is not None:
            raise error
        return SendResult((key % 256,), 1)


def decision(linkedid: str) -> CallDecision:
    return CallDecision(
        linkedid=linkedid, outcome=Outcome.MISSED, reason=Reason.NOANSWER, caller=CALLER,
        caller_raw=CALLER, caller_name="", line="+15125550100", line_name="Main line",
        started_at=NOW - timedelta(seconds=40), ended_at=NOW - timedelta(seconds=10),
    )  # fmt: skip


async def test_each_attempt_is_told_with_its_transport_and_the_sent_text_with_its_call(
    tmp_path: Path,
) -> None:
    events: list[object] = []
    bus = Bus()
    for kind in (TextSent, TextFailed, TextRetried):
        bus.subscribe(kind, events.append)
    transport = Scripted([
        (SendError("no network", retryable=True), True),
        (SendError("no answer from the modem", retryable=True, maybe_sent=True), False),
    ])  # fmt: skip
    sent_at = NOW + timedelta(seconds=2)
    async with await Store.open(tmp_path / "t.db", clock=lambda: sent_at) as store:
        text = OutgoingText(CALLER, "Sorry we missed your call", 1, LATER)
        assert await store.record_decision(decision("1700000000.7"), text=text)
        worker = OutboxWorker(
            store, Transports.only(transport), clock=lambda: sent_at, poll_every=0.01,
            retry_min=timedelta(0), home="US", bus=bus,
        )  # fmt: skip
        task = asyncio.create_task(worker.run())
        try:
            await until(lambda: any(isinstance(e, TextSent) for e in events))
            transport.script = [(SendError("unknown subscriber", retryable=False), False)]
            reply = OutgoingText("+15125550111", "On my way", 1, LATER, kind="reply")
            await store.queue_text(reply)
            await until(lambda: any(isinstance(e, TextFailed) for e in events))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    first, second, sent, failed = events
    assert first == TextRetried(1, "textback", "modem", maybe_sent=False)
    assert second == TextRetried(1, "textback", "modem", maybe_sent=True)
    assert sent == TextSent(1, "textback", "modem", "1700000000.7", sent_at)
    assert isinstance(failed, TextFailed)
    assert (failed.kind, failed.state, failed.transport, failed.linkedid) == (
        "reply", "failed", "modem", None,
    )  # fmt: skip
