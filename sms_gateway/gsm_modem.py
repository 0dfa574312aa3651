"""SMS through a USB GSM modem: python-gsmmodem's PDU codec, our own AT I/O.

What is kept from python-gsmmodem-new is its PDU codec (``gsmmodem.pdu``):
SMS-SUBMIT encoding with GSM-7/UCS-2 and concatenation, and decoding of
SMS-DELIVER and status reports. Its serial and command layer is replaced
(:mod:`sms_gateway.at_session` says why): it blocks in threads, swallows
notifications, dies on one bad byte, ignores ``+CMT``, forces RTS/CTS on.
Local fixes to the codec, each named where it is made:

- emoji: the UCS-2 encoder takes one code point per 16-bit unit, so text
  goes in as UTF-16 code units (surrogate pairs for emoji) and comes back
  out of the decoder joined again;
- a status report is requested only when ``delivery_reports`` is on, and
  every part's reference is kept, not only the last one's.

The port is opened with pyserial in a worker thread and read with the event
loop's reader callback; writes go through a worker thread too. ``run`` is the
one reconnect loop: an unplugged or silent modem is closed, reported once,
and retried with backoff while texts wait in the outbox.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sms_gateway import cms_errors
from sms_gateway.at_answers import (
    listed,
    sent_reference,
    stored_at,
    stored_pdu,
)
from sms_gateway.at_channel import AtChannel, ModemError
from sms_gateway.at_session import Prompt, Response
from sms_gateway.base import (
    DeliveryReport,
    IncomingText,
    SendError,
    SendResult,
    TransportSink,
    TransportStatus,
)
from sms_gateway.modem_startup import ModemStartup, Storage
from sms_gateway.pdu_codec import (
    STATUS_REPORT,
    TextPart,
    UndecodablePdu,
    decode_report,
    decode_stored,
    encode_submit,
    pdu_type,
)
from sms_gateway.safe_text import printable
from sms_gateway.serial_port import ModemLost, SerialPort
from sms_gateway.settings import ModemSettings

log = logging.getLogger(__name__)

_DUPLICATE = 197  # +CMS ERROR: TP-FCS 0xC5, the SMSC already has this message
_DIALLABLE = re.compile(r"\+?[0-9]{3,15}")  # what may go in a PDU's address field


class GsmModemTransport:
    name = "gsm-modem"

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
        self._port: SerialPort | None = None  # this connection's: run() opens and closes it
        self._reports_lock = asyncio.Lock()  # one reader of stored reports at a time
        self._ready = asyncio.Event()
        self._sent_at: deque[float] = deque()
        self._parts: dict[tuple[str, int], dict[int, tuple[int, str]]] = {}
        self._first_sent: dict[tuple[str, int], datetime | None] = {}  # a long text's time
        self._reading: set[int] = set()  # SIM slots being read or deleted right now
        self._storage = Storage()  # where the last start-up found texts and reports
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
        from_line: str | None = None,  # a modem texts from its SIM's number
    ) -> SendResult:
        """``key`` becomes the TP-MR of every part; a resend of a text that may
        have gone out (a crash, a timeout after the PDU) sets TP-RD so the SMSC
        rejects (CMS 197) a copy of what it already has."""
        if not _DIALLABLE.fullmatch(to):
            raise SendError(f"not a phone number: {printable(to, 40)!r}", retryable=False)
        if not self._ready.is_set():
            raise SendError(f"modem not ready: {self._status.detail}", retryable=True)
        try:
            pdus = encode_submit(
                to,
                body,
                status_report=self.settings.delivery_reports,
                reference=key % 256,
                reject_duplicates=maybe_sent_before,
            )
        except (TypeError, ValueError) as exc:
            # python-gsmmodem's encoder trips on some characters (ÿ): say so, never crash.
            raise SendError(f"the text cannot be encoded: {exc}", retryable=False) from None
        await self._rate_limit(len(pdus))  # waits outside the lock: incoming texts go on
        async with self._channel.lock:
            return await self._send_parts(pdus, key % 256, maybe_sent_before)

    async def _send_parts(self, pdus: list[Any], reference: int, resend: bool) -> SendResult:
        references: list[int] = []
        duplicates = 0
        for pdu in pdus:
            try:
                references.append(await self._send_one(pdu))
            except SendError as exc:
                if not (resend and exc.code == _DUPLICATE):
                    # Parts before this one went out: the retry must not send them twice.
                    exc.maybe_sent = exc.maybe_sent or bool(references)
                    raise
                duplicates += 1  # this part went out before
                references.append(reference)
        return SendResult(tuple(references), len(pdus), already_sent=duplicates == len(pdus))

    # bench/latency.py's floor times a bare AT round trip through these two.
    @property
    def _lock(self) -> asyncio.Lock:
        return self._channel.lock

    async def _command(self, text: str) -> Response:
        return await self._channel.command(text)

    # ------------------------------------------------------------ connection

    async def _connect(self) -> None:
        self._channel.restart()
        self._reading.clear()
        self._parts.clear()  # the sweep finds every part again on the SIM
        self._first_sent.clear()
        self._port = await SerialPort.open(
            self.settings, self._channel.data_received, self._channel.connection_lost
        )
        self._channel.attach(self._port)
        setup = await self._startup.run()
        self._storage = setup.storage
        detail = setup.detail
        self._status = TransportStatus(
            self.name, True, setup.registered, setup.signal, setup.operator, detail
        )
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
                tasks.create_task(self._handle_notifications(sink))
                tasks.create_task(self._sweep(sink))
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

    # ------------------------------------------------------------ I/O

    async def _send_one(self, pdu: Any) -> int:
        try:
            prompt = await self._channel.open_pdu_entry(pdu.tpduLength)
        except ModemLost as exc:
            raise SendError(str(exc), retryable=True) from None
        if isinstance(prompt, Response):
            raise _send_error(prompt)
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
            raise _send_error(reply)
        self._sent_at.append(self._clock())
        return sent_reference(reply)  # -1: sent, but no reference to match reports to

    async def _rate_limit(self, parts: int) -> None:
        """At most ``texts_per_minute`` parts in any 60 s."""
        limit = self.settings.texts_per_minute
        while True:
            now = self._clock()
            while self._sent_at and now - self._sent_at[0] >= 60:
                self._sent_at.popleft()
            if len(self._sent_at) + parts <= limit or not self._sent_at:
                return
            await self._sleep(60 - (now - self._sent_at[0]))

    # ------------------------------------------------------------ what arrives

    async def _handle_notifications(self, sink: TransportSink) -> None:
        while True:
            note = await self._channel.notification()
            kind = note.kind
            stored = stored_at(note.line)
            if kind == "CMTI" and stored:
                await self._read_stored(stored[1], sink)
            elif kind == "CDSI" and stored:
                await self._stored_report(*stored, sink)
            elif kind == "CMT" and note.pdu:
                await self._deliver(note.pdu, None, sink)  # +CMT: the library ignores these
            elif kind == "CDS" and note.pdu:
                await self._report(note.pdu, sink)
            elif kind == "CMGS":
                log.info("modem: a text it had not confirmed in time went out after all (%s)",
                         printable(note.line))  # fmt: skip
            else:
                log.debug("modem said %s", printable(note.line))

    async def _sweep(self, sink: TransportSink) -> None:
        """Read every stored text and report now and then: some modems (Huawei)
        announce texts on another port, some announce nothing, and what arrived
        while we were down was never announced to us at all."""
        while True:
            if self._storage.can_read:
                async with self._channel.lock:
                    reply = await self._channel.command("AT+CMGL=4")
                for index, pdu_hex in listed(reply):
                    await self._deliver(pdu_hex, index, sink)
            await self._sweep_reports(sink)
            await asyncio.sleep(self.settings.sweep_seconds)

    async def _read_stored(self, index: int, sink: TransportSink) -> str | None:
        """Read the text (or report) in ``index``; what kind it was, if read."""
        if index in self._claimed():
            return None  # being read already, or a part waiting for the others
        async with self._channel.lock:
            reply = await self._channel.command(f"AT+CMGR={index}")
        pdu_hex = stored_pdu(reply)
        return None if pdu_hex is None else await self._deliver(pdu_hex, index, sink)

    def _claimed(self) -> set[int]:
        """SIM slots a +CMTI or a sweep must leave alone: being read or
        deleted, or holding a part whose other parts have not come yet. Derived,
        never kept: a slot is free again the moment its text is gone."""
        waiting = {i for parts in self._parts.values() for i, _ in parts.values()}
        return self._reading | waiting

    async def _deliver(self, pdu_hex: str, index: int | None, sink: TransportSink) -> str | None:
        # A +CMTI and a sweep can both find the same SIM slot before it is deleted.
        if index is not None:
            if index in self._claimed():
                return None
            self._reading.add(index)
        try:
            return await self._deliver_claimed(pdu_hex, index, sink)
        finally:
            if index is not None:
                self._reading.discard(index)

    async def _deliver_claimed(
        self, pdu_hex: str, index: int | None, sink: TransportSink
    ) -> str | None:
        try:
            message = decode_stored(pdu_hex, datetime.now(UTC))
        except UndecodablePdu as exc:
            log.warning("modem: skipped an undecodable stored message %s: %s", index, exc)
            return None
        if isinstance(message, DeliveryReport):
            await sink.delivery_report(message)
            await self._delete(index)
            return STATUS_REPORT
        if isinstance(message, IncomingText):
            await sink.incoming_text(message)
            await self._delete(index)  # only now: the store has it
        else:
            await self._collect_part(message, index, sink)
        return "SMS-DELIVER"

    async def _collect_part(self, part: TextPart, index: int | None, sink: TransportSink) -> None:
        key = (part.sender, part.reference)
        parts = self._parts.setdefault(key, {})
        parts[part.number] = (index if index is not None else -1, part.body)
        if part.number == 1:
            self._first_sent[key] = part.network_time
        if len(parts) < part.parts:
            return  # the rest is on its way; the parts stay on the SIM until then
        del self._parts[key]
        slots = {i for i, _ in parts.values() if i >= 0}
        self._reading |= slots  # still claimed until deleted: a sweep must not start over
        try:
            body = "".join(parts[n][1] for n in sorted(parts))
            sent = self._first_sent.pop(key, None)  # the text's own time: its first part's
            incoming = IncomingText(
                part.sender, body, datetime.now(UTC), len(parts), network_time=sent
            )
            await sink.incoming_text(incoming)
            for slot in sorted(slots):
                await self._delete(slot)
        finally:
            self._reading -= slots

    async def _stored_report(self, mem: str, index: int, sink: TransportSink) -> None:
        """+CDSI: a status report kept in ``mem``: read it there, then delete it."""
        if not mem or mem == self._storage.texts_in:
            found = await self._read_stored(index, sink)  # kept among the texts
        else:
            found = await self._read_report(mem, index, sink)
        if found != STATUS_REPORT:
            await self._sweep_reports(sink)  # Quectel EC25 names SM but keeps it in SR

    async def _read_report(self, mem: str, index: int, sink: TransportSink) -> str | None:
        async with self._reports_lock:
            replies = await self._channel.in_storage(
                mem, self._storage.texts_in, f"AT+CMGR={index}"
            )
            pdu_hex = stored_pdu(replies[0]) if replies else None
            if pdu_hex is None or pdu_type(pdu_hex) != STATUS_REPORT:
                return None
            await self._report(pdu_hex, sink)
            await self._channel.in_storage(
                mem, self._storage.texts_in, f"AT+CMGD={index}"
            )  # only now: the store has it
            return STATUS_REPORT

    async def _sweep_reports(self, sink: TransportSink) -> None:
        """Status reports kept in SR: with <ds>=0, or when a +CDSI was missed or wrong."""
        mem = self._storage.reports_in
        if mem is None:
            return
        async with self._reports_lock:
            replies = await self._channel.in_storage(mem, self._storage.texts_in, "AT+CMGL=4")
            handled = []
            for index, pdu_hex in listed(replies[0]) if replies else []:
                if pdu_type(pdu_hex) == STATUS_REPORT:
                    await self._report(pdu_hex, sink)
                    handled.append(index)
            if handled:
                await self._channel.in_storage(
                    mem, self._storage.texts_in, *(f"AT+CMGD={i}" for i in handled)
                )

    async def _report(self, pdu_hex: str, sink: TransportSink) -> None:
        try:
            report = decode_report(pdu_hex, datetime.now(UTC))
        except UndecodablePdu as exc:
            log.warning("modem: skipped an undecodable status report: %s", exc)
            return
        await sink.delivery_report(report)

    async def _delete(self, index: int | None) -> None:
        if index is None:
            return
        async with self._channel.lock:
            await self._channel.command(f"AT+CMGD={index}")


# ------------------------------------------------------------------ answers


def _send_error(reply: Response) -> SendError:
    code = reply.error_code
    if code is None:
        return SendError(f"the modem answered {reply.final}", retryable=True)
    meaning, retryable = cms_errors.describe(code)
    return SendError(f"+CMS ERROR {code}: {meaning}", retryable=retryable, code=code)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return printable(str(exc)) or type(exc).__name__
