"""Workers idle in one place, which also honours a cancel a library swallowed."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from bridge.waiting import woken_or_after


async def test_woken_early_or_after_the_interval() -> None:
    wake = asyncio.Event()
    asyncio.get_running_loop().call_soon(wake.set)
    await woken_or_after(wake, 60)  # returns at once: it was woken
    wake.clear()
    async with asyncio.timeout(5):
        await woken_or_after(wake, 0.01)  # returns by itself: the interval passed


async def test_a_cancel_swallowed_on_the_way_still_stops_the_worker() -> None:
    wake = asyncio.Event()
    started = asyncio.Event()

    async def worker() -> None:
        started.set()
        with contextlib.suppress(asyncio.CancelledError):  # a library losing the cancel
            await asyncio.sleep(60)
        await woken_or_after(wake, 60)
        pytest.fail("should not get here")

    task = asyncio.create_task(worker())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await task
