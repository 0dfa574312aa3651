"""A text the transport cannot send - or chokes on - fails visibly, and every
text behind it still goes out: one bad text never stalls the outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.app_settings import modem_settings
from bridge.bus import Bus
from bridge.config import ModemConfig
from bridge.core.texts import OutgoingText
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.base import DeliveryReport, IncomingText, SendResult
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.expected import CALLER
from tests.support.polling import until_true
from tests.support.transports import AlwaysUp

LATER = datetime.now(UTC) + timedelta(minutes=30)


class _Sink:
    async def incoming_text(self, text: IncomingText) -> None:
        return None

    async def delivery_report(self, report: DeliveryReport) -> None:
        return None


async def states(store: Store) -> dict[str, tuple[object, object]]:
    return {str(r["body"]): (r["state"], r["last_error"]) for r in await store.outbox()}


async def test_a_text_the_modem_cannot_encode_fails_and_the_next_goes(tmp_path: Path) -> None:
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        config = ModemConfig.model_validate(
            {"port": sim.path, "sweep_seconds": 3600}, context={"region": "US"}
        )
        transport = GsmModemTransport(modem_settings(config), reconnect_min=0.02)
        worker = OutboxWorker(
            store, Transports.only(transport), clock=lambda: datetime.now(UTC),
            poll_every=0.05, home="US", bus=Bus(),
        )  # fmt: skip
        await store.queue_text(OutgoingText(CALLER, "Haÿ, on my way", 1, LATER, kind="reply"))
        await store.queue_text(OutgoingText(CALLER, "See you at 3", 1, LATER, kind="reply"))
        tasks = [asyncio.create_task(transport.run(_Sink())), asyncio.create_task(worker.run())]
        try:

            async def settled() -> bool:
                return [s for s, _ in (await states(store)).values()] == ["sent", "failed"]

            await until_true(settled)
            found = await states(store)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    state, why = found["Haÿ, on my way"]
    assert state == "failed"
    assert str(why).startswith("the text cannot be encoded")
    assert [s.text for s in sim.engine.sent] == ["See you at 3"]


class _Choking(AlwaysUp):
    """A transport with a bug: it raises on every text that mentions a pipe."""

    name = "choking"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, to: str, body: str, **_: object) -> SendResult:
        if "pipe" in body:
            raise KeyError("a bug in the transport")
        self.sent.append(body)
        return SendResult((1,), 1)


async def test_a_transport_that_crashes_on_one_text_leaves_the_rest_flowing(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        transport = _Choking()
        worker = OutboxWorker(
            store, Transports.only(transport), clock=lambda: datetime.now(UTC),
            poll_every=0.05, home="US", bus=Bus(),
        )  # fmt: skip
        await store.queue_text(OutgoingText(CALLER, "burst pipe - on my way", 1, LATER))
        await store.queue_text(OutgoingText(CALLER, "see you at 3", 1, LATER))
        task = asyncio.create_task(worker.run())
        try:

            async def settled() -> bool:
                return sorted(s for s, _ in (await states(store)).values()) == ["failed", "sent"]

            await until_true(settled)
            found = await states(store)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert found["burst pipe - on my way"] == ("failed", "choking failed: KeyError")
    assert transport.sent == ["see you at 3"]
