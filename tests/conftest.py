from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bridge.app import Bridge
from bridge.config import AmiConfig
from bridge.detection.rules import DetectionRules
from bridge.sim.ami_server import FakeAsterisk

SECRET = "s3cret-for-tests-only"
EXAMPLE_CONFIG = Path(__file__).parent.parent / "config" / "textback.example.yaml"


@pytest.fixture
def rules() -> DetectionRules:
    return DetectionRules(
        inbound_contexts=frozenset({"from-trunk", "from-pstn"}),
        internal_contexts=frozenset({"from-internal"}),
        lines={"+15125550100": "Main line"},
    )


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    async with FakeAsterisk(secret=SECRET) as server:
        yield server


def fast_ami(port: int, **overrides: object) -> AmiConfig:
    """AMI settings with short timers, so faults play out in milliseconds."""
    settings: dict[str, object] = {
        "port": port,
        "username": "textback",
        "secret": SECRET,
        "connect_timeout": 2,
        "ping_interval": 0.2,
        "ping_timeout": 0.2,
        "action_timeout": 2,
        "reconnect_min": 0.02,
        "reconnect_max": 0.1,
    }
    settings.update(overrides)
    return AmiConfig.model_validate(settings)


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """For conditions nothing signals (a log record, another process's file):
    look again until it holds, within a time limit."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 -- no event exists to wait on
            await asyncio.sleep(0.005)


async def until_true(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """``until`` for a condition that needs the store to answer."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 -- no event exists to wait on
            await asyncio.sleep(0.005)


@contextlib.asynccontextmanager
async def running(bridge: Bridge) -> AsyncIterator[Bridge]:
    """The bridge's supervisor running for the block, cancelled and awaited after."""
    task = asyncio.create_task(bridge.run())
    try:
        yield bridge
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def example_config(
    tmp_path: Path, ami_port: int, *, modem: Path | None = None, fast: bool = True
) -> Path:
    """The shipped example config, pointed at this test's doubles and store. A lab:
    the doubles and recorded traces use the fictional 555-01xx numbers."""
    text = EXAMPLE_CONFIG.read_text().replace("\n# lab: true\n", "\nlab: true\n")
    head, _, tail = text.partition("\nmodem:")
    # The example's modem and smtp sections out: tests add their own doubles.
    text = head + "\nstore:" + tail.partition("\nstore:")[2]
    text = text.replace("port: 5038", f"port: {ami_port}")
    text = text.replace("/var/lib/textback/textback.db", str(tmp_path / "textback.db"))
    if fast:
        text = text.replace("ping_interval: 20", "ping_interval: 1")
        text = text.replace("reconnect_min: 1 ", "reconnect_min: 0.05 ")
    if modem is not None:
        text += (
            f"modem:\n  port: {modem}\n  delivery_reports: false\n"
            "  command_timeout: 30\n  send_timeout: 30\n"
        )
    path = tmp_path / "textback.yaml"
    path.write_text(text)
    return path
