"""The one task that commits what detection produced, in order: each decision
with its text-back (or why not), and the state of calls in progress between
them - all that waits, up to a batch of decisions, in one transaction, so a
burst of calls costs a commit per batch, not one per call, and the burst's
first texts go while the rest of it is written. A decision is committed
before anything acts on it; on stopping, what is queued is still committed
before the task ends. While the store refuses writes (a database away)
detection goes on: what it produces is held, bounded by ``hold``, and
written in order when the store takes writes again (docs/scale.md).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime

from bridge.bus import Bus
from bridge.core.callbacks import ThreadLink
from bridge.core.calls import CallDecision, OpenCall
from bridge.core.events import CallDecided, StoreFailed, TextQueued
from bridge.core.recording import HistoryOf, Plan, Planned, Recorded
from bridge.core.texts import History, OutgoingText
from bridge.store import RecorderStore, StoreError

log = logging.getLogger(__name__)

# What to text for a decision: (the text, or None and why not). Texting's
# rules, handed in by the app: detection knows nothing of them. It and the
# Linker must be pure: they run inside the store's transaction.
Planner = Callable[[CallDecision, History, datetime], tuple[OutgoingText | None, str | None]]
Describe = Callable[[CallDecision], str]
# What a decision does to its number's open thread (bridge.core.callbacks).
Linker = Callable[[CallDecision], ThreadLink | None]
Item = CallDecision | OpenCall
# Decisions written in one transaction at most: about 10 ms of the database's
# thread, the outbox's batch of texts (bridge.texting.outbox) - so the modem
# sends the first batch of a burst while the next is written, instead of
# waiting for all of it (100 calls at once: 50 ms).
DECISIONS_AT_ONCE = 20


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
        hold: int = 10_000,
        on_state: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self._plan = planner
        self._bus = bus
        self._clock = clock
        self._describe = describe
        self._dry_run = dry_run
        self._retry_min = retry_min
        self._link = link
        self._hold = hold
        self._on_state = on_state  # the heartbeat: shown at once when the store goes or comes
        self._queue: deque[Item] = deque()
        self._ready = asyncio.Event()
        self._in_flight: list[Item] = []
        self.away_since: datetime | None = None  # the store refuses writes since then
        self.dropped = 0  # items the full hold let go (open-call states first)

    @property
    def held(self) -> int:
        """Decisions waiting to be committed (the write being retried, and those behind it)."""
        waiting = [*self._in_flight, *self._queue]
        return sum(1 for item in waiting if isinstance(item, CallDecision))

    def put(self, item: Item) -> None:
        """Detection never waits for the store. Past ``hold`` items (a store
        away for long), the oldest call-in-progress state goes first - its
        call's decision supersedes it - and only then the oldest decision,
        each logged."""
        if len(self._queue) >= self._hold:
            self._let_go()
        self._queue.append(item)
        self._ready.set()

    def _let_go(self) -> None:
        for i, waiting in enumerate(self._queue):
            if isinstance(waiting, OpenCall):
                del self._queue[i]
                break
        else:
            oldest = self._queue.popleft()
            assert isinstance(oldest, CallDecision)
            log.error(
                "the store is away and %d decisions are held: call %s is let go, not stored",
                self._hold, oldest.linkedid,
            )  # fmt: skip
        self.dropped += 1

    async def run(self) -> None:
        try:
            while True:
                await self._ready.wait()
                self._in_flight = self._waiting(DECISIONS_AT_ONCE)
                await self._store_in_order(self._in_flight)
                self._in_flight = []
        except asyncio.CancelledError:
            # Stopping: what was decided is still committed before we go. A
            # write the cancel cut short was either never begun or committed
            # whole (the store's one-trip transactions), so it is written again,
            # or found already decided.
            waiting = [*self._in_flight, *self._waiting()]
            await asyncio.shield(self._store_in_order(waiting, once=True))
            raise

    def _waiting(self, decisions: int | None = None) -> list[Item]:
        """What waits, in order, up to and with the ``decisions``-th decision
        (None: all of it)."""
        items: list[Item] = []
        while self._queue and decisions != 0:
            item = self._queue.popleft()
            items.append(item)
            if decisions is not None and isinstance(item, CallDecision):
                decisions -= 1
        if not self._queue:
            self._ready.clear()
        return items

    async def _store_in_order(self, items: list[Item], *, once: bool = False) -> None:
        """What was taken from the queue, in order, in one commit: each decision
        with its text-back, and the open calls' latest states. ``once``: no retrying
        (stopping)."""
        items = _latest_states(items)
        if not items:
            return
        record = functools.partial(self._record, items)
        stored = await self._until_stored(record, once, _what(items))
        queued = [r.planned.text.kind for r in stored if r.new and r.planned.text is not None]
        for kind in queued:
            self._bus.publish(TextQueued(kind))
        try:
            if queued:
                # The texts go first: the outbox, woken by them, reads them
                # before the decisions are logged and told (0.1 ms each), and
                # before the next transaction of a burst takes the connection.
                await asyncio.sleep(0)
        finally:  # told even if stopped meanwhile: they are committed
            for recorded in stored:
                self._announce(recorded)

    async def _until_stored(
        self, write: Callable[[], Awaitable[list[Recorded]]], once: bool, what: str
    ) -> list[Recorded]:
        """A failed write (disk full, database locked) is kept and retried."""
        delay = self._retry_min
        failing = False
        while True:
            try:
                recorded = await write()
            except (StoreError, OSError) as exc:
                self._bus.publish(StoreFailed("recorder", type(exc).__name__))
                if once:
                    log.error("stopping: %s not stored: %s", what, exc)
                    return []
                if not failing:
                    log.error("cannot store %s (will retry; decisions are held): %s", what, exc)
                    failing = True
                    self.away_since = self._clock()
                    self._on_state()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if failing:
                log.info("the store accepts writes again: %s written", what)
                self.away_since = None
                self._on_state()
            return recorded

    async def _record(self, items: list[Item]) -> list[Recorded]:
        now = self._clock()
        return await self.store.record_in_order(
            items, self._planned(now), now, dry_run=self._dry_run
        )

    def _planned(self, now: datetime) -> Plan:
        """Texting's plan and the thread link for each decision, from its
        number's history as the store reads it in the same transaction."""

        def planned(decision: CallDecision, history_of: HistoryOf) -> Planned:
            history = (
                history_of(decision.caller) if decision.caller and decision.is_missed else History()
            )
            text, skip = self._plan(decision, history, now)
            link = self._link(decision) if self._link is not None else None
            return Planned(text, skip, link)

        return planned

    def _announce(self, recorded: Recorded) -> None:
        decision, planned = recorded.decision, recorded.planned
        if not recorded.new:
            log.debug("call %s was already decided; ignored", decision.linkedid)
            return
        skip = planned.skip
        log.info("%s%s", self._describe(decision), f"; not texted: {skip}" if skip else "")
        self._bus.publish(CallDecided(decision, skip))


def _latest_states(items: list[Item]) -> list[Item]:
    """All that waits as its one transaction leaves it: each decision, in
    order, then each open call's latest state - none for a call decided after
    it (its decision closes it: the state would be written only to be
    deleted). Nothing a decision reads or writes is another call's open
    state, so this changes only the statements: one for all the states, not
    one per run between two decisions."""
    decided: set[str] = set()  # decided later in the backlog
    states: dict[str, OpenCall] = {}  # the latest of each, newest first
    for item in reversed(items):
        if isinstance(item, CallDecision):
            decided.add(item.linkedid)
        elif item.linkedid not in decided and item.linkedid not in states:
            states[item.linkedid] = item
    decisions: list[Item] = [item for item in items if isinstance(item, CallDecision)]
    return decisions + list(reversed(states.values()))


def _what(items: list[Item]) -> str:
    calls = [item.linkedid for item in items if isinstance(item, CallDecision)]
    if not calls:
        return "the calls in progress"
    return f"call {calls[0]}" + (f" and {len(calls) - 1} more" if len(calls) > 1 else "")
