"""The one task that commits what detection produced, in order: each decision
with its text-back (or why not) in one transaction, and the state of calls in
progress between them. A decision is committed before anything acts on it;
on stopping, what is queued is still committed before the task ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bridge.bus import Bus
from bridge.core.callbacks import ThreadLink
from bridge.core.calls import CallDecision, OpenCall
from bridge.core.events import CallDecided, TextQueued
from bridge.core.texts import History, OutgoingText
from bridge.store import RecorderStore, StoreError

log = logging.getLogger(__name__)

# What to text for a decision: (the text, or None and why not). Texting's
# rules, handed in by the app: detection knows nothing of them.
Planner = Callable[[CallDecision, History, datetime], tuple[OutgoingText | None, str | None]]
Describe = Callable[[CallDecision], str]
# What a decision does to its number's open thread (bridge.core.callbacks).
Linker = Callable[[CallDecision], ThreadLink | None]
Item = CallDecision | OpenCall


class DecisionRecorder:
    def __init__(
        self,
        store: RecorderStore,
        planner: Planner,
        bus: Bus,
        *,
        clock: Callable[[], datetime],
        describe: Describe,
        dry_run: bool = False,
        retry_min: float = 0.5,
        link: Linker | None = None,
    ):
        self.store = store
        self._plan = planner
        self._bus = bus
        self._clock = clock
        self._describe = describe
        self._dry_run = dry_run
        self._retry_min = retry_min
        self._link = link
        self._queue: asyncio.Queue[Item] = asyncio.Queue()

    def put(self, item: Item) -> None:
        self._queue.put_nowait(item)

    async def run(self) -> None:
        in_flight: list[Item] = []
        try:
            while True:
                in_flight = [await self._queue.get(), *self._waiting()]
                await self._store_in_order(in_flight)
                in_flight = []
        except asyncio.CancelledError:
            # Stopping: what was decided is still committed before we go. A
            # write the cancel cut short was either never begun or committed
            # whole (the store's one-trip transactions), so it is written again,
            # or found already decided.
            await asyncio.shield(self._store_in_order([*in_flight, *self._waiting()], once=True))
            raise

    def _waiting(self) -> list[Item]:
        items = []
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                items.append(self._queue.get_nowait())
        return items

    async def _store_in_order(self, items: list[Item], *, once: bool = False) -> None:
        """Decisions one by one; the open calls' states between them one batch
        each (a call's latest state only). ``once``: no retrying (stopping)."""
        batch: dict[str, OpenCall] = {}
        for item in [*items, None]:
            if isinstance(item, OpenCall):
                batch[item.linkedid] = item
                continue
            if batch:
                save = functools.partial(self.store.save_open_calls, list(batch.values()))
                await self._until_stored(save, once)
                batch = {}
            if item is not None:
                record = functools.partial(self._record, item)
                await self._until_stored(record, once, item.linkedid)

    async def _until_stored(
        self, write: Callable[[], Awaitable[None]], once: bool, linkedid: str = ""
    ) -> None:
        """A failed write (disk full, database locked) is kept and retried."""
        delay = self._retry_min
        failing = False
        while True:
            what = f"call {linkedid}" if linkedid else "the calls in progress"
            try:
                await write()
            except (StoreError, OSError) as exc:
                if once:
                    log.error("stopping: %s not stored: %s", what, exc)
                    return
                if not failing:
                    log.error("cannot store %s (will retry): %s", what, exc)
                    failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if failing:
                log.info("the store accepts writes again")
            return

    async def _record(self, decision: CallDecision) -> None:
        now = self._clock()
        history = (
            await self.store.text_history(decision.caller, now)
            if decision.caller and decision.is_missed
            else History()
        )
        text, skip = self._plan(decision, history, now)
        link = self._link(decision) if self._link is not None else None
        is_new = await self.store.record_decision(
            decision, dry_run=self._dry_run, text_skip=skip, text=text, link=link
        )
        if not is_new:
            log.debug("call %s was already decided; ignored", decision.linkedid)
            return
        if text is not None:
            self._bus.publish(TextQueued(text.kind))
        log.info("%s%s", self._describe(decision), f"; not texted: {skip}" if skip else "")
        self._bus.publish(CallDecided(decision, skip))
