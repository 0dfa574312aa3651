"""The daemon's prune: at start-up and then daily, everything older than
store.keep_days days by the injected clock."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bridge.core.retention import Pruned
from bridge.ops.retention import Pruner
from tests.support.store_values import T0, Clock


class _Store:
    def __init__(self) -> None:
        self.asked: asyncio.Queue[datetime] = asyncio.Queue()

    async def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        assert not dry_run
        self.asked.put_nowait(before)
        return Pruned(alerts=1)


async def test_the_daemon_prunes_at_start_and_again_each_day() -> None:
    clock, store = Clock(T0), _Store()
    pruner = Pruner(store, 30, clock=clock, every=3600.0)
    task = asyncio.create_task(pruner.run())
    try:
        async with asyncio.timeout(5):
            assert await store.asked.get() == T0 - timedelta(days=30)
            clock.advance(days=1)
            pruner.wake()  # the day's timer, without waiting a day
            assert await store.asked.get() == T0 + timedelta(days=1) - timedelta(days=30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
