"""Several bridges on one PostgreSQL database, watching the same PBX (a pair
kept for failover, or two boxes by mistake): every bridge hears the same
missed call at the same moment, and races to decide it and text the caller.
Exactly one decision is stored, one text-back queued, and one text leaves
one modem; the others find the call decided and the text claimed."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest

from bridge.app import Bridge
from bridge.app_settings import modem_settings
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem
from bridge.store.postgres import PostgresStore
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.ami import SECRET
from tests.support.expected import CALLER, trace
from tests.support.office import config_for
from tests.support.polling import until
from tests.support.postgres_server import PostgresServer
from tests.support.running import running

BRIDGES = 3


@pytest.mark.slow
async def test_bridges_racing_on_one_call_text_the_caller_once(
    tmp_path: Path, postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bridge.detection.recorder")
    url = await postgres_server.fresh("bridges")
    async with contextlib.AsyncExitStack() as stack:
        asterisk = await stack.enter_async_context(FakeAsterisk(secret=SECRET))
        modems, bridges = [], []
        for n in range(BRIDGES):
            own = tmp_path / f"bridge{n}"
            own.mkdir()
            modem = await stack.enter_async_context(SimulatedModem(own / "ttyUSB0"))
            config = config_for(asterisk, modem.path, own / "textback.db")
            assert config.modem is not None
            store = await stack.enter_async_context(await PostgresStore.open(url))
            transport = GsmModemTransport(
                modem_settings(config.modem), reconnect_min=0.02, reconnect_max=0.1
            )
            bridge = Bridge(config, store, transport=transport)
            await stack.enter_async_context(running(bridge))
            await transport.wait_ready()
            modems.append(modem)
            bridges.append(bridge)
        await until(lambda: asterisk.sessions == BRIDGES)

        await asterisk.play(recorded_events(trace("05_ringgroup_noanswer.ami")))

        def ignored() -> int:
            return sum("was already decided" in r.getMessage() for r in caplog.records)

        await until(lambda: ignored() == BRIDGES - 1)  # every bridge has decided the call
        await until(lambda: sum(b.outbox.sent for b in bridges if b.outbox) == 1)
        store = bridges[0].store
        (call,) = await store.recent_calls()
        assert (call.caller, call.text_state) == (CALLER, "sent")
        assert [(t["kind"], t["attempts"]) for t in await store.outbox()] == [("textback", 1)]
        assert [len(m.engine.sent) for m in modems].count(1) == 1
        assert sum(len(m.engine.sent) for m in modems) == 1
        assert len(await store.threads()) == 1
