"""The whole bridge running: in the test's event loop (bridge.app.Bridge), or
as the real `textback run` process that a test may SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from bridge.app import Bridge
from tests.support.ami import SECRET


@contextlib.asynccontextmanager
async def running(bridge: Bridge) -> AsyncIterator[Bridge]:
    """The bridge's supervisor running for the block, cancelled and awaited after."""
    task = asyncio.create_task(bridge.run())
    try:
        yield bridge
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@contextlib.asynccontextmanager
async def bridge_process(config: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """`textback run --config config`, killed and awaited after the block if still up."""
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
    """The text-backs' states in a store another process writes (an owner's SMS
    alert may be in the outbox too: not counted)."""
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        query = "SELECT state FROM outbox WHERE kind = 'textback' ORDER BY id"
        return [row[0] for row in conn.execute(query)]
