"""The asyncio side of one AMI connection: a thin adapter that only moves bytes.

Bytes in go to the sans-I/O :class:`~bridge.ami.framer.AmiFramer`; each
message goes to the :class:`~bridge.ami.bookkeeping.ActionBook`, and what no
action claims is an event for the handler. Actions out are the book's bytes,
written as they are; the futures the link awaits live here and nowhere else.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bridge.ami.bookkeeping import ActionBook, AmiReply, Fields
from bridge.ami.errors import ConnectionLost
from bridge.ami.framer import AmiFramer, AmiMessage
from bridge.core.safe_text import printable

log = logging.getLogger("bridge.ami.link")  # one logger for the whole link, as operators know it

EventHandler = Callable[[AmiMessage], None]


class AmiProtocol(asyncio.Protocol):
    def __init__(
        self,
        on_event: EventHandler,
        *,
        tap: Callable[[bytes], None] | None = None,
        max_message_bytes: int = 64 * 1024,
    ):
        self._on_event = on_event
        self._tap = tap
        self._framer = AmiFramer(max_message_bytes=max_message_bytes)
        self._book = ActionBook()
        self._waiting: dict[str, asyncio.Future[AmiReply]] = {}
        self._following: dict[str, asyncio.Future[AmiReply]] = {}  # the event an action awaits
        self._failed_events: set[str] = set()
        self._transport: asyncio.Transport | None = None
        self.closed = False
        loop = asyncio.get_running_loop()
        self.banner: asyncio.Future[str] = loop.create_future()
        # Why the connection ended: None for Asterisk closing it, else the OS's error.
        self.lost: asyncio.Future[Exception | None] = loop.create_future()

    # ------------------------------------------------------------ actions out

    def send(self, fields: Fields) -> tuple[str, asyncio.Future[AmiReply]]:
        """Write one action; its ActionID and the future of its reply.
        ValueError (CR/LF in a value...) before anything is written."""
        if self.closed or self._transport is None:
            raise ConnectionLost("AMI connection lost")
        action_id, wire = self._book.request(fields)
        future: asyncio.Future[AmiReply] = asyncio.get_running_loop().create_future()
        self._waiting[action_id] = future
        self._transport.write(wire)
        return action_id, future

    def send_then(
        self, fields: Fields, then: str
    ) -> tuple[str, asyncio.Future[AmiReply], FollowUp]:
        """Write an action whose outcome comes later as the event ``then``
        (with its ActionID): the future of its reply, and what follows it."""
        if self.closed or self._transport is None:
            raise ConnectionLost("AMI connection lost")
        action_id, wire = self._book.request(fields, then=then)
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[AmiReply] = loop.create_future()
        self._waiting[action_id] = reply
        follow: asyncio.Future[AmiReply] = loop.create_future()
        self._following[action_id] = follow
        self._transport.write(wire)
        return action_id, reply, FollowUp(self, action_id, follow)

    async def ask(self, fields: Fields, within: float) -> AmiReply:
        """Send one action and await its reply: TimeoutError after ``within``
        seconds, ConnectionLost if the connection drops first."""
        action_id, reply = self.send(fields)
        try:
            async with asyncio.timeout(within):
                return await reply
        finally:
            self.forget(action_id)  # answered, timed out or cancelled: not pending now

    def forget(self, action_id: str) -> None:
        """The caller stopped waiting: a late reply is dropped."""
        self._book.forget(action_id)
        self._waiting.pop(action_id, None)
        follow = self._following.pop(action_id, None)
        if follow is not None and not follow.done():
            follow.cancel()

    @property
    def pending(self) -> int:
        return len(self._book)

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # ------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._tap is not None:
            self._tap(data)
        for message in self._framer.feed(data):
            taken = self._book.receive(message)
            if taken is None:
                if message.event is not None:
                    self._dispatch(message)
                # else: a response to nothing pending (given up on): dropped
            elif taken.reply is not None:
                self._resolve(taken.action_id, taken.reply, taken.follow_up)
        if self._framer.banner and not self.banner.done():
            self.banner.set_result(self._framer.banner)
        self._log_frame_errors()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._framer.close()  # a message cut off by the drop is reported, not lost silently
        self._log_frame_errors()
        for action_id in self._book.lose_all():
            for waiting in (self._waiting, self._following):
                future = waiting.pop(action_id, None)
                if future is not None and not future.done():
                    future.set_exception(ConnectionLost("AMI connection lost"))
                    if waiting is self._following:
                        future.exception()  # retrieved: nobody may be waiting for it yet
        if not self.lost.done():
            self.lost.set_result(exc)
        if not self.banner.done():
            self.banner.set_exception(ConnectionLost("closed before the banner"))
            self.banner.exception()  # retrieved: nobody may be waiting

    # ------------------------------------------------------------ in

    def _resolve(self, action_id: str, reply: AmiReply, follow_up: bool = False) -> None:
        future = (self._following if follow_up else self._waiting).pop(action_id, None)
        if future is not None and not future.done():
            future.set_result(reply)
        if not follow_up and not reply.success:
            self.forget(action_id)  # refused: no event will follow

    def _dispatch(self, message: AmiMessage) -> None:
        try:
            self._on_event(message)
        except Exception:
            # One bad event must not cost the connection; log each kind once.
            name = message.event or "?"
            if name not in self._failed_events:
                self._failed_events.add(name)
                log.exception("AMI: the handler failed on a %s event; skipped", printable(name))

    def _log_frame_errors(self) -> None:
        for error in self._framer.take_errors():
            log.warning(
                "AMI: skipped a %s message (%s): %s",
                error.reason,
                error.detail,
                printable(error.excerpt.decode("latin-1")),
            )


class FollowUp:
    """What follows an action's reply: the event that says how it ended."""

    def __init__(self, protocol: AmiProtocol, action_id: str, future: asyncio.Future[AmiReply]):
        self._protocol = protocol
        self.action_id = action_id
        self._future = future

    async def wait(self, within: float) -> AmiReply:
        """The event, as a reply (its ``Response``, its headers): TimeoutError
        after ``within`` seconds, ConnectionLost if the connection drops first."""
        try:
            async with asyncio.timeout(within):
                return await self._future
        finally:
            self._protocol.forget(self.action_id)

    def drop(self) -> None:
        """Nobody will wait for it."""
        self._protocol.forget(self.action_id)
