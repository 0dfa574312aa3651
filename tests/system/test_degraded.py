"""A helper task crashes: the bridge goes on deciding calls and texting back,
restarts the task, and says it is degraded - the whole bridge, over sockets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bridge.app import Bridge
from bridge.app_settings import modem_settings
from bridge.ops import health
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from bridge.supervisor import JobState
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.ami import SECRET
from tests.support.expected import CALLER, trace
from tests.support.office import config_for
from tests.support.polling import until
from tests.support.running import running


async def test_a_crashing_follow_up_worker_leaves_detection_and_texting_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
    ):
        config = config_for(asterisk, sim.path, tmp_path / "textback.db")
        assert config.modem is not None
        async with await Store.open(config.store.path) as store:
            transport = GsmModemTransport(
                modem_settings(config.modem), reconnect_min=0.02, reconnect_max=0.1
            )
            bridge = Bridge(
                config, store, transport=transport, heartbeat_every=0.05, restart_min=0.05
            )
            ticks = 0
            real_tick = bridge.follow_up.tick

            async def tick_that_breaks_once() -> None:
                nonlocal ticks
                ticks += 1
                if ticks == 1:
                    raise KeyError("a bug in the 07:00 digest")
                await real_tick()

            # The one fault injected: the worker's first tick raises.
            monkeypatch.setattr(bridge.follow_up, "tick", tick_that_breaks_once)
            async with running(bridge):
                await until(lambda: ticks >= 2)  # crashed, and restarted
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
                await asterisk.play(recorded_events(trace("02_noanswer.ami")))
                await until(lambda: [s.number for s in sim.engine.sent] == [CALLER])
                beat = health.heartbeat_path(config.store.path)
                await until(lambda: "degraded" in health.verdict(beat, bridge.clock())[1])
                ok, said = health.verdict(beat, bridge.clock())
                follow_up = next(s for s in bridge.supervisor.statuses() if s.name == "follow-up")
    assert ok  # the container stays healthy: calls are decided and texted
    assert said.endswith(
        "degraded: follow-up restarted after KeyError: 'a bug in the 07:00 digest'"
    )
    assert (follow_up.state, follow_up.restarts) == (JobState.DEGRADED, 1)
    tracebacks = [r for r in caplog.records if r.exc_info and "follow-up crashed" in r.getMessage()]
    assert len(tracebacks) == 1


async def test_the_heartbeat_shows_the_modem_up_as_soon_as_it_is(tmp_path: Path) -> None:
    """With the heartbeat's own period at a minute, `health` still learns at once
    that the modem came up (it once said "no SMS transport is up" for ~15 s)."""
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
    ):
        config = config_for(asterisk, sim.path, tmp_path / "textback.db")
        assert config.modem is not None
        async with await Store.open(config.store.path) as store:
            transport = GsmModemTransport(
                modem_settings(config.modem), reconnect_min=0.02, reconnect_max=0.1
            )
            bridge = Bridge(config, store, transport=transport, heartbeat_every=60)
            beat = health.heartbeat_path(config.store.path)
            async with running(bridge):
                await until(lambda: health.verdict(beat, bridge.clock())[0])
                assert health.verdict(beat, bridge.clock())[1] == "AMI connected, modem up"
                sim.unplug()
                await until(lambda: not health.verdict(beat, bridge.clock())[0])
                assert health.verdict(beat, bridge.clock())[1] == "no SMS transport is up (modem)"
