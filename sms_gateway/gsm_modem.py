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
import os
import random
import re
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import serial
from gsmmodem import pdu as gsm_pdu

from bridge.config import ModemConfig
from bridge.safe_text import printable
from sms_gateway import cms_errors
from sms_gateway.at_session import AtSession, Event, Notification, Prompt, Response
from sms_gateway.base import (
    DeliveryReport,
    IncomingText,
    SendError,
    SendResult,
    TransportSink,
    TransportStatus,
)

log = logging.getLogger(__name__)

_CMGL = re.compile(r"^\+CMGL:\s*(\d+),")
_DUPLICATE = 197  # +CMS ERROR: TP-FCS 0xC5, the SMSC already has this message
_DIALLABLE = re.compile(r"\+?[0-9]{3,15}")  # what may go in a PDU's address field
_CMTI = re.compile(r'^\+CMTI:\s*"?([A-Z]*)"?,\s*(\d+)')


class ModemLost(Exception):
    """The port went away, or the modem stopped answering."""


class ModemError(Exception):
    """The modem refused something it needs to work (PIN, registration...)."""


class SerialPort:
    """A serial device read by the event loop; opened and written in a worker thread."""

    def __init__(
        self, device: Any, on_data: Callable[[bytes], None], on_lost: Callable[[str], None]
    ):
        self._device = device
        self._fd: int = device.fileno()
        self._on_data = on_data
        self._on_lost = on_lost
        asyncio.get_running_loop().add_reader(self._fd, self._readable)

    @classmethod
    async def open(
        cls,
        settings: ModemConfig,
        on_data: Callable[[bytes], None],
        on_lost: Callable[[str], None],
    ) -> SerialPort:
        device = await asyncio.to_thread(
            serial.Serial,
            str(settings.port),
            settings.baudrate,
            timeout=0,
            write_timeout=5,
            rtscts=settings.flow_control,  # the library forces this on; many modems want it off
            dsrdtr=False,
            exclusive=True,
        )
        return cls(device, on_data, on_lost)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(f"read failed: {exc.strerror or exc}")
            return
        if not data:
            self._lost("the device closed")
            return
        self._on_data(data)

    def _lost(self, why: str) -> None:
        self._stop_reading()
        self._on_lost(why)

    def _stop_reading(self) -> None:
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            self._fd = -1

    async def write(self, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._device.write, data)
        except (serial.SerialException, OSError) as exc:
            raise ModemLost(f"write failed: {exc}") from None

    async def close(self) -> None:
        self._stop_reading()
        await asyncio.to_thread(self._device.close)


