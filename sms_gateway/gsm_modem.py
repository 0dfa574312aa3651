"""SMS through a USB GSM modem: the transport, composed of one part per job.

Of python-gsmmodem-new only the PDU codec is kept. Its serial and command
layer is replaced - it blocks in threads, swallows notifications, dies on one
bad byte, ignores ``+CMT``, forces RTS/CTS on - and each module says why where
it does the job instead:

- :mod:`~sms_gateway.serial_port`: the device, read by the event loop;
- :mod:`~sms_gateway.at_session` (sans-I/O) and :mod:`~sms_gateway.at_channel`:
  the AT dialogue, one command at a time over the port;
- :mod:`~sms_gateway.modem_startup`: a freshly opened modem made ready,
  degrading as it refuses things;
- :mod:`~sms_gateway.modem_inbox`: texts and reports that arrive, deleted
  from the modem only once the sink has stored them;
- :mod:`~sms_gateway.modem_store`: store-and-send, each part kept in the
  modem's storage before it is sent, so a text a crash interrupted is settled
  from the modem's own record;
- :mod:`~sms_gateway.pdu_codec`, :mod:`~sms_gateway.at_answers`: PDUs and
  answers made and read, without I/O.

Left here: ``run``, the one reconnect loop, which opens and closes the port
(an unplugged or silent modem is closed, reported once, and retried with
backoff while texts wait in the outbox); ``send``, with the rate limit,
store-and-send where the modem has it, and the TP-MR and TP-RD that let an
SMSC drop a copy of a text it already has; and the status. Unlike
python-gsmmodem's sending, a status report is requested only when
``delivery_reports`` is on, and every part's reference is kept, not only the
last one's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from sms_gateway import cms_errors
from sms_gateway.at_answers import sent_reference
from sms_gateway.at_channel import AtChannel, ModemError
from sms_gateway.at_session import Prompt, Response
from sms_gateway.base import (
    BatchHandover,
    BatchResults,
    BatchText,
    Handover,
    SendError,
    SendResult,
    TransportSink,
    TransportStatus,
)
from sms_gateway.modem_inbox import ModemInbox
from sms_gateway.modem_startup import ModemStartup
from sms_gateway.modem_store import StoredSends
from sms_gateway.pdu_codec import encode_submit
from sms_gateway.safe_text import printable
from sms_gateway.serial_port import ModemLost, SerialPort
from sms_gateway.settings import ModemSettings

log = logging.getLogger(__name__)

_DIALLABLE = re.compile(r"\+?[0-9]{3,15}")  # what may go in a PDU's address field


class GsmModemTransport:
    name = "modem"  # as the config names it (lines[].transports)

    def __init__(
        self,
        settings: ModemSettings,
        *,
        reconnect_min: float = 1.0,
        reconnect_max: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self.settings = settings
        self._sleep = sleep
        self._reconnect = (reconnect_min, reconnect_max)
        self._clock = clock
        self._channel = AtChannel(settings.command_timeout, self._link_lost)
        self._startup = ModemStartup(self._channel, settings)
        self._inbox = ModemInbox(self._channel, settings.sweep_seconds)
        self._sent_at: deque[float] = deque()
        self._stored = StoredSends(
            self._channel, settings.send_timeout, lambda: self._sent_at.append(self._clock())
        )
        self._port: SerialPort | None = None  # this connection's: run() opens and closes it
        self._ready = asyncio.Event()
        self._status = TransportStatus(self.name, detail="not started")
        self._logged_state = ""
        self.on_state: Callable[[bool, str], None] | None = None

    # ------------------------------------------------------------ public

    def status(self) -> TransportStatus:
        return self._status

    async def wait_ready(self) -> None:
        """Until the modem is open and initialised (wrap in ``asyncio.timeout``)."""
        await self._ready.wait()

    async def run(self, sink: TransportSink) -> None:
        failures = 0
        try:
            while True:
                try:
                    await self._connect()
                    failures = 0
                    await self._serve(sink)
                except (ModemLost, ModemError, OSError, TimeoutError) as exc:
                    # OSError takes in pyserial's SerialException, one of them.
                    failures += 1
                    self._set_status(False, _why(exc))
                finally:
                    await self._disconnect()
                delay = min(self._reconnect[1], self._reconnect[0] * 2.0 ** min(failures, 10))
                await asyncio.sleep(delay * (0.5 + random.random() / 2))
        finally:
            self._set_status(False, "stopped")

    async def send(
        self,
        to: str,
        body: str,
        *,
        key: int = 0,
        maybe_sent_before: bool = False,
        slots: Sequence[int] = (),
        on_handover: Handover | None = None,
        from_line: str | None = None,  # a modem texts from its SIM's number
    ) -> SendResult:
        """``key`` becomes the TP-MR of every part. Where the modem can, each
        part is written to its storage first and ``on_handover`` told the slots
        (:mod:`~sms_gateway.modem_store`); a text that may have gone out is then
        settled from them. Without them, a resend sets TP-RD so the SMSC
        rejects (CMS 197) a copy of what it already has."""
        _check_dialable(to)
        if not self._ready.is_set():
            raise SendError(f"modem not ready: {self._status.detail}", retryable=True)
        pdus = self._encode(to, body, key, maybe_sent_before)
        await self._rate_limit(len(pdus))  # waits outside the lock: incoming texts go on
        async with self._channel.lock:
            if self._stored.available:
                result = await self._stored.send(
                    pdus,
                    slots=slots,
                    resend=maybe_sent_before,
                    on_handover=on_handover,
                    send_plain=self._send_one,
                )
                if result is not None:
                    return result
            if on_handover is not None:
                await on_handover(())
            return await self._stored.send_plainly(
                pdus, resend=maybe_sent_before, send_plain=self._send_one
            )

    async def send_batch(
        self, texts: Sequence[BatchText], *, on_handover: BatchHandover
    ) -> BatchResults:
        """``send`` for fresh texts, through the modem's storage in one run
        (:meth:`StoredSends.send_batch`): every text written, one handover,
        every text sent; the slots are released by the caller afterwards, so
        no AT+CMGD comes between two sends. Left out for the caller to
        ``send``: all of them while the modem is not ready or has no
        store-and-send, and from the first that does not fit the rate limit
        now."""
        results: BatchResults = {}
        if not self._ready.is_set():
            return results
        encoded: dict[int, Sequence[Any]] = {}
        room = self._room()
        for text in texts:
            try:
                _check_dialable(text.to)
                pdus = self._encode(text.to, text.body, text.key, False)
            except SendError as exc:
                results[text.key] = exc
                continue
            # Nothing sent for 60 s: a text longer than the limit goes alone, as in send.
            alone = not encoded and room == self.settings.texts_per_minute
            if len(pdus) > room and not alone:
                break
            room -= len(pdus)
            encoded[text.key] = pdus
        async with self._channel.lock:
            if encoded and self._stored.available and self._ready.is_set():
                results |= await self._stored.send_batch(
                    encoded, on_handover=on_handover, send_plain=self._send_one
                )
        return results

    def holds(self, slots: Collection[int]) -> None:
        """The storage slots the outbox still holds for unsettled texts."""
        self._stored.holds(slots)

    async def release(self, slots: Sequence[int]) -> None:
        """The text kept in ``slots`` is settled: its parts leave the storage,
        with those released for later."""
        if self._ready.is_set():
            await self._stored.release(slots)
        else:
            self._stored.leave_to_tidy(slots)

    def release_later(self, slots: Sequence[int]) -> None:
        """Settled while more texts wait: see BatchSending.release_later."""
        self._stored.release_later(slots)

    # ------------------------------------------------------------ sending

    async def _send_one(self, pdu: Any) -> int:
        try:
            prompt = await self._channel.open_pdu_entry(pdu.tpduLength)
        except ModemLost as exc:
            raise SendError(str(exc), retryable=True) from None
        if isinstance(prompt, Response):
            raise cms_errors.send_error(prompt)
        try:
            reply = await self._channel.enter_pdu(str(pdu), self.settings.send_timeout)
        except ModemLost as exc:
            # The PDU was handed over, so the network may have it: the retry goes
            # as a possible duplicate (TP-RD, same TP-MR); a late +CMGS is dropped.
            raise SendError(
                f"{exc}; it may have gone out", retryable=True, maybe_sent=True
            ) from None
        if isinstance(reply, Prompt):
            raise SendError("unexpected second prompt", retryable=True, maybe_sent=True)
        if not reply.ok:
            raise cms_errors.send_error(reply)
        self._sent_at.append(self._clock())
        return sent_reference(reply)  # -1: sent, but no reference to match reports to

    def _encode(self, to: str, body: str, key: int, resend: bool) -> list[Any]:
        """The text's PDUs, ``key`` the TP-MR of every part (TP-RD set on a resend)."""
        try:
            return encode_submit(
                to,
                body,
                status_report=self.settings.delivery_reports,
                reference=key % 256,
                reject_duplicates=resend,
            )
        except (TypeError, ValueError) as exc:
            # python-gsmmodem's encoder trips on some characters (ÿ): say so, never crash.
            raise SendError(f"the text cannot be encoded: {exc}", retryable=False) from None

    def _room(self) -> int:
        """How many parts the rate limit lets go now."""
        now = self._clock()
        while self._sent_at and now - self._sent_at[0] >= 60:
            self._sent_at.popleft()
        return max(0, self.settings.texts_per_minute - len(self._sent_at))

    async def _rate_limit(self, parts: int) -> None:
        """At most ``texts_per_minute`` parts in any 60 s."""
        while True:
            if parts <= self._room() or not self._sent_at:
                return
            await self._sleep(60 - (self._clock() - self._sent_at[0]))

    # ------------------------------------------------------------ connection

    async def _connect(self) -> None:
        self._channel.restart()
        self._port = await SerialPort.open(
            self.settings, self._channel.data_received, self._channel.connection_lost
        )
        self._channel.attach(self._port)
        setup = await self._startup.run()
        self._inbox.restart(setup.storage)
        self._stored.available = setup.without_store_and_send is None
        detail = setup.detail
        self._status = TransportStatus(
            self.name, True, setup.registered, setup.signal, setup.operator, detail,
            extra={"store_and_send": setup.without_store_and_send or "yes"},
        )  # fmt: skip
        self._ready.set()
        self._set_status(True, detail)

    async def _disconnect(self) -> None:
        self._ready.clear()
        self._channel.detach()
        port, self._port = self._port, None
        if port is not None:
            await port.close()

    async def _serve(self, sink: TransportSink) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._inbox.handle_notifications(sink))
                tasks.create_task(self._inbox.sweep(sink))
                tasks.create_task(self._stored.tidy())
                raise ModemLost(await self._channel.until_lost())
        except BaseExceptionGroup as group:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # Cancelled as the link failed: the TaskGroup folds the cancel into
                # its error, and run() would reconnect forever. Honour the cancel.
                raise asyncio.CancelledError from None
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None

    def _link_lost(self, why: str) -> None:
        self._ready.clear()
        self._set_status(False, why)  # at once: a send in between says why, not "ready"

    def _set_status(self, connected: bool, detail: str) -> None:
        if not connected:
            self._status = TransportStatus(self.name, False, False, None, None, detail)
        state = f"{connected}:{detail.split(',')[0]}"
        if state != self._logged_state:  # once per change, not per retry
            self._logged_state = state
            if self.on_state is not None:
                self.on_state(connected, detail)
            level = logging.INFO if connected or detail == "stopped" else logging.WARNING
            log.log(level, "modem %s: %s", "up" if connected else "down", detail)

    # bench/latency.py's floor times a bare AT round trip through these two.
    @property
    def _lock(self) -> asyncio.Lock:
        return self._channel.lock

    async def _command(self, text: str) -> Response:
        return await self._channel.command(text)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return printable(str(exc)) or type(exc).__name__


def _check_dialable(to: str) -> None:
    """Only a number goes into a PDU's address (caller ID is untrusted)."""
    if not _DIALLABLE.fullmatch(to):
        raise SendError(f"not a phone number: {printable(to, 40)!r}", retryable=False)
