"""Auxiliary workers that wait out an unreachable store (a PostgreSQL server
away) instead of crashing into the supervisor's restarts: a traceback each
time, and the job shown degraded, for what the recorder already says once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bridge.bus import Bus
from bridge.core.events import StoreFailed
from bridge.store import StoreUnavailable

log = logging.getLogger(__name__)


def patient(
    name: str, run: Callable[[], Awaitable[None]], bus: Bus, *, most: float = 2.0
) -> Callable[[], Awaitable[None]]:
    """``run``, started again after a StoreUnavailable (each refusal still
    counts: StoreFailed, the metrics' store errors); anything else it raises
    goes to the supervisor as before."""

    async def waiting() -> None:
        loop = asyncio.get_running_loop()
        delay = most / 8
        while True:
            began = loop.time()
            try:
                return await run()
            except StoreUnavailable as exc:
                bus.publish(StoreFailed(name, type(exc).__name__))
                log.debug("%s waits for the store: %s", name, exc)
            if loop.time() - began > most:
                delay = most / 8  # it ran a while: a new outage
            await asyncio.sleep(delay)
            delay = min(delay * 2, most)

    return waiting
