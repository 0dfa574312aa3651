"""The live hub (bridge.web.live): each stream hears what its owner may see,
a stream that stops reading is dropped without holding anyone up, and
viewing/typing markers come and go."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

from bridge.bus import Bus
from bridge.core.events import PresenceChanged, ReplyStored, TextSent
from bridge.core.threads import ThreadSummary
from bridge.store import WebStore
from bridge.web.live import STREAM_QUEUE, TYPING_FOR, LiveHub, Stream
from tests.support.store_values import LINE, SECOND_LINE, Clock


class Threads:
    """Just what the hub reads of the store: a thread's line."""

    def __init__(self, lines: dict[int, str]):
        self.lines = lines

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None:
        line = self.lines.get(thread_id)
        if line is None:
            return None
        return ThreadSummary(thread_id, "+15125559876", line, "replied", False, "", "", None, 1)


@contextlib.asynccontextmanager
async def hub_running(clock: Clock) -> AsyncIterator[tuple[LiveHub, Bus]]:
    store = cast(WebStore, Threads({1: LINE, 2: SECOND_LINE}))
    hub, bus = LiveHub(store, clock=clock, region="US"), Bus()
    hub.listen(bus)
    task = asyncio.create_task(hub.run())
    try:
        yield hub, bus
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def message(stream: Stream) -> Any:
    async with asyncio.timeout(2):
        return await stream.queue.get()


async def test_a_stream_hears_its_lines_only() -> None:
    async with hub_running(Clock()) as (hub, bus):
        mine = hub.connect("mike", frozenset({LINE}), None)
        everything = hub.connect("ana", None, None)
        bus.publish(ReplyStored(2, urgent=False))
        bus.publish(ReplyStored(1, urgent=False))
        assert '"thread":1' in await message(mine)
        assert '"thread":2' in await message(everything)
        assert '"thread":1' in await message(everything)
        bus.publish(TextSent(7, "reply", "modem"))  # no caller, no thread: everyone's
        assert '"kind":"text"' in await message(mine)


async def test_a_stream_that_stops_reading_is_dropped_and_nobody_waits() -> None:
    async with hub_running(Clock()) as (hub, bus):
        slow = hub.connect("mike", None, None)
        reader = hub.connect("ana", None, None)
        for n in range(STREAM_QUEUE + 20):
            bus.publish(TextSent(n, "reply", "modem"))  # returns at once, every time
            if n % 10 == 0:
                while not reader.queue.empty():
                    reader.queue.get_nowait()
                await asyncio.sleep(0)  # the hub's loop fans out
        async with asyncio.timeout(2):
            while not slow.dropped:  # noqa: ASYNC110 -- the hub's loop sets it
                await asyncio.sleep(0)
        assert await slow.queue.get() is None  # the end of its stream, nothing queued before it
        assert not reader.dropped
        assert hub.streams == 1


async def test_viewing_and_typing_come_and_go() -> None:
    clock = Clock()
    async with hub_running(clock) as (hub, bus):
        heard: list[object] = []
        bus.subscribe(PresenceChanged, heard.append)
        viewer = hub.connect("mike", None, 1)
        assert hub.presence(1) == {"mike": "viewing"}
        hub.typing(1, "ana")
        assert hub.presence(1) == {"mike": "viewing", "ana": "typing"}
        clock.advance(seconds=TYPING_FOR.total_seconds() + 1)
        assert hub.presence(1) == {"mike": "viewing"}
        hub.disconnect(viewer)
        assert hub.presence(1) == {}
        assert heard == [PresenceChanged(1)] * 3  # came, started typing, went
