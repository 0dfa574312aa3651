"""kill -9 the running bridge at each step of a store-and-send, start it again:
exactly one text (issue 15).

The real `textback run` process against the AMI double and the simulated
modem, in this process, which SIGKILLs the bridge the instant the modem has
done a step: after AT+CMGW (stored, the outbox not told), after AT+CMSS (on
the air, unconfirmed), and as +CMSS: comes back (not yet stored). The SMS
centre ignores TP-RD, so only the modem's own record can keep it to one text.
Also: what a modem without store-and-send guarantees, and the lab case of a
[sip, modem] line.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem import ModemEngine, ModemProfile, decode_submit
from bridge.sim.modem_pty import SimulatedModem
from tests.support.ami import SECRET
from tests.support.example_config import example_config
from tests.support.expected import CALLER, trace
from tests.support.polling import until
from tests.support.running import bridge_process, textback_states


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
    # The caller's copies only: the owner's alert goes by the modem too.
    resends = [decode_submit(s.pdu) for s in engine.sent if s.number == CALLER][1:]
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
    assert [m for m in asterisk.messages if CALLER.lstrip("+") in m.destination] == []
