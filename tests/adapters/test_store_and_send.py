"""Store-and-send: each part written to the modem's storage, sent from there,
and settled from the modem's own record after a crash (issue 15).

The transport against the simulated modem over its pty: what it asks the
modem, in what order, and what it settles from the slots an earlier attempt
kept. tests/system/test_kill9_store_and_send.py kills the real bridge at each
step of such a send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bridge.app_settings import modem_settings
from bridge.config import ModemConfig
from bridge.sim.modem import ModemEngine, ModemProfile, decode_submit
from bridge.sim.modem_pty import SimulatedModem
from sms_gateway.base import BatchText, DeliveryReport, IncomingText, SendError, SendResult
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.expected import CALLER
from tests.support.polling import until

LONG = "Sorry we missed your call - " + "we will ring you back within the hour. " * 4
STORED_UNSENT, STORED_SENT = 2, 3


class _Sink:
    async def incoming_text(self, text: IncomingText) -> None:
        self.texts.append(text)

    async def delivery_report(self, report: DeliveryReport) -> None:
        return None

    def __init__(self) -> None:
        self.texts: list[IncomingText] = []


@asynccontextmanager
async def transport_on(
    tmp_path: Path,
    engine: ModemEngine | None = None,
    *,
    held: Sequence[int] | None = (),
    sink: _Sink | None = None,
) -> AsyncIterator[tuple[GsmModemTransport, ModemEngine]]:
    """The transport, ready, on a simulated modem; ``held``: what the outbox says it holds."""
    async with SimulatedModem(tmp_path / "ttyUSB0", engine) as sim:
        config = ModemConfig.model_validate(
            {"port": sim.path, "sweep_seconds": 3600, "command_timeout": 2, "send_timeout": 10},
            context={"region": "US"},
        )
        transport = GsmModemTransport(modem_settings(config), reconnect_min=0.02)
        if held is not None:
            transport.holds(held)
        task = asyncio.create_task(transport.run(sink or _Sink()))
        try:
            async with asyncio.timeout(5):
                await transport.wait_ready()
            yield transport, sim.engine
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@asynccontextmanager
async def replugged_on(sim: SimulatedModem) -> AsyncIterator[GsmModemTransport]:
    """The transport, connected and holding nothing, on ``sim``, which the
    test unplugs and plugs in again (the transport reconnects at once)."""
    config = ModemConfig.model_validate(
        {"port": sim.path, "sweep_seconds": 3600, "command_timeout": 2},
        context={"region": "US"},
    )
    transport = GsmModemTransport(modem_settings(config), reconnect_min=0.02)
    transport.holds(())
    task = asyncio.create_task(transport.run(_Sink()))
    try:
        await until(lambda: transport.status().connected)
        yield transport
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class Handover:
    """An outbox's on_handover: records the slots, and what the modem had sent by then."""

    def __init__(self, engine: ModemEngine):
        self.engine = engine
        self.slots: list[int] = []
        self.sent_before: int | None = None

    async def __call__(self, slots: Sequence[int]) -> None:
        self.slots = list(slots)
        self.sent_before = len(self.engine.sent)


def sms_commands(engine: ModemEngine) -> list[str]:
    """The writes and sends the modem was asked for, in order (not the probes)."""
    sends = ("AT+CMGW=", "AT+CMSS=", "AT+CMGS=")
    return [c.split("=")[0] for c in engine.commands if c.startswith(sends) and "=?" not in c]


# ------------------------------------------------------------------ the transport


async def test_each_part_is_stored_and_its_slot_told_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    async with transport_on(tmp_path) as (transport, engine):
        handover = Handover(engine)
        result = await transport.send(CALLER, LONG, key=7, on_handover=handover)

        assert result.parts == 2
        assert not result.already_sent
        assert handover.sent_before == 0  # told while the parts were only stored
        assert len(handover.slots) == 2
        assert sms_commands(engine) == ["AT+CMGW", "AT+CMGW", "AT+CMSS", "AT+CMSS"]
        assert [engine.store[s][0] for s in handover.slots] == [STORED_SENT, STORED_SENT]
        assert "".join(s.text for s in engine.sent) == LONG

        await transport.release(handover.slots)
        assert not set(handover.slots) & set(engine.store)


async def test_a_text_whose_slots_say_stored_sent_is_never_sent_again(tmp_path: Path) -> None:
    async with transport_on(tmp_path, ModemEngine(smsc_honours_rd=False)) as (transport, engine):
        first = Handover(engine)
        await transport.send(CALLER, LONG, key=7, on_handover=first)
        sent = len(engine.sent)

        # As after a crash before the store heard back: the same text, maybe sent.
        again = Handover(engine)
        result = await transport.send(
            CALLER, LONG, key=7, maybe_sent_before=True, slots=first.slots, on_handover=again
        )

        assert result.already_sent
        assert len(engine.sent) == sent  # not one part more, though the SMSC ignores TP-RD
        assert again.slots == first.slots
        assert sms_commands(engine).count("AT+CMSS") == 2


