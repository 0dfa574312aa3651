"""The GSM modem transport run against the simulated modem, with a sink that
keeps what it hears."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bridge.app_settings import modem_settings
from bridge.config import ModemConfig
from bridge.sim.modem_pdus import SentPdu
from sms_gateway.base import DeliveryReport, IncomingText
from sms_gateway.gsm_modem import GsmModemTransport
from sms_gateway.settings import ModemSettings


class Sink:
    def __init__(self) -> None:
        self.texts: list[IncomingText] = []
        self.reports: list[DeliveryReport] = []
        self._changed = asyncio.Event()

    async def incoming_text(self, text: IncomingText) -> None:
        self.texts.append(text)
        self._changed.set()

    async def delivery_report(self, report: DeliveryReport) -> None:
        self.reports.append(report)
        self._changed.set()

    async def wait_for(self, texts: int = 0, reports: int = 0) -> None:
        async with asyncio.timeout(5):
            while len(self.texts) < texts or len(self.reports) < reports:
                self._changed.clear()
                await self._changed.wait()


def settings_for(path: Path, **overrides: object) -> ModemSettings:
    """As a config file would say it, validated, then as the app hands it over."""
    values: dict[str, object] = {"port": path, "sweep_seconds": 3600, "command_timeout": 1}
    values.update(overrides)
    return modem_settings(ModemConfig.model_validate(values, context={"region": "US"}))


class Running:
    def __init__(self, transport: GsmModemTransport, sink: Sink):
        self.transport = transport
        self.sink = sink

    async def ready(self) -> None:
        async with asyncio.timeout(5):
            await self.transport.wait_ready()


@asynccontextmanager
async def run_transport(settings: ModemSettings) -> AsyncIterator[Running]:
    transport = GsmModemTransport(settings, reconnect_min=0.02, reconnect_max=0.1)
    sink = Sink()
    task = asyncio.create_task(transport.run(sink))
    try:
        yield Running(transport, sink)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def whole_texts(sent: list[SentPdu], number: str) -> list[str]:
    """What the simulated modem sent to ``number``, a long text's parts joined."""
    texts: list[str] = []
    parts: dict[int, list[SentPdu]] = {}
    for pdu in sent:
        if pdu.number != number:
            continue
        if pdu.concat is None:
            texts.append(pdu.text)
            continue
        ref, total, _ = pdu.concat
        parts.setdefault(ref, []).append(pdu)
        if len(parts[ref]) == total:
            texts.append(
                "".join(p.text for p in sorted(parts.pop(ref), key=lambda p: p.concat or ()))
            )
    return texts
