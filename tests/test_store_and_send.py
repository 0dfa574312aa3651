"""Store-and-send: each part written to the modem's storage, sent from there,
and settled from the modem's own record after a crash (issue 15).

The first half runs the transport against the simulated modem in this
process: what it asks the modem, in what order, and what it settles from the
slots an earlier attempt kept. The second half runs the real `textback run`
process and kills it with SIGKILL at each step of a send, against an SMS
centre that ignores TP-RD (so a second copy would reach the caller): exactly
one text every time, and what holds on a modem without store-and-send.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bridge.app_settings import modem_settings
from bridge.config import ModemConfig
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem import ModemEngine, ModemProfile, SimulatedModem, decode_submit
from sms_gateway.base import DeliveryReport, IncomingText, SendError
from sms_gateway.gsm_modem import GsmModemTransport
from tests.conftest import SECRET, example_config, until
from tests.expected import CALLER, trace

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


# ------------------------------------------------------------------ kill -9 at every step


@asynccontextmanager
async def bridge_process(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "AMI_SECRET": SECRET},
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


def textback_states(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        query = "SELECT state FROM outbox WHERE kind = 'textback' ORDER BY id"
        return [row[0] for row in conn.execute(query)]


def kill_when(engine: ModemEngine, process: Callable[[], int], moment: Moment) -> None:
    """SIGKILL the bridge the instant the modem has done what ``moment`` looks
    for (its answer, if any, is written to the port right after: too late)."""
    feed = engine.feed

    def feeding(data: bytes) -> bytes:
        before = len(engine.commands)
        reply = feed(data)
        if moment(engine, engine.commands[before:]):
            os.kill(process(), signal.SIGKILL)
        return reply

    engine.feed = feeding  # type: ignore[method-assign]


def kill_on_confirmation(engine: ModemEngine, process: Callable[[], int]) -> None:
    """SIGKILL the bridge just after the modem wrote its delayed confirmation
    to the port: the bridge may have read it, but has not stored it."""
    confirm = engine.confirm

    def confirming() -> bytes:
        reply = confirm()
        if b"+CMSS:" in reply or b"+CMGS:" in reply:
            asyncio.get_running_loop().call_soon(os.kill, process(), signal.SIGKILL)
        return reply

    engine.confirm = confirming  # type: ignore[method-assign]


def leave_alone(engine: ModemEngine) -> None:
    for name in ("feed", "confirm"):
        vars(engine).pop(name, None)


Moment = Callable[[ModemEngine, list[str]], bool]


def lab_config(tmp_path: Path, port: int, modem: Path, *, sip_first: bool = False) -> Path:
    config = example_config(tmp_path, port, modem=modem)
    if sip_first:
        text = config.read_text().replace(
            "    # transports: [sip, modem]", "    transports: [sip, modem]"
        )
        text += "sip:\n  endpoint: provider-trunk\n  host: sip.provider.example\n"
        config.write_text(text)
    return config


def _ours(engine: ModemEngine) -> list[int]:
    return [slot for slot, (stat, _) in engine.store.items() if stat in (2, 3)]


def _on_the_air(engine: ModemEngine, new: list[str]) -> bool:
    return engine.owed_confirmation is not None


MOMENTS: dict[str, Moment | None] = {
    # The part is in storage, "stored unsent"; the outbox has not heard of the slot.
    "after AT+CMGW": lambda engine, new: bool(_ours(engine)),
    # The modem has sent it; its answer is a second away.
    "after AT+CMSS, before +CMSS:": _on_the_air,
    # The answer is on its way to the bridge, which has not stored it.
    "as +CMSS: comes back": None,
}


async def run_until_killed(
    asterisk: FakeAsterisk, engine: ModemEngine, config: Path, moment: Moment | None
) -> None:
    """The bridge, a missed call, and a SIGKILL at ``moment`` of its text."""
    async with bridge_process(config) as first:
        if moment is None:
            kill_on_confirmation(engine, lambda: first.pid)
        else:
            kill_when(engine, lambda: first.pid, moment)
        await asterisk.wait_for(lambda: asterisk.sessions == 1)
        await until(lambda: "AT+CNMI=2,1,0,2" in engine.commands, within=30)
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))
        async with asyncio.timeout(60):
            await first.wait()
    leave_alone(engine)


async def restart_until_sent(asterisk: FakeAsterisk, engine: ModemEngine, config: Path) -> None:
    db = tmp_db(config)
    logins = asterisk.logins
    async with bridge_process(config) as second:
        await asterisk.wait_for(lambda: asterisk.logins > logins)
        await until(lambda: textback_states(db) == ["sent"], within=30)
        await until(lambda: not _ours(engine), within=10)  # settled: its slots deleted
        second.send_signal(signal.SIGTERM)
        assert await second.wait() == 0


def tmp_db(config: Path) -> Path:
    return config.parent / "textback.db"


def texts_to_caller(engine: ModemEngine) -> int:
    return sum(1 for s in engine.sent if s.number == CALLER)


@pytest.mark.slow
@pytest.mark.parametrize("moment", list(MOMENTS))
async def test_killed_at_each_step_of_a_stored_send_texts_exactly_once(
    tmp_path: Path, moment: str
) -> None:
    """An SMSC that ignores TP-RD: only the modem's own record can prevent a copy."""
    engine = ModemEngine(smsc_honours_rd=False, confirm_delay=1.0)
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
    ):
        config = lab_config(tmp_path, asterisk.port, sim.path)
        await run_until_killed(asterisk, engine, config, MOMENTS[moment])
        await restart_until_sent(asterisk, engine, config)

    assert texts_to_caller(engine) == 1
    assert not any(c.startswith("AT+CMGS=") for c in engine.commands)  # all by storage


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tp_rd", "texts"), [("honoured", 1), ("ignored", 2)], ids=["tp-rd-honoured", "tp-rd-ignored"]
)
async def test_without_store_and_send_only_an_smsc_honouring_tp_rd_keeps_it_to_one(
    tmp_path: Path, tp_rd: str, texts: int
) -> None:
    """The guarantee a modem without AT+CMGW gives: killed after the PDU went
    and before +CMGS: came, the resend goes with TP-RD and the same TP-MR, and
    it is the SMSC that drops the copy - or, ignoring TP-RD, sends it again.
    That is why store-and-send is used wherever the modem has it."""
    engine = ModemEngine(
        profile=ModemProfile(store_and_send=False),
        smsc_honours_rd=tp_rd == "honoured",
        confirm_delay=1.0,
    )
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
    ):
        config = lab_config(tmp_path, asterisk.port, sim.path)
        await run_until_killed(asterisk, engine, config, _on_the_air)
        await restart_until_sent(asterisk, engine, config)

    assert texts_to_caller(engine) == texts
    resends = [decode_submit(s.pdu) for s in engine.sent[1:]]
    assert all(r.reject_duplicates for r in resends)


@pytest.mark.slow
@pytest.mark.parametrize("store_and_send", [True, False], ids=["stored", "plain-tp-rd"])
async def test_the_lab_case_a_sip_then_modem_line_killed_mid_send_texts_once_by_modem(
    tmp_path: Path, store_and_send: bool
) -> None:
    """Seen on a real Asterisk 22: SIP refused the text, the modem took it and
    took 3 s to confirm, the bridge was killed meanwhile, and after the restart
    SIP - working again - sent it a second time. It belongs to the modem now."""
    engine = ModemEngine(profile=ModemProfile(store_and_send=store_and_send), confirm_delay=3.0)
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
    ):
        asterisk.message_send_fails = True  # the SIP stack will not take it, for now
        config = lab_config(tmp_path, asterisk.port, sim.path, sip_first=True)
        await run_until_killed(asterisk, engine, config, _on_the_air)
        asterisk.message_send_fails = False
        await restart_until_sent(asterisk, engine, config)

    assert texts_to_caller(engine) == 1
    assert [m for m in asterisk.messages if CALLER.lstrip("+") in m.to] == []