async def test_each_part_is_settled_on_its_own(tmp_path: Path) -> None:
    """The first part went, the second was refused: the retry sends the second only."""
    engine = ModemEngine(smsc_honours_rd=False)
    engine.cms_errors = [None, 38]  # part 1 goes; part 2: network out of order
    async with transport_on(tmp_path, engine) as (transport, engine):
        first = Handover(engine)
        with pytest.raises(SendError) as failed:
            await transport.send(CALLER, LONG, key=9, on_handover=first)
        assert failed.value.maybe_sent
        assert failed.value.retryable
        assert [engine.store[s][0] for s in first.slots] == [STORED_SENT, STORED_UNSENT]

        again = Handover(engine)
        result = await transport.send(
            CALLER, LONG, key=9, maybe_sent_before=True, slots=first.slots, on_handover=again
        )

    assert not result.already_sent
    assert result.parts == 2
    assert [s.concat[2] for s in engine.sent if s.concat] == [1, 2]  # each part once
    assert sms_commands(engine) == ["AT+CMGW", "AT+CMGW", "AT+CMSS", "AT+CMSS", "AT+CMSS"]


async def test_a_slot_gone_or_reused_falls_back_to_a_resend_with_tp_rd(tmp_path: Path) -> None:
    async with transport_on(tmp_path) as (transport, engine):
        first = Handover(engine)
        await transport.send(CALLER, "See you at 3", key=11, on_handover=first)
        (slot,) = first.slots
        # Someone deleted it, and another text now sits in that slot.
        engine.store[slot] = (STORED_SENT, engine.sent[0].pdu.replace("5121", "5122", 1))

        again = Handover(engine)
        result = await transport.send(
            CALLER, "See you at 3", key=11, maybe_sent_before=True, slots=[slot], on_handover=again
        )

    assert again.slots != [slot]  # written anew, then sent from there
    resent = decode_submit(engine.store[again.slots[0]][1])
    assert resent.reject_duplicates
    assert resent.reference == first_reference(engine)
    assert result.already_sent  # the SMSC honours TP-RD here: it had it (CMS 197)
    assert len(engine.sent) == 1


def first_reference(engine: ModemEngine) -> int:
    return engine.sent[0].reference


async def test_a_text_withdrawn_at_the_handover_leaves_nothing_in_storage(tmp_path: Path) -> None:
    class Stopped(Exception):
        pass

    async def stop_it(slots: Sequence[int]) -> None:
        raise Stopped  # STOP landed meanwhile: the outbox refuses the handover

    async with transport_on(tmp_path) as (transport, engine):
        with pytest.raises(Stopped):
            await transport.send(CALLER, LONG, key=5, on_handover=stop_it)
        assert engine.sent == []
        assert not [s for s, (stat, _) in engine.store.items() if stat in (2, 3)]


# ------------------------------------------------------------------ a batch

OTHERS = ("+15125550142", "+15125550143")


class BatchHandover:
    """An outbox's batch on_handover: records each text's slots and what the
    modem had sent by then; lets go only ``going`` (all, if None)."""

    def __init__(self, engine: ModemEngine, going: set[int] | None = None):
        self.engine = engine
        self.going = going
        self.told: list[dict[int, list[int]]] = []
        self.sent_before: int | None = None

    async def __call__(self, slots: Mapping[int, Sequence[int]]) -> Collection[int]:
        self.told.append({key: list(kept) for key, kept in slots.items()})
        self.sent_before = len(self.engine.sent)
        return set(slots) if self.going is None else self.going & set(slots)


def a_batch(*bodies: str) -> list[BatchText]:
    numbers = (CALLER, *OTHERS)
    return [BatchText(n + 1, numbers[n], body) for n, body in enumerate(bodies)]


