"""One AT command at a time over the serial port: the I/O half of the dialogue.

python-gsmmodem's command layer is replaced: it files every line that comes
while a command is pending into that command's reply, so notifications are
swallowed, and one byte that is not UTF-8 kills its reader. The sans-I/O
:class:`~sms_gateway.at_session.AtSession` (its docstring says how) turns the
port's bytes into replies, prompts and notifications; this channel only moves
them:

- one waiter for the pending command's answer, and a queue that takes every
  notification, pending command or not;
- a timeout closes the link (no half-state survives), unless the answer so
  far has the line some modems never follow with a final result (Wavecom's
  ``+CPIN: READY``);
- ESC takes a modem out of PDU entry: sent on a prompt timeout, and (by the
  start-up) before the first command of every connection;
- answers that come late (a ``+CMGS`` for a send given up on) are the
  session's to drop: the session outlives connections, so it still knows;
- a run of commands against another storage (``AT+CPMS``), then back.

The serial port is the transport's (its reconnect loop opens and closes it);
it is attached here for each connection and feeds :meth:`data_received` and
:meth:`connection_lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sms_gateway.at_session import ESC, AtSession, Event, Notification, Prompt, Response
from sms_gateway.serial_port import ModemLost, SerialPort


class ModemError(Exception):
    """The modem refused something it needs to work (PIN, registration...)."""


class AtChannel:
    def __init__(self, command_timeout: float, on_lost: Callable[[str], None]):
        self._command_timeout = command_timeout
        self._on_lost = on_lost  # told at once, so a send in between says why
        self._session = AtSession()
        self._port: SerialPort | None = None
        self._waiter: asyncio.Future[Response | Prompt] | None = None
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._notifications: asyncio.Queue[Notification] = asyncio.Queue()
        # Held for one command, a run of them (a storage switch), or one send.
        self.lock = asyncio.Lock()

    @property
    def command_timeout(self) -> float:
        """How long a command other than a send may take to be answered."""
        return self._command_timeout

    # ------------------------------------------------------------ the connection

    def restart(self) -> None:
        """A new connection is being opened: partial input and the pending command are gone."""
        self._session.restart()
        self._lost.clear()

    def attach(self, port: SerialPort) -> None:
        self._port = port

    def detach(self) -> None:
        """The port is being closed: a command still waiting fails with why."""
        self._fail_waiter(ModemLost(self._lost_reason or "disconnected"))
        self._port = None

    def data_received(self, data: bytes) -> None:
        for event in self._session.feed(data):
            self._dispatch(event)

    def connection_lost(self, why: str) -> None:
        self._lost_reason = why
        self._on_lost(why)
        self._lost.set()
        self._fail_waiter(ModemLost(why))

    async def until_lost(self) -> str:
        """Wait until the link is lost; why it was."""
        await self._lost.wait()
        return self._lost_reason

    async def notification(self) -> Notification:
        """The next unsolicited line (+CMTI, +CDS...), in the order they came."""
        return await self._notifications.get()

    # ------------------------------------------------------------ commands

    async def escape(self) -> None:
        """ESC: a modem left waiting for a PDU swallows commands until it gets one."""
        if self._port is not None:
            await self._port.write(ESC)

    async def command(
        self, text: str, within: float | None = None, *, partial: str | None = None
    ) -> Response:
        reply = await self._exchange(
            self._session.command(text), within or self._command_timeout, partial=partial
        )
        if isinstance(reply, Prompt):  # only AT+CMGS/CMGW prompt, and they go through PDU entry
            raise ModemLost(f"unexpected prompt after {text}")
        return reply

    async def expect_ok(self, text: str) -> None:
        reply = await self.command(text)
        if not reply.ok:
            raise ModemError(f"{text} failed: {reply.final}")

    async def in_storage(self, mem: str, back: str | None, *commands: str) -> list[Response] | None:
        """``commands`` with ``mem`` as the storage read from, then ``back`` (the
        texts' storage); None if the modem would not switch (or back is unknown)."""
        if back is None:
            return None
        async with self.lock:
            if not (await self.command(f'AT+CPMS="{mem}"')).ok:
                return None
            try:
                return [await self.command(command) for command in commands]
            finally:
                await self.command(f'AT+CPMS="{back}"')

    async def open_pdu_entry(self, tpdu_length: int, command: str = "AT+CMGS") -> Response | Prompt:
        """``AT+CMGS`` (send) or ``AT+CMGW`` (write to storage): the ``> ``
        prompt, or why not. No prompt in time sends ESC: the modem may be
        waiting for the PDU all the same."""
        data = self._session.command(f"{command}={tpdu_length}")
        return await self._exchange(data, self._command_timeout, escape=True)

    async def enter_pdu(self, pdu_hex: str, within: float) -> Response | Prompt:
        """The PDU after the prompt; the answer (``+CMGS``, which may take
        ``within``, or ``+CMGW``)."""
        return await self._exchange(self._session.submit(pdu_hex), within)

    async def _exchange(
        self, data: bytes, within: float, *, partial: str | None = None, escape: bool = False
    ) -> Response | Prompt:
        """Write ``data``, wait for what answers it. A timeout closes the port
        (no half-state survives) - unless the answer so far has a ``partial``
        line: some modems never end that reply with a final result. With
        ``escape``, a timeout first sends ESC: no prompt came, but the modem
        may be waiting for the PDU all the same."""
        port = self._port
        if port is None or self._lost.is_set():
            raise ModemLost(self._lost_reason or "not connected")
        waiter: asyncio.Future[Response | Prompt] = asyncio.get_running_loop().create_future()
        self._waiter = waiter  # before writing: the answer may come back at once
        try:
            await port.write(data)
            async with asyncio.timeout(within):
                return await waiter
        except TimeoutError:
            answered = self._session.abandon()
            if partial is not None and answered.line_starting(partial) is not None:
                return answered
            if escape:
                with contextlib.suppress(ModemLost):
                    await port.write(ESC)  # before the port is closed: it is still ours
            self.connection_lost("the modem stopped answering")
            raise ModemLost("the modem stopped answering") from None
        finally:
            self._waiter = None
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # seen here; nobody else will look
            waiter.cancel()

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Notification):
            self._notifications.put_nowait(event)
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(event)

    def _fail_waiter(self, error: ModemLost) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
