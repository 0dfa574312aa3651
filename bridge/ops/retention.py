"""The daemon's daily prune (store.keep_days): the bulky words of finished
conversations older than that are blanked, the rows the report counts kept
(see RetentionStore.prune)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bridge.core.retention import Pruned
from bridge.store import RetentionStore
from bridge.waiting import woken_or_after

log = logging.getLogger(__name__)

DAILY = 24 * 3600.0


def cutoff(now: datetime, keep_days: int) -> datetime:
    """What is older than this goes."""
    return now - timedelta(days=keep_days)


def summary(pruned: Pruned) -> str:
    return f"{pruned.alerts} alert(s), {pruned.texts_out} text(s) out, {pruned.texts_in} text(s) in"


class Pruner:
    def __init__(
        self,
        store: RetentionStore,
        keep_days: int,
        *,
        clock: Callable[[], datetime],
        every: float = DAILY,
    ):
        self._store = store
        self._keep_days = keep_days
        self._clock = clock
        self._every = every
        self._wake = asyncio.Event()  # tests ask for the next round now

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        # At start-up, then daily: a bridge restarted every night still prunes.
        while True:
            self._wake.clear()
            await self.prune_once()
            await woken_or_after(self._wake, self._every)

    async def prune_once(self) -> Pruned:
        before = cutoff(self._clock(), self._keep_days)
        pruned = await self._store.prune(before)
        if pruned.total:
            log.info("pruned what is older than %d days: %s", self._keep_days, summary(pruned))
        return pruned
