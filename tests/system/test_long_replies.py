"""Issue 10, item 1: after a reply longer than one SMS, every later text on
that modem was ignored - STOP included - until a restart.

The real bridge over the AMI double and the simulated modem, as in
tests/system/test_texting_e2e.py. The simulated modem reuses the lowest free SIM
slot as real modems do, so the STOP lands in a slot the long reply had used.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from bridge.app import Bridge
from bridge.app_settings import modem_settings
from bridge.config import Config
from bridge.core.calls import CallDecision
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.ami import SECRET, fast_ami
from tests.support.expected import CALLER, trace
from tests.support.polling import until, until_true
from tests.support.running import running

NO_ALERTS: dict[str, list[str]] = {"missed_call": [], "reply": [], "reminder": []}
# Not urgent (no "leak"): an urgent reply pages the owner by text, and the test counts texts.
TWO_PARTS = "Could you quote new gutters for the back of the house? " * 4  # 220 characters
SIXTY_SIX_PARTS = "Shingles are loose by the chimney. " * 285  # 9975 characters: 66 parts


def config_for(asterisk: FakeAsterisk, modem_path: Path, store: Path) -> Config:
    quiet_owner = {  # no SMS alerts: the test counts the caller's texts
        "id": "mike",
        "name": "Mike",
        "mobile": "+15125550199",
        "alerts": {"business_hours": NO_ALERTS, "after_hours": NO_ALERTS},
    }
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
            "ami": fast_ami(asterisk.port).model_dump() | {"secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [quiet_owner],
            "modem": {"port": str(modem_path), "sweep_seconds": 3600, "command_timeout": 1},
            "store": {"path": str(store)},
        },
        context={"region": "US"},
    )


@dataclass
class Office:
    asterisk: FakeAsterisk
    modem: SimulatedModem
    bridge: Bridge
    decisions: asyncio.Queue[CallDecision]

    async def missed_call(self, scenario: bytes) -> CallDecision:
        await self.asterisk.play(recorded_events(scenario))
        async with asyncio.timeout(5):
            return await self.decisions.get()

    async def until_inbox(self, count: int) -> list[dict[str, object]]:
        async def stored() -> bool:
            return len(await self.bridge.store.inbox()) == count

        await until_true(stored)
        return list(reversed(await self.bridge.store.inbox()))


@asynccontextmanager
async def office(tmp_path: Path) -> AsyncIterator[Office]:
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0") as modem,
    ):
        config = config_for(asterisk, modem.path, tmp_path / "textback.db")
        decisions: asyncio.Queue[CallDecision] = asyncio.Queue()
        async with await Store.open(config.store.path) as store:
            assert config.modem is not None
            transport = GsmModemTransport(
                modem_settings(config.modem), reconnect_min=0.02, reconnect_max=0.1
            )
            async with running(
                Bridge(config, store, on_decision=decisions.put_nowait, transport=transport)
            ) as bridge:
                async with asyncio.timeout(5):
                    await asterisk.wait_for(lambda: asterisk.sessions == 1)
                    await transport.wait_ready()
                yield Office(asterisk, modem, bridge, decisions)


async def test_stop_after_long_replies_is_honoured(tmp_path: Path) -> None:
    async with office(tmp_path) as o:
        o.modem.receive(CALLER, TWO_PARTS, concat_ref=1)
        await o.until_inbox(1)
        await until(lambda: o.modem.engine.store == {})
        o.modem.receive(CALLER, SIXTY_SIX_PARTS, concat_ref=2)  # slots 1-66 again
        replies = await o.until_inbox(2)
        assert [(r["body"], r["parts"]) for r in replies] == [
            (TWO_PARTS, 2),
            (SIXTY_SIX_PARTS, 66),
        ]
        await until(lambda: o.modem.engine.store == {})

        o.modem.receive(CALLER, "STOP")  # slot 1, which both replies had used
        (*_, stop) = await o.until_inbox(3)
        assert stop["keyword"] == "stop"
        await until(lambda: len(o.modem.engine.sent) == 1)

        decision = await o.missed_call(trace("02_noanswer.ami"))
        stored = await o.bridge.store.call(decision.linkedid)
        assert stored is not None
        assert stored.text_skip == "opted-out"

        async def settled() -> bool:
            rows = await o.bridge.store.outbox()
            return [r["state"] for r in rows] == ["sent"]

        await until_true(settled)  # the confirmation, and nothing queued after it
        (confirmation,) = o.modem.engine.sent
        assert confirmation.number == CALLER
        assert "unsubscribed" in confirmation.text
