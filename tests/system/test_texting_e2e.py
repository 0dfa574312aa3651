"""Missed call on the AMI socket -> text out of the simulated modem, and back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.app_settings import modem_settings
from bridge.bus import Bus
from bridge.core.texts import OutgoingText
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.expected import CALLER, trace
from tests.support.office import Office, config_for, office
from tests.support.polling import until, until_true


async def test_a_missed_call_is_texted_back_once(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        decision = await o.missed_call(trace("05_ringgroup_noanswer.ami"))
        await until(lambda: len(o.modem.engine.sent) >= 1)
        (texted,) = o.modem.engine.sent
        assert texted.number == CALLER
        assert texted.text == (
            "Sorry we missed your call - this is Mike at Acme Roofing. What can we help with? "
            "Reply here and we'll get right back to you. Reply STOP to opt out."
        )
        stored = await o.bridge.store.call(decision.linkedid)
        await until(lambda: o.bridge.outbox is not None and o.bridge.outbox.sent == 1)
        stored = await o.bridge.store.call(decision.linkedid)
        assert stored is not None
        assert stored.text_state == "sent"
        # The network reports it delivered.
        o.modem.status_report(1, CALLER)
        await until_state(o, decision.linkedid, "delivered")


async def until_state(o: Office, linkedid: str, state: str) -> None:
    async def reached() -> bool:
        row = await o.bridge.store.call(linkedid)
        return row is not None and row.text_state == state

    await until_true(reached)


async def test_answered_internal_and_withheld_calls_are_not_texted(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        for scenario in (
            trace("01_answered.ami"),
            trace("13_internal_call.ami"),
            callgen.render("anonymous"),
        ):
            await o.missed_call(scenario)
        marker = await o.missed_call(trace("02_noanswer.ami"))  # one that is texted, last
        await until(lambda: len(o.modem.engine.sent) == 1)
        assert [s.number for s in o.modem.engine.sent] == [CALLER]
        assert marker.caller == CALLER


async def test_the_same_caller_twice_gets_one_text(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        await o.missed_call(trace("02_noanswer.ami"))
        await o.missed_call(trace("03_busy.ami"))
        await until(lambda: o.bridge.outbox is not None and o.bridge.outbox.sent == 1)
        calls = await o.bridge.store.recent_calls()
        assert sorted(c.text_skip or c.text_state or "" for c in calls) == [
            "sent",
            "texted-recently",
        ]


async def _inbox_holds(o: Office, texts: int) -> bool:
    return len(await o.bridge.store.inbox()) == texts


async def test_stop_is_honoured_forever_with_one_confirmation(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        o.modem.receive(CALLER, "Stop.")
        await until(lambda: len(o.modem.engine.sent) == 1)
        assert "unsubscribed" in o.modem.engine.sent[0].text
        o.modem.receive(CALLER, "STOP")  # again: no second confirmation
        # Both STOPs stored, and deleted from the modem (with the confirmation's slot).
        await until_true(lambda: _inbox_holds(o, 2))
        await until(lambda: len(o.modem.engine.store) == 0)
        decision = await o.missed_call(trace("02_noanswer.ami"))
        stored = await o.bridge.store.call(decision.linkedid)
        assert stored is not None
        assert stored.text_skip == "opted-out"
        o.modem.receive(CALLER, "HELP")
        await until(lambda: len(o.modem.engine.sent) == 2)
        assert "Acme Roofing" in o.modem.engine.sent[1].text
        assert "(512) 555-0100" in o.modem.engine.sent[1].text
        inbox = await o.bridge.store.inbox()
        assert [row["keyword"] for row in reversed(inbox)] == ["stop", "stop", "help"]
        # An auto-responder answering with HELP cannot start a loop: at most 3
        # automatic answers to a number in 10 minutes (the STOP one counts).
        for _ in range(3):
            o.modem.receive(CALLER, "HELP")
        await until_true(lambda: _inbox_holds(o, 6))

        async def answers_settled() -> bool:
            rows = await o.bridge.store.outbox()
            return len(rows) == 3 and all(r["state"] == "sent" for r in rows)

        await until_true(answers_settled)
        assert len(o.modem.engine.sent) == 3


async def test_an_ordinary_reply_is_stored(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        o.modem.receive(CALLER, "Need a roof repair quote, Zoë here 🏠")
        await until(lambda: o.modem.engine.deleted == [1])
        (row,) = await o.bridge.store.inbox()
        assert (row["sender"], row["body"], row["keyword"]) == (
            CALLER, "Need a roof repair quote, Zoë here 🏠", None,
        )  # fmt: skip


async def test_a_retryable_modem_error_is_retried_and_sent_once(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        assert o.bridge.outbox is not None
        o.bridge.outbox._retry = (timedelta(milliseconds=10), timedelta(milliseconds=50))
        o.modem.engine.cms_errors = [331, 42]
        decision = await o.missed_call(trace("02_noanswer.ami"))
        await until_state(o, decision.linkedid, "sent")
        assert len(o.modem.engine.sent) == 1


async def test_a_permanent_error_fails_visibly(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        o.modem.engine.cms_errors = [30]
        decision = await o.missed_call(trace("02_noanswer.ami"))
        await until_state(o, decision.linkedid, "failed")
        (row,) = await o.bridge.store.outbox()
        assert "unknown subscriber" in str(row["last_error"])


# --- the worker alone, with an injected clock -------------------------------------------


async def test_a_text_too_late_to_matter_expires_unsent(tmp_path: Path) -> None:
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as modem,
        await Store.open(tmp_path / "t.db") as store,
    ):
        config = config_for(FakeAsterisk(port=1), modem.path, tmp_path / "t.db")
        assert config.modem is not None
        # The store stamps queued texts with the real time; the worker's clock is
        # an hour ahead of it, so the text is due and already past its window.
        now = datetime.now(UTC) + timedelta(hours=1)
        await store.queue_text(OutgoingText(CALLER, "hello", 1, now - timedelta(minutes=1)))
        worker = OutboxWorker(
            store,
            Transports.only(GsmModemTransport(modem_settings(config.modem))),
            clock=lambda: now,
            home="US",
            bus=Bus(),
        )
        task = asyncio.create_task(worker.run())
        try:

            async def expired() -> bool:
                return (await store.outbox())[0]["state"] == "expired"

            await until_true(expired)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert modem.engine.sent == []
        assert (await store.outbox())[0]["attempts"] == 0  # the modem was never up: none spent


async def test_texts_interrupted_mid_send_are_retried_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    async with await Store.open(path) as store:
        text_id = await store.queue_text(
            OutgoingText(CALLER, "hello", 1, datetime.now(UTC) + timedelta(minutes=30))
        )
        await store.mark_sending(text_id, "modem")  # and then the process died
    async with SimulatedModem(tmp_path / "ttyUSB0") as modem, await Store.open(path) as store:
        config = config_for(FakeAsterisk(port=1), modem.path, path)
        assert config.modem is not None
        transport = GsmModemTransport(modem_settings(config.modem))
        worker = OutboxWorker(
            store, Transports.only(transport), clock=lambda: datetime.now(UTC), home="US", bus=Bus()
        )
        tasks = [asyncio.create_task(transport.run(_NoSink())), asyncio.create_task(worker.run())]
        try:
            await until(lambda: worker.sent == 1)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert [s.text for s in modem.engine.sent] == ["hello"]
        (row,) = await store.outbox()
        assert (row["state"], row["attempts"]) == ("sent", 2)


class _NoSink:
    async def incoming_text(self, text: object) -> None:
        pytest.fail("no text expected")

    async def delivery_report(self, report: object) -> None:
        pass


# --- threads -----------------------------------------------------------------------------


async def test_a_conversation_is_one_thread(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        store = o.bridge.store
        await o.missed_call(trace("02_noanswer.ami"))
        await until(lambda: len(o.modem.engine.sent) == 1)

        async def status_is(wanted: str) -> bool:
            rows = await store.threads()
            return bool(rows) and rows[0].status == wanted

        await until_true(lambda: status_is("awaiting_reply"))
        await o.missed_call(trace("03_busy.ami"))  # the same caller again: same thread
        o.modem.receive(CALLER, "Need a roof repair quote")
        await until_true(lambda: status_is("replied"))
        (thread,) = await store.threads()
        assert (thread.id, thread.caller, thread.calls) == (1, CALLER, 2)
        assert thread.last_reply == "Need a roof repair quote"
        found = await store.thread(1)
        assert found is not None
        whats = [event.what for event in found[1]]
        assert whats == ["missed call", "text out (sent)", "missed call", "text in"]
        o.modem.receive(CALLER, "STOP")
        await until_true(lambda: status_is("opted_out"))
        # A closed thread is not joined: the next conversation is a new one.
        o.modem.receive(CALLER, "START")
        await until_true(lambda: _count_threads(store, 2))


async def _count_threads(store: Store, wanted: int) -> bool:
    return len(await store.threads()) == wanted
