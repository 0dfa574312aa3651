"""A storm: missed calls arrive while the modem is busy, and the owner's SMS
alerts for them are due at the same time. Every text-back reaches the
transport before any owner alert, and the owner's alerts come batched - each
alert settled as sent with the text that carried it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

from bridge.alerts import batch as alert_batch
from bridge.bus import Bus
from bridge.config import Config
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.base import SendResult
from tests.support.polling import until_true
from tests.support.store_values import DOMAIN, T0, Clock, a_text, decision, sms
from tests.support.transports import AlwaysUp

OWNER = "+15125550199"
CONFIG = Config.model_validate(
    {
        "business": {"name": "Acme Roofing", "timezone": "America/Chicago"},
        "ami": {"username": "textback", "secret": "s3cret-enough"},
        "lines": [{"did": "+15125550100", "name": "Main line"}],
    },
    context={"region": "US"},
)


class _Modem(AlwaysUp):
    """Sends in the order it is handed texts; while the first goes out, the
    storm goes on (``during_first`` queues more calls)."""

    name = "modem"

    def __init__(self, during_first: Callable[[], Awaitable[None]]) -> None:
        self.sent: list[tuple[str, str]] = []
        self._during_first = during_first

    async def send(self, to: str, body: str, **kw: object) -> SendResult:
        on_handover = kw["on_handover"]
        assert callable(on_handover)
        await on_handover(())
        if not self.sent:
            await self._during_first()
        self.sent.append((to, body))
        return SendResult((len(self.sent),), 1)


async def _calls(store: Store, first: int, count: int) -> None:
    """``count`` missed calls with their text-backs, each with the owner's SMS alert."""
    for n in range(first, first + count):
        caller = f"+1512555{2000 + n:04d}"
        await store.record_decision(decision(f"call-{n}", caller=caller), text=a_text(caller))
    events = await store.unalerted()
    await store.queue_alerts([(e, [sms(OWNER)]) for e in events], DOMAIN)


async def test_text_backs_go_first_and_owner_alerts_come_batched(tmp_path: Path) -> None:
    clock = Clock(T0)  # the calls' moment: their text-backs are inside their window
    async with await Store.open(tmp_path / "t.db", clock=clock) as store:
        await _calls(store, 0, 4)

        async def storm() -> None:
            await _calls(store, 4, 4)
            worker.wake()  # as the app wires it: each text queued publishes TextQueued

        modem = _Modem(during_first=storm)
        worker = OutboxWorker(
            store, Transports.only(modem), clock=clock, poll_every=0.05,
            home="US", bus=Bus(), batch=functools.partial(alert_batch.batch, CONFIG),
        )  # fmt: skip
        task = asyncio.create_task(worker.run())
        try:

            async def settled() -> bool:
                return all(a["state"] == "sent" for a in await store.alerts())

            await until_true(settled)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        texts = await store.outbox(limit=100)
    to_owner = [body for to, body in modem.sent if to == OWNER]
    callers = [to for to, _ in modem.sent if to != OWNER]
    assert len(callers) == 8  # every caller, the four who called while the modem was busy too
    assert [to for to, _ in modem.sent[:8]] == callers  # ... before any owner alert
    # Eight alerts: one text of five and one of three (at most five a text).
    assert [body.split(":", 2)[1] for body in to_owner] == [" 5 missed calls", " 3 missed calls"]
    assert "+3 more to follow." in to_owner[0]
    assert to_owner[0].count("#") == 5
    assert len(to_owner[0]) <= 459
    carried = [t for t in texts if t["kind"] == "owner_alert" and t["alert_id"] is not None]
    assert len(carried) == 8
    assert {t["state"] for t in carried} == {"sent"}
