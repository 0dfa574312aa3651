"""Live updates for the open pages: bus events to each browser's /events
stream, filtered to the lines its owner sees, and who is viewing or typing
on a thread.

The bus handler only puts the event on the hub's bounded queue (it never
waits, never reads the store); the hub's loop, part of the `web` job, looks
up a thread's line and hands each stream a copy. Each stream has its own
bounded queue: a browser that stops reading is dropped - its queue cleared,
its stream ended (the page reconnects) - and nobody else waits for it.
What a stream carries is a kind and a thread number: the page fetches what
changed from the server, so nothing a caller wrote travels this way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.bus import Bus
from bridge.core.calls import Outcome
from bridge.core.events import (
    CallDecided,
    DeliveryReported,
    JobChanged,
    LinkChanged,
    OwnerActed,
    PresenceChanged,
    ReplyStored,
    TextFailed,
    TextSent,
    TransportChanged,
)
from bridge.core.numbers import display
from bridge.store import WebStore
from bridge.web.access import can_see

log = logging.getLogger(__name__)

STREAM_QUEUE = 100  # events a browser may fall behind by before it is dropped
HUB_QUEUE = 1000
TYPING_FOR = timedelta(seconds=6)  # "typing..." lasts this long after the last key
LIVE_EVENTS = (
    CallDecided, ReplyStored, TextSent, TextFailed, DeliveryReported, OwnerActed,
    PresenceChanged, LinkChanged, TransportChanged, JobChanged,
)  # fmt: skip
ALL_LINES = object()  # an event for every stream, whatever lines it sees


@dataclass(eq=False)
class Stream:
    """One browser's /events connection."""

    owner_id: str
    lines: frozenset[str] | None  # the lines it sees; None: all
    thread_id: int | None  # the thread page it is on, if any
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(STREAM_QUEUE))
    dropped: bool = False


def sse(name: str, data: dict[str, object]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class LiveHub:
    def __init__(
        self,
        store: WebStore,
        *,
        clock: Callable[[], datetime],
        region: str,
        hub_queue: int = HUB_QUEUE,
    ):
        self.store, self.clock, self.region = store, clock, region
        self._incoming: asyncio.Queue[object] = asyncio.Queue(hub_queue)
        self._streams: set[Stream] = set()
        self._typing: dict[tuple[int, str], datetime] = {}
        self._bus: Bus | None = None
        self.last_error: str | None = None
        self.lost = 0  # events the hub had no room for (the bus never waits)

    def listen(self, bus: Bus) -> None:
        self._bus = bus
        for kind in LIVE_EVENTS:
            bus.subscribe(kind, self._heard)

    def _heard(self, event: object) -> None:
        try:
            self._incoming.put_nowait(event)
        except asyncio.QueueFull:
            self.lost += 1
            if self.lost == 1:
                log.warning("the inbox's live updates fell behind; pages catch up on reload")

    # ------------------------------------------------------------ streams

    def connect(self, owner_id: str, lines: frozenset[str] | None, thread_id: int | None) -> Stream:
        stream = Stream(owner_id, lines, thread_id)
        self._streams.add(stream)
        if thread_id is not None:
            self._presence_changed(thread_id)
        return stream

    def disconnect(self, stream: Stream) -> None:
        self._streams.discard(stream)
        if stream.thread_id is not None:
            self._presence_changed(stream.thread_id)

    @property
    def streams(self) -> int:
        return len(self._streams)

    def presence(self, thread_id: int) -> dict[str, str]:
        """Owner id -> 'typing' or 'viewing', for everyone with the thread open."""
        now = self.clock()
        found = {s.owner_id: "viewing" for s in self._streams if s.thread_id == thread_id}
        for (thread, owner), until in self._typing.items():
            if thread == thread_id and until > now:
                found[owner] = "typing"
        return found

    def typing(self, thread_id: int, owner_id: str) -> None:
        key = (thread_id, owner_id)
        was = key in self._typing
        self._typing[key] = self.clock() + TYPING_FOR
        if not was:
            self._presence_changed(thread_id)

    def _presence_changed(self, thread_id: int) -> None:
        if self._bus is not None:
            self._bus.publish(PresenceChanged(thread_id))

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Until cancelled: each event to the streams that may see it."""
        try:
            while True:
                event = await self._next_event()
                if event is not None:
                    await self._fan_out(event)
        finally:
            for stream in list(self._streams):
                self._drop(stream)

    async def _next_event(self) -> object | None:
        """The next event, or None when a typing marker ran out first."""
        self._expire_typing()
        soonest = min(self._typing.values(), default=None)
        if soonest is None:
            return await self._incoming.get()
        wait = max(0.0, (soonest - self.clock()).total_seconds()) + 0.05
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                return await self._incoming.get()
        return None

    def _expire_typing(self) -> None:
        now = self.clock()
        for key, until in list(self._typing.items()):
            if until <= now:
                del self._typing[key]
                self._presence_changed(key[0])

    async def _fan_out(self, event: object) -> None:
        found = await self._message(event)
        if found is None:
            return
        message, line, only_thread = found
        for stream in list(self._streams):
            if only_thread is not None and stream.thread_id != only_thread:
                continue
            if line is not ALL_LINES and not can_see(stream.lines, line):  # type: ignore[arg-type]
                continue
            self._send(stream, message)

    async def _message(self, event: object) -> tuple[str, object, int | None] | None:
        """The SSE message, the line it concerns (ALL_LINES: none), and the one
        thread whose viewers alone hear it."""
        if isinstance(event, CallDecided):
            decision = event.decision
            new = decision.outcome in (Outcome.MISSED, Outcome.UNKNOWN)
            data = {"kind": "call", "new": new, "caller": display(decision.caller, self.region)}
            return sse("change", data), decision.line, None
        if isinstance(event, ReplyStored | OwnerActed):
            summary = await self.store.thread_summary(event.thread_id)
            if summary is None:
                return None
            data = {"kind": "reply", "new": True, "thread": event.thread_id}
            if isinstance(event, OwnerActed):
                data = {"kind": "owner", "new": False, "thread": event.thread_id,
                        "owner": event.owner_id, "action": event.action}  # fmt: skip
            return sse("change", data), summary.line, None
        if isinstance(event, TextSent | TextFailed | DeliveryReported):
            if isinstance(event, TextFailed) and event.state == "failed":
                self.last_error = f"a text could not be sent: {event.why}"
            return sse("change", {"kind": "text", "new": False}), ALL_LINES, None
        if isinstance(event, PresenceChanged):
            return sse("presence", {"thread": event.thread_id}), ALL_LINES, event.thread_id
        return self._health(event)

    def _health(self, event: object) -> tuple[str, object, int | None]:
        if isinstance(event, LinkChanged) and event.state not in ("connected", "connecting"):
            self.last_error = f"AMI {event.state}: {event.detail}"
        elif isinstance(event, TransportChanged) and not event.connected:
            self.last_error = f"{event.name} down: {event.detail}"
        elif isinstance(event, JobChanged) and event.last_error:
            self.last_error = f"{event.name}: {event.last_error}"
        return sse("health", {}), ALL_LINES, None

    def _send(self, stream: Stream, message: str) -> None:
        try:
            stream.queue.put_nowait(message)
        except asyncio.QueueFull:
            log.info("an inbox page (%s) stopped reading live updates: dropped", stream.owner_id)
            self._drop(stream)

    def _drop(self, stream: Stream) -> None:
        """The stream ends: its queue emptied, then the end marker."""
        stream.dropped = True
        while not stream.queue.empty():
            stream.queue.get_nowait()
        stream.queue.put_nowait(None)
        self._streams.discard(stream)
