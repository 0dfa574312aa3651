"""kill -9 the running bridge mid-text, start it again: exactly one text per missed call.

The bridge runs as a real process (`textback run`); the AMI double and the
simulated modem run here. On a modem without store-and-send (plain AT+CMGS),
the modem is made to hang at the two moments that matter: after the text was
queued but before the modem took it (no "> " prompt), and after the modem
sent it but before it confirmed (no +CMGS); the resend goes with TP-RD, which
this SMSC honours. tests/system/test_kill9_store_and_send.py kills it at each step of a
store-and-send. The bench runs below include the hard case: confirmations 3 s
late, kills aimed into them, an SMSC that ignores TP-RD, and SIP as fallback.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem import ModemEngine, ModemProfile
from bridge.sim.modem_pty import SimulatedModem
from tests.support.ami import SECRET
from tests.support.example_config import example_config
from tests.support.expected import CALLER, trace
from tests.support.paths import ROOT
from tests.support.polling import until
from tests.support.running import bridge_process, textback_states


@pytest.mark.parametrize("moment", ["before the modem took it", "before the modem confirmed it"])
async def test_killed_mid_text_then_restarted_texts_exactly_once(
    tmp_path: Path, moment: str
) -> None:
    db = tmp_path / "textback.db"
    plain = ModemEngine(profile=ModemProfile(store_and_send=False))
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0", plain) as sim,
    ):
        config = example_config(tmp_path, asterisk.port, modem=sim.path)
        engine = sim.engine
        if moment == "before the modem took it":
            engine.hold_prompt = True
        else:
            engine.hold_confirmation = True

        async with bridge_process(config) as first:
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
            await until(lambda: "AT+CNMI=2,1,0,2" in engine.commands, within=30)
            await asterisk.play(recorded_events(trace("02_noanswer.ami")))
            await until(lambda: textback_states(db) == ["sending"], within=30)
            await until(lambda: any(c.startswith("AT+CMGS") for c in engine.commands))
            if moment == "before the modem confirmed it":
                await until(lambda: len(engine.sent) == 1)  # on the air, unconfirmed
            else:
                assert engine.sent == []
            first.send_signal(signal.SIGKILL)
            await first.wait()

        assert textback_states(db) == ["sending"]
        engine.hold_prompt = engine.hold_confirmation = False
        sessions_before = asterisk.logins
        async with bridge_process(config) as second:
            await asterisk.wait_for(lambda: asterisk.logins > sessions_before)
            await until(lambda: textback_states(db) == ["sent"], within=30)
            second.send_signal(signal.SIGTERM)
            assert await second.wait() == 0

    # One text to the caller, whatever the moment.
    assert [s.number for s in engine.sent if s.number == CALLER] == [CALLER]
    with sqlite3.connect(db) as conn:
        (maybe_sent,) = conn.execute(
            "SELECT maybe_sent FROM outbox WHERE kind = 'textback'"
        ).fetchone()
    assert maybe_sent == 1


async def bench(*options: str) -> dict[str, Any]:
    """bench/kill9.py's figures (its last line) for a short run."""
    script = ROOT / "bench" / "kill9.py"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), "--calls", "14", "--seed", "3", *options,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(240):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    figures: dict[str, Any] = json.loads(out.decode().splitlines()[-1])
    return figures


@pytest.mark.slow
async def test_killed_at_random_over_many_calls_nothing_is_lost_or_doubled() -> None:
    """bench/kill9.py, short: the real bridge SIGKILLed at random while calls
    come and go (the AMI double writes the call records too)."""
    figures = await bench()
    assert figures["kills"] >= 2, figures
    assert figures["calls_placed"] == 14
    assert figures["unrecorded"] == 0, figures
    assert figures["doubled"] == 0, figures
    assert figures["stuck"] == 0, figures
    assert figures["missed_texted"] == figures["missed_placed"], figures


@pytest.mark.slow
async def test_killed_while_sends_await_confirmation_nothing_is_doubled() -> None:
    """bench/kill9.py, short, the hard case: the modem confirms 3 s after the text
    went out, kills aimed into that window, an SMSC that ignores TP-RD, and SIP
    as the line's second transport."""
    figures = await bench("--confirm-delay", "3", "--ignore-tp-rd", "--sip-fallback")
    assert figures["kills_mid_send"] >= 1, figures
    assert figures["unrecorded"] == 0, figures
    assert figures["stuck"] == 0, figures
    assert figures["missed_texted"] == figures["missed_placed"], figures
    assert figures["doubled"] == 0, figures
