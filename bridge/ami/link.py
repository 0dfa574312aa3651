"""AMI intake: one adapter between Asterisk's manager socket and the bridge.

Everything about the connection is ours, each gap of panoramisk's client
(../shared/library-notes.md) closed in one place:

- parsing goes through the sans-I/O :class:`~bridge.ami.framer.AmiFramer`
  (non-UTF-8 bytes kept, split characters intact, bounded buffer) - panoramisk
  drops those bytes and buffers without bound;
- actions are our own (:mod:`bridge.ami.bookkeeping`: ActionIDs, wire format,
  replies matched by ActionID, event lists collected into one
  :class:`~bridge.ami.bookkeeping.AmiReply`), so ``send_action`` is typed;
- login is awaited and checked: a refused login raises :class:`LoginRefused`
  (panoramisk only leaves ``authenticated=False``);
- a Ping must be answered within ``ping_timeout`` or the link counts as stalled
  and is closed (panoramisk never checks the answer);
- reconnecting is :meth:`AmiLink.run`'s one loop, with capped exponential
  backoff and jitter, and it ends when its task is cancelled (panoramisk
  retries every 2 s forever, even after ``close()``);
- an exception in the event handler is logged and the stream goes on
  (in panoramisk it kills the connection);
- an action sent while the link is down fails at once (:class:`NotConnected`,
  a ``ConnectionError``), one never answered with ``TimeoutError``, one whose
  connection drops with :class:`ConnectionLost`; values with CR/LF are
  refused, so untrusted text cannot inject AMI headers or actions.

The secret goes to the socket and nowhere else: nothing here logs an action.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from enum import StrEnum

from bridge.ami import actions
from bridge.ami.bookkeeping import AmiReply, Fields
from bridge.ami.errors import AmiError, ConnectionLost, LinkStalled, LoginRefused, NotConnected
from bridge.ami.protocol import AmiProtocol, EventHandler, FollowUp
from bridge.config import AmiConfig
from bridge.core.safe_text import printable

__all__ = [
    "AmiError",
    "AmiLink",
    "AmiReply",
    "ConnectionLost",
    "FollowUp",
    "LinkStalled",
    "LinkState",
    "LoginRefused",
    "NotConnected",
]

log = logging.getLogger(__name__)


class LinkState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"  # dropped, refused, stalled: retrying
    BAD_CREDENTIALS = "bad_credentials"  # login refused: retrying, slowly
    STOPPED = "stopped"


ConnectedHandler = Callable[["AmiLink"], Awaitable[None]]
StateHandler = Callable[[LinkState, str], None]


class AmiLink:
    """A logged-in AMI connection that keeps itself up while ``run()`` runs."""

    def __init__(
        self,
        settings: AmiConfig,
        on_event: EventHandler,
        *,
        on_connected: ConnectedHandler | None = None,
        on_state: StateHandler | None = None,
        tap: Callable[[bytes], None] | None = None,
        max_message_bytes: int = 64 * 1024,
        rng: random.Random | None = None,
        refusals_before_giving_up: int | None = None,
    ):
        self.settings = settings
        self._on_event = on_event
        self._on_connected = on_connected
        self._on_state = on_state
        self._tap = tap
        self._max_message_bytes = max_message_bytes
        self._rng = rng or random.Random()
        # A login refused this many times before the link was ever up ends
        # run(): a wrong secret does not fix itself. After the first login,
        # refusals (an Asterisk reload) are retried for ever.
        self._give_up_after = refusals_before_giving_up
        self._protocol: AmiProtocol | None = None
        self.state = LinkState.STOPPED
        self.state_detail = ""
        self.banner: str | None = None
        self.connections = 0  # successful logins so far
        self._was_up = False
        self._up = asyncio.Event()  # set while logged in

    # ------------------------------------------------------------ public

    async def run(self) -> None:
        """Connect, log in, stay up; after any failure back off and retry.

        This is the bridge's one reconnect loop. It runs until cancelled, and on
        cancel closes the socket before returning.
        """
        failures = refusals = 0
        try:
            while True:
                self._was_up = False
                try:
                    await self._session()
                except LoginRefused as exc:
                    self._set_state(LinkState.BAD_CREDENTIALS, str(exc))
                    refusals += 1
                    if self._gives_up(refusals):
                        raise
                except (OSError, TimeoutError, AmiError) as exc:
                    self._set_state(LinkState.DISCONNECTED, _describe(exc))
                failures = 0 if self._was_up else failures + 1
                delay = self._backoff(failures)
                log.debug("AMI: next attempt in %.1f s", delay)
                await asyncio.sleep(delay)
        finally:
            self._set_state(LinkState.STOPPED, "")

    def _gives_up(self, refusals: int) -> bool:
        return (
            self._give_up_after is not None
            and self.connections == 0
            and refusals >= self._give_up_after
        )

    def is_connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def wait_connected(self) -> None:
        """Until the link is logged in (wrap in ``asyncio.timeout``)."""
        await self._up.wait()

    async def send_action(self, fields: Fields) -> AmiReply:
        """Send one action (:mod:`bridge.ami.actions` builds them) and await
        Asterisk's whole answer, an event list's events included.

        NotConnected while the link is down, TimeoutError after
        ``action_timeout``, ConnectionLost if the link drops meanwhile,
        ValueError for a value with a line break.
        """
        protocol = self._protocol
        if protocol is None or protocol.closed or self.state is not LinkState.CONNECTED:
            raise NotConnected("AMI is not connected")
        return await self._request(protocol, fields)

    async def send_action_then(self, fields: Fields, then: str) -> tuple[AmiReply, FollowUp]:
        """An action whose outcome comes later as the event ``then`` (Originate
        with Async: OriginateResponse): Asterisk's reply, and - when it is a
        success - the event to await with :meth:`FollowUp.wait`. Errors as
        :meth:`send_action`."""
        protocol = self._protocol
        if protocol is None or protocol.closed or self.state is not LinkState.CONNECTED:
            raise NotConnected("AMI is not connected")
        _, reply, follow = protocol.send_then(fields, then)
        try:
            async with asyncio.timeout(self.settings.action_timeout):
                answer = await reply
        except BaseException:
            follow.drop()
            raise
        return answer, follow

    # ------------------------------------------------------------ one connection

    async def _session(self) -> None:
        """One connection's life: connect, log in, serve until it fails."""
        settings = self.settings
        if self.state is LinkState.STOPPED:
            self._set_state(LinkState.CONNECTING, f"{settings.host}:{settings.port}")
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(settings.connect_timeout):
            transport, protocol = await loop.create_connection(
                lambda: AmiProtocol(
                    self._on_event, tap=self._tap, max_message_bytes=self._max_message_bytes
                ),
                settings.host,
                settings.port,
            )
        try:
            async with asyncio.timeout(settings.connect_timeout):
                self.banner = await protocol.banner
            login = actions.login(settings.username, settings.secret.get_secret_value())
            reply = await self._request(protocol, login)
            if not reply.success:
                reason = printable(reply.message) or "no reason given"
                raise LoginRefused(f"login as {settings.username!r} refused: {reason}")
            self._protocol = protocol
            self._was_up = True
            self.connections += 1
            self._set_state(LinkState.CONNECTED, printable(self.banner or ""))
            await self._serve(protocol)
        finally:
            self._protocol = None
            transport.abort()

    async def _serve(self, protocol: AmiProtocol) -> None:
        """Keepalive, the on-connected hook and the socket, until one fails."""
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._keepalive(protocol))
                tasks.create_task(self._run_on_connected())
                why = await protocol.lost
                raise ConnectionLost(_lost_how(why))
        except BaseExceptionGroup as group:
            link_errors, others = group.split(AmiError)
            if others is not None or link_errors is None:
                raise
            raise link_errors.exceptions[0] from None

    async def _run_on_connected(self) -> None:
        if self._on_connected is None:
            return
        try:
            await self._on_connected(self)
        except (AmiError, TimeoutError) as exc:
            # The link itself will notice if it is broken; the hook just failed.
            log.warning("AMI: after-login catch-up failed: %s", _describe(exc))

    async def _keepalive(self, protocol: AmiProtocol) -> None:
        settings = self.settings
        while True:
            await asyncio.sleep(settings.ping_interval)
            try:
                await self._request(protocol, actions.ping(), settings.ping_timeout)
            except TimeoutError:
                raise LinkStalled(f"no answer to Ping within {settings.ping_timeout:g} s") from None

    async def _request(
        self, protocol: AmiProtocol, fields: Fields, within: float | None = None
    ) -> AmiReply:
        return await protocol.ask(fields, within or self.settings.action_timeout)

    # ------------------------------------------------------------ state

    def _set_state(self, state: LinkState, detail: str) -> None:
        """Log once per change of state, never once per retry."""
        if state is self.state:
            self.state_detail = detail
            return
        self.state, self.state_detail = state, detail
        if state is LinkState.CONNECTED:
            self._up.set()
        else:
            self._up.clear()
        trouble = state in (LinkState.DISCONNECTED, LinkState.BAD_CREDENTIALS)
        level = logging.WARNING if trouble else logging.INFO
        log.log(level, "AMI %s%s", state.value, f": {detail}" if detail else "")
        if self._on_state is not None:
            self._on_state(state, detail)

    def _backoff(self, failures: int) -> float:
        """Capped exponential backoff with jitter; slow after a refused login."""
        settings = self.settings
        if self.state is LinkState.BAD_CREDENTIALS:
            failures += 3  # a wrong secret will not fix itself in a second
        ceiling = min(settings.reconnect_max, settings.reconnect_min * 2.0 ** max(0, failures - 1))
        return ceiling * (0.5 + self._rng.random() / 2)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return printable(str(exc)) or type(exc).__name__


def _lost_how(error: Exception | None) -> str:
    """A close from Asterisk is not a reset on the way (a crash, a cable, a firewall)."""
    if error is None:
        return "Asterisk closed the connection"
    if isinstance(error, ConnectionResetError):
        return "the connection was reset (Asterisk's host or the network dropped it)"
    return f"the connection was lost: {printable(str(error)) or type(error).__name__}"
