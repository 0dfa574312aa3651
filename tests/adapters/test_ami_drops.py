"""How the AMI link says it lost Asterisk: closed by Asterisk, or reset on the
way - the installer looks in different places for each."""

from __future__ import annotations

import asyncio

import pytest

from bridge.ami.link import AmiLink, LinkState
from bridge.sim.ami_server import FakeAsterisk
from tests.support.ami import SECRET, fast_ami

RESET = "the connection was reset (Asterisk's host or the network dropped it)"


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("drop_connections", "Asterisk closed the connection"),
        (
            "reset_connections",
            "the connection was reset (Asterisk's host or the network dropped it)",
        ),
    ],
)
async def test_a_close_and_a_reset_are_told_apart(fault: str, said: str) -> None:
    states: list[tuple[LinkState, str]] = []
    changed = asyncio.Event()

    def on_state(state: LinkState, detail: str) -> None:
        states.append((state, detail))
        changed.set()

    async with FakeAsterisk(secret=SECRET) as asterisk:
        link = AmiLink(fast_ami(asterisk.port), lambda message: None, on_state=on_state)
        task = asyncio.create_task(link.run())
        try:
            async with asyncio.timeout(5):
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
                await getattr(asterisk, fault)()
                while not any(s is LinkState.DISCONNECTED for s, _ in states):
                    changed.clear()
                    await changed.wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    (detail,) = [d for s, d in states if s is LinkState.DISCONNECTED]
    assert detail == said
