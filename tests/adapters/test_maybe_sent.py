"""A text that may have gone out is retried so that the network can drop a
copy (issue 10, item 2: a +CMGS that came after the send timeout).

The transport says so with ``SendError.maybe_sent``; the outbox keeps it in
the row (``Store.mark_retry(..., maybe_sent=True)``) and every later attempt
passes ``maybe_sent_before=True``: for a modem, TP-RD with the same TP-MR.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.app_settings import modem_settings
from bridge.bus import Bus
from bridge.config import ModemConfig
from bridge.core.texts import OutgoingText
from bridge.sim.modem import ModemEngine, ModemProfile
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.base import DeliveryReport, IncomingText
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.expected import CALLER
from tests.support.polling import until, until_true


async def test_a_retry_after_a_maybe_sent_failure_is_marked_maybe_sent(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with await Store.open(tmp_path / "t.db") as store:
        text_id = await store.queue_text(OutgoingText(CALLER, "hello", 1, now + timedelta(hours=1)))
        await store.mark_sending(text_id, "modem")
        await store.mark_retry(text_id, "no +CMGS in time", now, maybe_sent=True)
        (due,) = await store.due_texts(now + timedelta(seconds=1))
        assert due.maybe_sent
        await store.mark_sending(text_id, "modem")
        await store.mark_retry(text_id, "+CMS ERROR 42: congestion", now)  # a plain failure
        (due,) = await store.due_texts(now + timedelta(seconds=1))
        assert due.maybe_sent  # it may still have gone out the first time


async def test_an_ordinary_retry_is_not_maybe_sent(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with await Store.open(tmp_path / "t.db") as store:
        text_id = await store.queue_text(OutgoingText(CALLER, "hello", 1, now + timedelta(hours=1)))
        await store.mark_sending(text_id, "modem")
        await store.mark_retry(text_id, "+CMS ERROR 331: no network service", now)
        (due,) = await store.due_texts(now + timedelta(seconds=1))
        assert not due.maybe_sent


@pytest.mark.parametrize("store_and_send", [False, True], ids=["plain", "stored"])
async def test_a_text_confirmed_too_late_goes_out_once(
    tmp_path: Path, store_and_send: bool
) -> None:
    """The modem took the PDU but its +CMGS came after send_timeout. Before,
    the retry went without TP-RD and the caller got the text twice. With
    store-and-send the retry reads the slot's status instead: stored sent."""
    now = datetime.now(UTC)
    engine = ModemEngine(profile=ModemProfile(store_and_send=store_and_send))
    async with (
        SimulatedModem(tmp_path / "ttyUSB0", engine) as modem,
        await Store.open(tmp_path / "t.db") as store,
    ):
        settings = ModemConfig.model_validate(
            {"port": modem.path, "sweep_seconds": 3600, "command_timeout": 1, "send_timeout": 0.3},
            context={"region": "US"},
        )
        transport = GsmModemTransport(
            modem_settings(settings), reconnect_min=0.02, reconnect_max=0.1
        )
        worker = OutboxWorker(
            store,
            Transports.only(transport),
            clock=lambda: datetime.now(UTC),
            poll_every=0.05,
            retry_min=timedelta(milliseconds=10),
            home="US",
            bus=Bus(),
        )
        modem.engine.late_confirmation = True
        await store.queue_text(OutgoingText(CALLER, "hello", 1, now + timedelta(minutes=30)))
        tasks = [asyncio.create_task(transport.run(_Sink())), asyncio.create_task(worker.run())]
        try:
            await until(lambda: len(modem.engine.sent) == 1)  # on the air, not confirmed
            modem.engine.late_confirmation = False

            async def settled() -> bool:
                return [r["state"] for r in await store.outbox()] == ["sent"]

            await until_true(settled)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert [s.text for s in modem.engine.sent] == ["hello"]  # one text, not two
        if store_and_send:
            assert not any(c.startswith("AT+CMGS=") for c in modem.engine.commands)
            sends = [c for c in modem.engine.commands if c.startswith("AT+CMSS=")]
            assert len(sends) == 1  # the retry found the slot "stored sent": not sent again
        else:
            attempts = [c for c in modem.engine.commands if c.startswith("AT+CMGS=")]
            assert len(attempts) == 2  # the retry went, as a duplicate the SMSC dropped (197)
        (row,) = await store.outbox()
        assert (row["attempts"], row["maybe_sent"]) == (2, 1)


class _Sink:
    async def incoming_text(self, text: IncomingText) -> None:
        pytest.fail("no text expected")

    async def delivery_report(self, report: DeliveryReport) -> None:
        pass
