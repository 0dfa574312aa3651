"""The `textback` command run as a user runs it: another process."""

from __future__ import annotations

import asyncio
import os
import sys

TEXTBACK = [sys.executable, "-m", "bridge.cli"]


async def textback(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *TEXTBACK,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