class GsmModemTransport:
    name = "gsm-modem"

    def __init__(
        self,
        settings: ModemConfig,
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
        self._session = AtSession()
        self._port: SerialPort | None = None
        self._lock = asyncio.Lock()  # one command (or one send) at a time
        self._waiter: asyncio.Future[Response | Prompt] | None = None
        self._ready = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._notifications: asyncio.Queue[Notification] = asyncio.Queue()
        self._sent_at: deque[float] = deque()
        self._parts: dict[tuple[str, int], dict[int, tuple[int, str]]] = {}
        self._reading: set[int] = set()  # SIM slots being read or deleted right now
        self._status = TransportStatus(self.name, detail="not started")
        self._logged_state = ""
        self._pin_refused = False

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
                except (
                    ModemLost,
                    ModemError,
                    OSError,
                    serial.SerialException,
                    TimeoutError,
                ) as exc:
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
        """``key`` becomes the TP-MR of every part; a resend after a crash sets
        TP-RD so the SMSC rejects (CMS 197) a copy of what it already has."""
        if not _DIALLABLE.fullmatch(to):
            raise SendError(f"not a phone number: {printable(to, 40)!r}", retryable=False)
        if not self._ready.is_set():
            raise SendError(f"modem not ready: {self._status.detail}", retryable=True)
        pdus = encode_submit(
            to,
            body,
            status_report=self.settings.delivery_reports,
            reference=key % 256,
            reject_duplicates=maybe_sent_before,
        )
        await self._rate_limit(len(pdus))  # waits outside the lock: incoming texts go on
        duplicates = 0
        async with self._lock:
            references = []
            for pdu in pdus:
                try:
                    references.append(await self._send_one(pdu))
                except SendError as exc:
                    if not (maybe_sent_before and exc.code == _DUPLICATE):
                        raise
                    duplicates += 1  # this part went out before the crash
                    references.append(key % 256)
        return SendResult(tuple(references), len(pdus), already_sent=duplicates == len(pdus))

    # ------------------------------------------------------------ connection

    async def _connect(self) -> None:
        self._session.restart()
        self._reading.clear()
        self._parts.clear()  # the sweep finds every part again on the SIM
        self._lost.clear()
        try:
            self._port = await SerialPort.open(self.settings, self._on_data, self._on_lost)
        except (serial.SerialException, OSError) as exc:
            raise ModemLost(f"cannot open {self.settings.port}: {_short(exc)}") from None
        await self._initialise()

    async def _disconnect(self) -> None:
        self._ready.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ModemLost(self._lost_reason or "disconnected"))
        port, self._port = self._port, None
        if port is not None:
            await port.close()

    async def _serve(self, sink: TransportSink) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._handle_notifications(sink))
                tasks.create_task(self._sweep(sink))
                await self._lost.wait()
                raise ModemLost(self._lost_reason)
        except BaseExceptionGroup as group:
            first = group.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None

    async def _initialise(self) -> None:
        s = self.settings
        for command in ("ATZ", "ATE0", "AT+CMEE=1"):
            await self._expect_ok(command)
        pin_state = (await self._command("AT+CPIN?")).line_starting("+CPIN:") or ""
        if "SIM PIN" in pin_state:
            if s.pin is None:
                raise ModemError("the SIM asks for a PIN: set modem.pin")
            if self._pin_refused:
                # Never try a refused PIN again: three wrong tries lock the SIM (PUK).
                raise ModemError("the SIM refused modem.pin; fix it and restart textback")
            reply = await self._command(f'AT+CPIN="{s.pin.get_secret_value()}"', 15)
            if not reply.ok:
                self._pin_refused = True
                raise ModemError(f"the SIM refused the PIN ({reply.final})")
        elif "READY" not in pin_state:
            raise ModemError(f"SIM not ready: {printable(pin_state) or 'no answer to AT+CPIN?'}")
        await self._expect_ok("AT+CMGF=0")  # PDU mode
        smsc_line = (await self._command("AT+CSCA?")).line_starting("+CSCA:") or ""
        if s.smsc and not re.search(r'"\+?\d{3,}"', smsc_line):  # the SIM has no SMS centre
            await self._expect_ok(f'AT+CSCA="{s.smsc}",145')
        await self._command('AT+CPMS="ME","ME","ME"')  # a modem without ME storage keeps SM
        await self._expect_ok(f"AT+CNMI={s.cnmi}")
        await self._refresh_status()

    async def _refresh_status(self) -> None:
        creg = (await self._command("AT+CREG?")).line_starting("+CREG:") or ""
        registered = bool(re.search(r",\s*[15]\b", creg))
        csq = (await self._command("AT+CSQ")).line_starting("+CSQ:") or ""
        match = re.search(r"(\d+),", csq)
        signal = int(match.group(1)) if match and match.group(1) != "99" else None
        cops = (await self._command("AT+COPS?")).line_starting("+COPS:") or ""
        operator = cops.split('"')[1] if cops.count('"') >= 2 else None
        self._status = TransportStatus(
            self.name,
            True,
            registered,
            signal,
            operator,
            "ready" if registered else "not registered",
        )
        self._ready.set()
        if registered:
            self._set_status(True, f"ready on {operator or 'the network'}, signal {signal}")
        else:
            self._set_status(True, "connected, but the SIM is not registered on a network")

    def _set_status(self, connected: bool, detail: str) -> None:
        if not connected:
            self._status = TransportStatus(self.name, False, False, None, None, detail)
        state = f"{connected}:{detail.split(',')[0]}"
        if state != self._logged_state:  # once per change, not per retry
            self._logged_state = state
            level = logging.INFO if connected or detail == "stopped" else logging.WARNING
            log.log(level, "modem %s: %s", "up" if connected else "down", detail)

    # ------------------------------------------------------------ I/O

    def _on_data(self, data: bytes) -> None:
        for event in self._session.feed(data):
            self._dispatch(event)

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Notification):
            self._notifications.put_nowait(event)
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(event)

    def _on_lost(self, why: str) -> None:
        self._lost_reason = why
        self._ready.clear()
        self._lost.set()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ModemLost(why))

    async def _exchange(self, data: bytes, within: float) -> Response | Prompt:
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
            self._session.abandon()
            self._on_lost("the modem stopped answering")  # reopen it: no half-state survives
            raise ModemLost("the modem stopped answering") from None
        finally:
            self._waiter = None
            if waiter.done() and not waiter.cancelled():
                waiter.exception()  # seen here; nobody else will look
            waiter.cancel()

    async def _command(self, text: str, within: float | None = None) -> Response:
        reply = await self._exchange(
            self._session.command(text), within or self.settings.command_timeout
        )
        if isinstance(reply, Prompt):  # only AT+CMGS prompts, and that goes through _send_one
            raise ModemLost(f"unexpected prompt after {text}")
        return reply

    async def _expect_ok(self, text: str) -> None:
        reply = await self._command(text)
        if not reply.ok:
            raise ModemError(f"{text} failed: {reply.final}")

    async def _send_one(self, pdu: Any) -> int:
        try:
            prompt = await self._exchange(
                self._session.command(f"AT+CMGS={pdu.tpduLength}"), self.settings.command_timeout
            )
            if isinstance(prompt, Response):
                raise _send_error(prompt)
            reply = await self._exchange(self._session.submit(str(pdu)), self.settings.send_timeout)
        except ModemLost as exc:
            raise SendError(str(exc), retryable=True) from None
        if isinstance(reply, Prompt) or not reply.ok:
            raise (
                _send_error(reply)
                if isinstance(reply, Response)
                else SendError("unexpected second prompt", retryable=True)
            )
        line = reply.line_starting("+CMGS:") or ""
        self._sent_at.append(self._clock())
        try:
            return int(line.split(":", 1)[1].split(",")[0])
        except (IndexError, ValueError):
            return -1  # sent; the modem gave no reference to match reports to

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
            note = await self._notifications.get()
            kind = note.kind
            if kind == "CMTI":
                match = _CMTI.match(note.line)
                if match:
                    await self._read_stored(int(match.group(2)), sink)
            elif kind == "CMT" and note.pdu:
                await self._deliver(note.pdu, None, sink)  # +CMT: the library ignores these
            elif kind == "CDS" and note.pdu:
                await self._report(note.pdu, sink)
            else:
                log.debug("modem said %s", printable(note.line))

    async def _sweep(self, sink: TransportSink) -> None:
        """Read every stored text now and then: some modems (Huawei) announce
        texts on another port, and a text that arrived while we were down
        was never announced to us at all."""
        while True:
            async with self._lock:
                reply = await self._command("AT+CMGL=4")
            pending = None
            for line in reply.lines:
                match = _CMGL.match(line)
                if match:
                    pending = int(match.group(1))
                elif pending is not None:
                    await self._deliver(line, pending, sink)
                    pending = None
            await asyncio.sleep(self.settings.sweep_seconds)

    async def _read_stored(self, index: int, sink: TransportSink) -> None:
        if index in self._claimed():
            return  # being read already, or a part waiting for the others
        async with self._lock:
            reply = await self._command(f"AT+CMGR={index}")
        if reply.ok and len(reply.lines) >= 2:
            await self._deliver(reply.lines[1], index, sink)

    def _claimed(self) -> set[int]:
        """SIM slots a +CMTI or a sweep must leave alone: being read or
        deleted, or holding a part whose other parts have not come yet. Derived,
        never kept: a slot is free again the moment its text is gone."""
        waiting = {i for parts in self._parts.values() for i, _ in parts.values()}
        return self._reading | waiting

    async def _deliver(self, pdu_hex: str, index: int | None, sink: TransportSink) -> None:
        # A +CMTI and a sweep can both find the same SIM slot before it is deleted.
        if index is not None:
            if index in self._claimed():
                return
            self._reading.add(index)
        try:
            await self._deliver_claimed(pdu_hex, index, sink)
        finally:
            if index is not None:
                self._reading.discard(index)

    async def _deliver_claimed(self, pdu_hex: str, index: int | None, sink: TransportSink) -> None:
        try:
            decoded = gsm_pdu.decodeSmsPdu(pdu_hex)
        except Exception as exc:
            log.warning("modem: skipped an undecodable stored message %s: %s", index, exc)
            return
        if decoded.get("type") == "SMS-STATUS-REPORT":
            await self._report(pdu_hex, sink)
            await self._delete(index)
            return
        sender = str(decoded.get("number", ""))
        text = join_surrogates(str(decoded.get("text", "")))
        concat = next(
            (e for e in decoded.get("udh", []) or [] if isinstance(e, gsm_pdu.Concatenation)), None
        )
        if concat is None:
            await sink.incoming_text(IncomingText(sender, text, datetime.now(UTC)))
            await self._delete(index)  # only now: the store has it
            return
        key = (sender, int(concat.reference))
        parts = self._parts.setdefault(key, {})
        parts[int(concat.number)] = (index if index is not None else -1, text)
        if len(parts) < int(concat.parts):
            return  # the rest is on its way; the parts stay on the SIM until then
        del self._parts[key]
        slots = {i for i, _ in parts.values() if i >= 0}
        self._reading |= slots  # still claimed until deleted: a sweep must not start over
        try:
            body = "".join(parts[n][1] for n in sorted(parts))
            await sink.incoming_text(IncomingText(sender, body, datetime.now(UTC), len(parts)))
            for slot in sorted(slots):
                await self._delete(slot)
        finally:
            self._reading -= slots

    async def _report(self, pdu_hex: str, sink: TransportSink) -> None:
        try:
            decoded = gsm_pdu.decodeSmsPdu(pdu_hex)
        except Exception as exc:
            log.warning("modem: skipped an undecodable status report: %s", exc)
            return
        status = int(decoded.get("status", 0xFF))
        await sink.delivery_report(
            DeliveryReport(
                reference=int(decoded.get("reference", -1)),
                recipient=str(decoded.get("number", "")),
                delivered=status < 0x20,  # 0x00-0x1F: delivered (TS 23.040 9.2.3.15)
                status=status,
                at=datetime.now(UTC),
            )
        )

    async def _delete(self, index: int | None) -> None:
        if index is None:
            return
        async with self._lock:
            await self._command(f"AT+CMGD={index}")