async def test_a_batch_is_stored_whole_and_told_once_before_anything_is_sent(
    tmp_path: Path,
) -> None:
    async with transport_on(tmp_path) as (transport, engine):
        handover = BatchHandover(engine)
        results = await transport.send_batch(a_batch("one", LONG, "three"), on_handover=handover)

        (told,) = handover.told
        assert handover.sent_before == 0  # told while every part was only stored
        assert [len(told[key]) for key in (1, 2, 3)] == [1, 2, 1]
        assert sms_commands(engine) == ["AT+CMGW"] * 4 + ["AT+CMSS"] * 4
        assert not any(c.startswith("AT+CMGD") for c in engine.commands)  # none between sends
        assert all(isinstance(r, SendResult) and not r.already_sent for r in results.values())
        assert {key: r.parts for key, r in results.items() if isinstance(r, SendResult)} == {
            1: 1, 2: 2, 3: 1,
        }  # fmt: skip
        assert sorted(s.number for s in engine.sent) == sorted([CALLER, *OTHERS, OTHERS[0]])

        slots = [slot for kept in told.values() for slot in kept]
        assert {engine.store[s][0] for s in slots} == {STORED_SENT}
        await transport.release(slots)
        assert not set(slots) & set(engine.store)


async def test_a_text_withdrawn_at_a_batch_handover_is_deleted_and_the_rest_go(
    tmp_path: Path,
) -> None:
    async with transport_on(tmp_path) as (transport, engine):
        handover = BatchHandover(engine, going={1, 3})  # a STOP cancelled the second
        results = await transport.send_batch(a_batch("one", LONG, "three"), on_handover=handover)

        assert set(results) == {1, 3}
        assert [s.text for s in engine.sent] == ["one", "three"]
        withdrawn = handover.told[0][2]
        assert not set(withdrawn) & set(engine.store)


async def test_a_batch_the_storage_cannot_hold_leaves_the_rest_out_untouched(
    tmp_path: Path,
) -> None:
    engine = ModemEngine(capacity=2)
    async with transport_on(tmp_path, engine) as (transport, engine):
        handover = BatchHandover(engine)
        results = await transport.send_batch(a_batch("one", LONG, "three"), on_handover=handover)

        assert set(results) == {1}  # the second did not fit: it and the third are the caller's
        assert list(handover.told[0]) == [1]
        assert [s.text for s in engine.sent] == ["one"]
        assert [stat for stat, _ in engine.store.values()] == [STORED_SENT]  # nothing of the rest


def told_slots(handover: BatchHandover) -> list[int]:
    return [slot for told in handover.told for kept in told.values() for slot in kept]


async def test_slots_released_for_later_stay_until_the_next_release(tmp_path: Path) -> None:
    async with transport_on(tmp_path) as (transport, engine):
        first, second = BatchHandover(engine), BatchHandover(engine)
        await transport.send_batch(a_batch("one", "two"), on_handover=first)
        transport.release_later(told_slots(first))
        await transport.send_batch(a_batch("three"), on_handover=second)

        # Nothing deleted between the batches of a burst.
        assert sms_commands(engine) == ["AT+CMGW"] * 2 + ["AT+CMSS"] * 2 + ["AT+CMGW", "AT+CMSS"]
        assert not any(c.startswith("AT+CMGD") for c in engine.commands)
        assert set(told_slots(first)) <= set(engine.store)

        await transport.release(told_slots(second))  # the drain: every settled slot goes
        assert not engine.store
        assert sum(c.startswith("AT+CMGD") for c in engine.commands) == 3


async def test_a_storage_full_of_slots_released_for_later_makes_room_for_the_next_batch(
    tmp_path: Path,
) -> None:
    engine = ModemEngine(capacity=2)
    async with transport_on(tmp_path, engine) as (transport, engine):
        first, second = BatchHandover(engine), BatchHandover(engine)
        await transport.send_batch(a_batch("one", "two"), on_handover=first)
        transport.release_later(told_slots(first))
        results = await transport.send_batch(a_batch("three", "four"), on_handover=second)

        # The full storage was emptied of the settled texts, and the batch stored whole.
        assert set(results) == {1, 2}
        assert [s.text for s in engine.sent] == ["one", "two", "three", "four"]
        assert not any(c.startswith("AT+CMGS=") for c in engine.commands)  # none went plainly
        assert sorted(told_slots(second)) == sorted(engine.store)


async def test_slots_released_for_later_while_the_modem_is_away_go_at_the_next_connection(
    tmp_path: Path,
) -> None:
    async with SimulatedModem(tmp_path / "ttyUSB0") as sim, replugged_on(sim) as transport:
        handover = BatchHandover(sim.engine)
        await transport.send_batch(a_batch("one", "two"), on_handover=handover)
        transport.release_later(told_slots(handover))
        sim.unplug()
        await until(lambda: not transport.status().connected)
        await transport.release(())  # the drain, while the modem is away
        await sim.replug()
        await until(lambda: not sim.engine.store)  # the next connection's tidy


