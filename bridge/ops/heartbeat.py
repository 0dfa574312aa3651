"""The running bridge's heartbeat: the file `textback health` reads, rewritten
every few seconds and at once when something it shows changes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from bridge.ops import health
from bridge.waiting import woken_or_after

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self, path: Path, snapshot: Callable[[], health.Snapshot], *, every: float
    ) -> None:
        self.path = path
        self._snapshot = snapshot
        self._every = every
        self._now = asyncio.Event()

    def beat_soon(self) -> None:
        """Something the heartbeat shows changed: write it now, not at the next beat."""
        self._now.set()

    async def run(self) -> None:
        failing = False
        while True:
            self._now.clear()
            try:
                await asyncio.to_thread(health.write, self.path, self._snapshot())
                failing = False
            except OSError as exc:
                if not failing:
                    log.warning("cannot write the heartbeat %s: %s", self.path, exc)
                failing = True
            await woken_or_after(self._now, self._every)