# ------------------------------------------------------------------ codec fixes


def encode_submit(
    to: str,
    body: str,
    *,
    status_report: bool,
    reference: int = 0,
    reject_duplicates: bool = False,
) -> list[Any]:
    """SMS-SUBMIT PDUs for ``body``. Emoji fix: feed the encoder UTF-16 units."""
    units = _utf16_units(body)
    return list(
        gsm_pdu.encodeSmsSubmitPdu(
            to,
            units,
            reference=reference,
            requestStatusReport=status_report,
            rejectDuplicates=reject_duplicates,
        )
    )


def _utf16_units(text: str) -> str:
    if all(ord(ch) < 0x10000 for ch in text):
        return text
    raw = text.encode("utf-16-be")
    return "".join(chr(unit) for unit in struct.unpack(f">{len(raw) // 2}H", raw))


def join_surrogates(text: str) -> str:
    """The decoder's UCS-2 output, with emoji (surrogate pairs) joined again."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _send_error(reply: Response) -> SendError:
    code = reply.error_code
    if code is None:
        return SendError(f"the modem answered {reply.final}", retryable=True)
    meaning, retryable = cms_errors.describe(code)
    return SendError(f"+CMS ERROR {code}: {meaning}", retryable=retryable, code=code)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text.split(": ", 1)[-1] if "[Errno" in text else text


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return printable(str(exc)) or type(exc).__name__