async def test_a_refused_handover_of_a_batch_leaves_nothing_in_storage(tmp_path: Path) -> None:
    class StoreAway(Exception):
        pass

    async def refuse(slots: Mapping[int, Sequence[int]]) -> Collection[int]:
        raise StoreAway

    async with transport_on(tmp_path) as (transport, engine):
        with pytest.raises(StoreAway):
            await transport.send_batch(a_batch("one", LONG), on_handover=refuse)
        assert engine.sent == []
        assert not engine.store


async def test_a_batch_part_refused_fails_its_text_only(tmp_path: Path) -> None:
    engine = ModemEngine()
    engine.cms_errors = [None, 38]  # the first text goes; the second: network out of order
    async with transport_on(tmp_path, engine) as (transport, engine):
        handover = BatchHandover(engine)
        results = await transport.send_batch(a_batch("one", "two", "three"), on_handover=handover)

    assert isinstance(results[1], SendResult)
    assert isinstance(results[2], SendError)
    assert not results[2].maybe_sent  # refused: it never left, its slot says stored unsent
    assert isinstance(results[3], SendResult)
    assert [s.text for s in engine.sent] == ["one", "three"]


async def test_texts_of_ours_no_text_holds_are_deleted_at_connect(tmp_path: Path) -> None:
    """A crash between settling a text and deleting its slots leaves them behind."""
    engine = ModemEngine()
    async with transport_on(tmp_path, engine, held=None) as (transport, engine):
        kept, left = Handover(engine), Handover(engine)
        await transport.send(CALLER, "kept", key=1, on_handover=kept)
        await transport.send(CALLER, "left over", key=2, on_handover=left)
    engine.receive("+15125559876", "a reply waiting to be read")
    sink = _Sink()
    async with transport_on(tmp_path, engine, held=kept.slots, sink=sink) as (transport, engine):
        await until(lambda: left.slots[0] not in engine.store and bool(sink.texts))
    assert kept.slots[0] in engine.store  # an unsettled text's: kept
    assert [t.body for t in sink.texts] == ["a reply waiting to be read"]  # read, not tidied away


async def test_a_text_settled_while_the_modem_was_away_leaves_its_slots_at_the_next_connection(
    tmp_path: Path,
) -> None:
    async with SimulatedModem(tmp_path / "ttyUSB0") as sim, replugged_on(sim) as transport:
        handover = Handover(sim.engine)
        await transport.send(CALLER, "See you at 3", key=4, on_handover=handover)
        sim.unplug()
        await until(lambda: not transport.status().connected)
        await transport.release(handover.slots)  # the outbox settled it meanwhile
        await sim.replug()
        await until(lambda: not set(handover.slots) & set(sim.engine.store))


async def test_a_modem_without_store_and_send_sends_plainly_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "sms_gateway")
    engine = ModemEngine(profile=ModemProfile(store_and_send=False))
    async with SimulatedModem(tmp_path / "ttyUSB0", engine) as sim:
        config = ModemConfig.model_validate(
            {"port": sim.path, "sweep_seconds": 3600, "command_timeout": 2},
            context={"region": "US"},
        )
        transport = GsmModemTransport(modem_settings(config), reconnect_min=0.02)
        task = asyncio.create_task(transport.run(_Sink()))
        try:
            await until(lambda: transport.status().connected)
            handover = Handover(engine)
            await transport.send(CALLER, "See you at 3", key=3, on_handover=handover)
            sim.unplug()  # and back: a second start-up, on the same transport
            await until(lambda: not transport.status().connected)
            await sim.replug()
            await until(lambda: transport.status().connected)
            status = transport.status()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert handover.slots == []
    assert sms_commands(engine) == ["AT+CMGS"]
    assert "AT+CMGW" in status.extra["store_and_send"]
    notes = [r.getMessage() for r in caplog.records if "TP-RD" in r.getMessage()]
    assert len(notes) == 1  # not at every reconnect
    assert "AT+CMGW" in notes[0]


async def test_the_inbox_leaves_texts_written_to_be_sent_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "sms_gateway")
    sink = _Sink()
    async with transport_on(tmp_path) as (transport, engine):
        handover = Handover(engine)
        await transport.send(CALLER, "See you at 3", key=3, on_handover=handover)
    async with SimulatedModem(tmp_path / "ttyUSB0", engine):
        config = ModemConfig.model_validate(
            {"port": tmp_path / "ttyUSB0", "sweep_seconds": 0.05}, context={"region": "US"}
        )
        transport = GsmModemTransport(modem_settings(config))
        transport.holds(handover.slots)
        task = asyncio.create_task(transport.run(sink))
        await until(lambda: engine.commands.count("AT+CMGL=4") >= 3)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sink.texts == []
    assert handover.slots[0] in engine.store  # still held: not deleted as read
    assert not [r for r in caplog.records if "undecodable" in r.getMessage()]
