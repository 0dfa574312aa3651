"""The whole bridge over its doubles: the AMI double and the simulated modem,
a store in the test's directory, running until the block ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bridge.app import Bridge, utc_now
from bridge.app_settings import modem_settings
from bridge.config import Config
from bridge.core.calls import CallDecision
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.ami import SECRET, fast_ami
from tests.support.running import running

NO_ALERTS = {"missed_call": [], "reply": [], "reminder": []}


def config_for(
    asterisk: FakeAsterisk,
    modem_path: Path,
    store: Path,
    *,
    owners: list[dict[str, object]] | None = None,
    hours: dict[str, str] | None = None,
    web: dict[str, object] | None = None,
    extra: dict[str, object] | None = None,
    **texting: object,
) -> Config:
    # Unless a test says otherwise, no SMS alerts: most tests count the
    # caller's texts (tests/system/test_follow_through.py has the owners' side).
    quiet_owner = {
        "id": "mike",
        "name": "Mike",
        "mobile": "+15125550199",
        "alerts": {"business_hours": NO_ALERTS, "after_hours": NO_ALERTS},
    }
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "hours": hours or {"mon-sun": "00:00-23:59"}},
            "ami": fast_ami(asterisk.port).model_dump() | {"secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": owners if owners is not None else [quiet_owner],
            "texting": texting,
            "modem": {"port": str(modem_path), "sweep_seconds": 3600, "command_timeout": 1},
            "store": {"path": str(store)},
        }
        | ({"web": web} if web is not None else {})
        | (extra or {}),  # more sections, or these replaced
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


@asynccontextmanager
async def office(
    tmp_path: Path,
    *,
    owners: list[dict[str, object]] | None = None,
    hours: dict[str, str] | None = None,
    clock: Callable[[], datetime] | None = None,
    web: dict[str, object] | None = None,
    extra: dict[str, object] | None = None,
    **texting: object,
) -> AsyncIterator[Office]:
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0") as modem,
    ):
        config = config_for(
            asterisk, modem.path, tmp_path / "textback.db", owners=owners, hours=hours,
            web=web, extra=extra, **texting,
        )  # fmt: skip
        decisions: asyncio.Queue[CallDecision] = asyncio.Queue()
        async with await Store.open(config.store.path) as store:
            assert config.modem is not None
            transport = GsmModemTransport(
                modem_settings(config.modem), reconnect_min=0.02, reconnect_max=0.1
            )
            async with running(
                Bridge(
                    config,
                    store,
                    on_decision=decisions.put_nowait,
                    transport=transport,
                    clock=clock or utc_now,
                )
            ) as bridge:
                async with asyncio.timeout(5):
                    await asterisk.wait_for(lambda: asterisk.sessions == 1)
                    await transport.wait_ready()
                yield Office(asterisk, modem, bridge, decisions)
