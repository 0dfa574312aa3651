"""One way for a worker to idle: until woken, or a poll interval passes."""

from __future__ import annotations

import asyncio


async def woken_or_after(wake: asyncio.Event, seconds: float) -> None:
    """Return when ``wake`` is set or after ``seconds``, whichever is first.

    A timer sets the event, so no timeout context converts cancellations here.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        # A cancel was asked for but swallowed on the way (Python 3.11's
        # asyncio.wait_for, used by aiosmtplib, can lose one that races the
        # operation finishing). Honour it here, or the worker never stops.
        raise asyncio.CancelledError
    timer = asyncio.get_running_loop().call_later(seconds, wake.set)
    try:
        await wake.wait()
    finally:
        timer.cancel()
