"""Waiting for what nothing signals, within a time limit (never a bare sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


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
