"""A stranger texting one of the business's numbers over SIP: the thread is
that line's, so its owners hear of it (the UserEvent's To, as the shipped
dialplan raises it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bridge.app import Bridge
from bridge.config import Config
from bridge.sim.ami_server import FakeAsterisk
from bridge.store import Store
from tests.support.ami import SECRET, fast_ami
from tests.support.polling import until_true
from tests.support.running import running

MAIN, REPAIRS = "+15125550100", "+15125550111"
PROVIDER = "sip.provider.example"
STRANGER = "+15125550177"


def config_for(asterisk: FakeAsterisk, tmp_path: Path) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
            "ami": fast_ami(asterisk.port).model_dump() | {"secret": SECRET},
            "lines": [
                {"did": MAIN, "name": "Main line", "owners": ["mike"]},
                {"did": REPAIRS, "name": "Repairs", "owners": ["sue"]},
            ],
            "owners": [{"id": "mike", "name": "Mike"}, {"id": "sue", "name": "Sue"}],
            "sip": {"endpoint": "provider-trunk", "host": PROVIDER},
            "store": {"path": str(tmp_path / "t.db")},
        },
        context={"region": "US"},
    )


async def test_a_new_texters_thread_belongs_to_the_line_it_texted(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET) as asterisk:
        config = config_for(asterisk, tmp_path)
        async with await Store.open(config.store.path) as store, running(Bridge(config, store)):
            async with asyncio.timeout(5):
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
            await asterisk.inbound_text(
                f"sip:{STRANGER}@{PROVIDER}", f"sip:{REPAIRS[1:]}@{PROVIDER}", "Do you fix gutters?"
            )

            async def filed() -> bool:
                return bool(await store.threads())

            await until_true(filed)
            (thread,) = await store.threads()
    assert (thread.caller, thread.line, thread.status) == (STRANGER, REPAIRS, "replied")
