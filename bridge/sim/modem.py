"""A simulated USB GSM modem on a pseudo-terminal, for tests and the demo.

Two tiers, like the AMI double: :class:`ModemEngine` is the modem itself,
sans-I/O - AT command bytes in, response bytes out - answering the command set
python-gsmmodem uses (its init sequence, ``+CMGS`` with the ``> `` prompt and
``+CMGS: <mr>``, ``+CMGR``/``+CMGL``/``+CMGD`` on its message store) and
producing real SMS-DELIVER and SMS-STATUS-REPORT PDUs for incoming texts and
delivery reports. :class:`SimulatedModem` puts an engine behind a pty whose
slave path a transport opens like ``/dev/ttyUSB0``, and can unplug and replug
it. Every PDU the modem was asked to send is kept, decoded, for assertions.

Faults on cue: no answer at all, ``+CMS ERROR: <n>`` for the next sends,
garbage bytes on the line, a ``+CMTI`` slipped in just before a command's
``OK``, unplug and replug.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
import tty
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from gsmmodem import pdu as gsm_pdu

from sms_gateway.gsm_modem import join_surrogates

CTRL_Z = b"\x1a"
ESC = b"\x1b"
_GSM7_PART = 153  # septets per part when a concatenation header is present
_UCS2_PART = 67  # UTF-16 units per part likewise


# ------------------------------------------------------------------ PDUs


@dataclass(frozen=True, slots=True)
class SentPdu:
    """What the modem was asked to send, decoded."""

    pdu: str
    number: str
    text: str
    reference: int  # the TP-MR the DTE put in the PDU
    status_report_requested: bool
    concat: tuple[int, int, int] | None  # (reference, parts, this part) if multipart
    requested_at: float = 0.0  # the engine's clock when AT+CMGS arrived
    reject_duplicates: bool = False  # TP-RD: the SMSC drops a repeat of (TP-MR, number)


def decode_submit(pdu_hex: str) -> SentPdu:
    data = bytes.fromhex(pdu_hex)
    decoded = gsm_pdu.decodeSmsPdu(pdu_hex)
    concat = None
    for element in decoded.get("udh", []) or []:
        if isinstance(element, gsm_pdu.Concatenation):
            concat = (element.reference, element.parts, element.number)
    first_octet = data[1 + data[0]]
    return SentPdu(
        pdu=pdu_hex,
        number=decoded["number"],
        text=join_surrogates(str(decoded.get("text", ""))),
        reference=int(decoded["reference"]),
        status_report_requested=bool(first_octet & 0x20),
        concat=concat,
        reject_duplicates=bool(first_octet & 0x04),
    )


def deliver_pdus(
    sender: str,
    text: str,
    *,
    smsc: str = "+15125550000",
    at: datetime | None = None,
    concat_ref: int = 0,
) -> list[str]:
    """SMS-DELIVER PDU(s), hex, for ``text`` from ``sender``: one, or several
    with concatenation headers when it does not fit in one."""
    at = at or datetime.now(UTC)
    try:
        septets = gsm_pdu.encodeGsm7(text)
        gsm7 = True
    except ValueError:
        gsm7 = False
    if gsm7:
        single = len(septets) <= 160
        pieces = [septets] if single else list(_chunks(septets, _GSM7_PART))
    else:
        units = text.encode("utf-16-be")
        single = len(units) <= 140
        pieces = [units] if single else list(_utf16_chunks(units, _UCS2_PART))
    out = []
    for number, piece in enumerate(pieces, start=1):
        header = b"" if single else bytes([5, 0, 3, concat_ref & 0xFF, len(pieces), number])
        tpdu = bytearray([0x04 | (0x40 if header else 0)])  # SMS-DELIVER, no more messages
        tpdu += gsm_pdu._encodeAddressField(sender)
        tpdu += bytes([0x00, 0x00 if gsm7 else 0x08])  # PID, DCS
        tpdu += gsm_pdu._encodeTimestamp(at)
        if gsm7:
            # Septets start on a septet boundary after the header: 7 septets for a
            # 6-octet header. packSeptets takes that alignment as a shift, the way
            # python-gsmmodem's own SMS-SUBMIT encoder calls it.
            shift = (len(header) * 8) % 7
            header_septets = -(-len(header) * 8 // 7)
            tpdu.append(header_septets + len(piece))
            tpdu += header + gsm_pdu.packSeptets(piece, padBits=shift)
        else:
            tpdu.append(len(header) + len(piece))
            tpdu += header + piece
        out.append(str((gsm_pdu._encodeAddressField(smsc, smscField=True) + tpdu).hex().upper()))
    return out


def status_report_pdu(
    reference: int, number: str, *, delivered: bool = True, smsc: str = "+15125550000"
) -> str:
    now = datetime.now(UTC)
    tpdu = bytearray([0x06, reference & 0xFF])  # SMS-STATUS-REPORT
    tpdu += gsm_pdu._encodeAddressField(number)
    tpdu += gsm_pdu._encodeTimestamp(now) + gsm_pdu._encodeTimestamp(now)
    tpdu.append(0x00 if delivered else 0x41)  # 0x41: permanent error, no response from SME
    return str((gsm_pdu._encodeAddressField(smsc, smscField=True) + tpdu).hex().upper())


def _chunks(data: bytearray | bytes, size: int) -> Iterator[bytearray]:
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        if data[end - 1] == 0x1B and end < len(data):  # never split an escape pair
            end -= 1
        yield bytearray(data[start:end])
        start = end


def _utf16_chunks(data: bytes, units: int) -> Iterator[bytes]:
    start = 0
    while start < len(data):
        end = min(start + units * 2, len(data))
        if end < len(data) and 0xD8 <= data[end - 2] <= 0xDB:  # a high surrogate: keep the pair
            end -= 2
        yield data[start:end]
        start = end


# ------------------------------------------------------------------ the modem


@dataclass
class ModemEngine:
    """The modem's side of the serial line, with no I/O of its own."""

    manufacturer: str = "SimCom Sim"
    model: str = "SIM7600-SIM"
    smsc: str = "+15125550000"
    pin: str | None = None
    operator: str = "SimTel"
    signal: int = 20  # +CSQ rssi, 0-31, 99 unknown
    registered: bool = True
    echo: bool = True
    charset: str = "GSM"
    no_answer: bool = False  # swallow everything: a hung modem
    cms_errors: list[int] = field(default_factory=list)  # next sends fail with these
    cmti_before_next_ok: bool = False  # slip a +CMTI in before the next OK
    hold_prompt: bool = False  # take AT+CMGS but never show the "> " prompt
    hold_confirmation: bool = False  # send the text but never answer +CMGS
    sent: list[SentPdu] = field(default_factory=list)
    store: dict[int, tuple[int, str]] = field(default_factory=dict)  # index -> (stat, pdu)
    deleted: list[int] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    _pin_ok: bool = False
    _line: bytearray = field(default_factory=bytearray)
    _pdu_length: int | None = None  # inside AT+CMGS: waiting for PDU + Ctrl-Z
    _mr: Iterator[int] = field(default_factory=lambda: itertools.cycle(range(1, 256)))
    _pending_cmti: list[int] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    _cmgs_at: float = 0.0

    def __post_init__(self) -> None:
        self._pin_ok = self.pin is None

    # ---- bytes in, bytes out
    def feed(self, data: bytes) -> bytes:
        if self.no_answer:
            return b""
        out = bytearray()
        for byte in data:
            char = bytes([byte])
            if self._pdu_length is not None:
                out += self._pdu_byte(char)
                continue
            if char == b"\r":
                line = self._line.decode("latin-1")
                self._line.clear()
                if self.echo:
                    out += line.encode("latin-1") + b"\r"
                if line.strip():
                    out += self._command(line.strip())
            elif char != b"\n":
                self._line += char
        return bytes(out)

    def _pdu_byte(self, char: bytes) -> bytes:
        if char == ESC:  # the DTE gave up on this send
            self._pdu_length = None
            self._line.clear()
            return b"\r\nOK\r\n"
        if char != CTRL_Z:
            self._line += char
            return char if self.echo else b""
        pdu_hex = self._line.decode("latin-1").strip()
        self._line.clear()
        self._pdu_length = None
        if self.cms_errors:
            return f"\r\n+CMS ERROR: {self.cms_errors.pop(0)}\r\n".encode()
        try:
            submitted = replace(decode_submit(pdu_hex), requested_at=self._cmgs_at)
        except Exception:
            return b"\r\n+CMS ERROR: 304\r\n"  # invalid PDU mode parameter
        if submitted.reject_duplicates and any(
            (s.reference, s.number, s.concat)
            == (submitted.reference, submitted.number, submitted.concat)
            for s in self.sent
        ):
            # The SMSC already has this one: TP-FCS 0xC5 "SM rejected - duplicate SM".
            return b"\r\n+CMS ERROR: 197\r\n"
        self.sent.append(submitted)
        if self.hold_confirmation:
            return b""  # sent over the air; the answer never reaches the DTE
        return self._final(f"\r\n+CMGS: {next(self._mr)}\r\n")

    # ---- incoming texts and reports, for the runner to announce
    def receive(self, sender: str, text: str, *, concat_ref: int = 0) -> bytes:
        """Store an incoming text (several parts if long); the ``+CMTI`` lines to emit."""
        notices = bytearray()
        for pdu_hex in deliver_pdus(sender, text, smsc=self.smsc, concat_ref=concat_ref):
            index = self._free_slot()
            self.store[index] = (0, pdu_hex)
            notices += f'\r\n+CMTI: "ME",{index}\r\n'.encode()
        return bytes(notices)

    def _free_slot(self) -> int:
        """The lowest free index, as real modems reuse them."""
        return next(i for i in itertools.count(1) if i not in self.store)

    def status_report(self, reference: int, number: str, *, delivered: bool = True) -> bytes:
        """A ``+CDS`` unsolicited status report (``AT+CNMI=...,1`` routes them to the DTE)."""
        pdu_hex = status_report_pdu(reference, number, delivered=delivered, smsc=self.smsc)
        return f"\r\n+CDS: {len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)}\r\n{pdu_hex}\r\n".encode()

    # ---- commands
    def _final(self, body: str = "") -> bytes:
        cmti = b""
        if self.cmti_before_next_ok and self._pending_cmti:
            self.cmti_before_next_ok = False
            cmti = b"".join(f'\r\n+CMTI: "ME",{i}\r\n'.encode() for i in self._pending_cmti)
            self._pending_cmti.clear()
        return body.encode("latin-1") + cmti + b"\r\nOK\r\n"

    def slip_cmti(self, sender: str, text: str) -> None:
        """Store a text now and announce it just before the next command's OK."""
        for pdu_hex in deliver_pdus(sender, text, smsc=self.smsc):
            index = self._free_slot()
            self.store[index] = (0, pdu_hex)
            self._pending_cmti.append(index)
        self.cmti_before_next_ok = True

    def _command(self, line: str) -> bytes:
        self.commands.append(line)
        upper = line.upper()
        if not upper.startswith("AT"):
            return b"\r\nERROR\r\n"
        cmd = upper[2:]
        if cmd in ("", "Z", "&F"):
            self.echo = True
            return self._final()
        if cmd in ("E0", "E1"):
            self.echo = cmd == "E1"
            return self._final()
        if cmd == "+CPIN?":
            return self._final(f"\r\n+CPIN: {'READY' if self._pin_ok else 'SIM PIN'}\r\n")
        if cmd.startswith("+CPIN="):
            if line.split("=", 1)[1].strip('"') == self.pin:
                self._pin_ok = True
                return self._final()
            return b"\r\n+CME ERROR: 16\r\n"  # incorrect password
        if not self._pin_ok and cmd.startswith(("+CMGS", "+CMGR", "+CMGL", "+COPS?")):
            return b"\r\n+CME ERROR: 11\r\n"  # SIM PIN required
        if cmd == "+CFUN?":
            return self._final("\r\n+CFUN: 1\r\n")
        if cmd == "+CLAC":
            return self._final(
                "\r\n+CMGS\r\n+CMGR\r\n+CMGL\r\n+CMGD\r\n+CNMI\r\n+CPMS\r\n+CSCS\r\n"
                "+CSQ\r\n+CREG\r\n+VTS\r\n"
            )
        if cmd == "+CGMI":
            return self._final(f"\r\n{self.manufacturer}\r\n")
        if cmd == "+CGMM":
            return self._final(f"\r\n{self.model}\r\n")
        if cmd in ("+CGSN", "+GSN"):
            return self._final("\r\n867322030000000\r\n")
        if cmd == "+CSQ":
            return self._final(f"\r\n+CSQ: {self.signal},99\r\n")
        if cmd == "+CREG?":
            return self._final(f"\r\n+CREG: 0,{1 if self.registered else 2}\r\n")
        if cmd == "+COPS?":
            if not self.registered:
                return self._final("\r\n+COPS: 0\r\n")
            return self._final(f'\r\n+COPS: 0,0,"{self.operator}",7\r\n')
        if cmd == "+CSCA?":
            return self._final(
                f'\r\n+CSCA: "{self.smsc}",145\r\n' if self.smsc else '\r\n+CSCA: "",129\r\n'
            )
        if cmd.startswith("+CSCA="):
            self.smsc = line.split("=", 1)[1].split(",")[0].strip('"')
            return self._final()
        if cmd == "+CSCS=?":
            return self._final('\r\n+CSCS: ("GSM","UCS2","IRA")\r\n')
        if cmd == "+CSCS?":
            return self._final(f'\r\n+CSCS: "{self.charset}"\r\n')
        if cmd.startswith("+CSCS="):
            self.charset = line.split("=", 1)[1].strip('"')
            return self._final()
        if cmd == "+CPMS=?":
            return self._final('\r\n+CPMS: ("ME","SM","SR"),("ME","SM"),("ME","SM")\r\n')
        if cmd.startswith("+CPMS="):
            used = len(self.store)
            return self._final(f"\r\n+CPMS: {used},50,{used},50,{used},50\r\n")
        if cmd.startswith(("+CMGF=", "+CNMI=", "+CSMP=", "+COPS=", "+CLIP=", "+CRC=", "+CVHU=",
                           "+CMEE=", "+CFUN=")):  # fmt: skip
            return self._final()
        if cmd.startswith("+CMGS="):
            if not self.registered:
                return b"\r\n+CMS ERROR: 331\r\n"  # no network service
            self._pdu_length = int(cmd.split("=", 1)[1] or 0)
            self._cmgs_at = self.clock()
            if self.hold_prompt:
                self._pdu_length = None
                return b""
            return b"\r\n> "
        if cmd.startswith("+CMGR="):
            index = int(cmd.split("=", 1)[1])
            if index not in self.store:
                return b"\r\n+CMS ERROR: 321\r\n"  # invalid memory index
            stat, pdu_hex = self.store[index]
            self.store[index] = (1, pdu_hex)
            tpdu_len = len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)
            return self._final(f"\r\n+CMGR: {stat},,{tpdu_len}\r\n{pdu_hex}\r\n")
        if cmd.startswith("+CMGL"):
            wanted = cmd.split("=", 1)[1] if "=" in cmd else "4"
            body = ""
            for index, (stat, pdu_hex) in sorted(self.store.items()):
                if wanted in ("4", str(stat)):
                    tpdu_len = len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)
                    body += f"\r\n+CMGL: {index},{stat},,{tpdu_len}\r\n{pdu_hex}"
            return self._final(body + ("\r\n" if body else ""))
        if cmd.startswith("+CMGD="):
            args = [int(a) for a in cmd.split("=", 1)[1].split(",") if a]
            if len(args) > 1 and args[1] > 0:
                doomed = [i for i, (stat, _) in self.store.items() if args[1] >= 4 or stat == 1]
            else:
                doomed = [args[0]] if args and args[0] in self.store else []
            for index in doomed:
                del self.store[index]
                self.deleted.append(index)
            return self._final()
        return b"\r\nERROR\r\n"


class SimulatedModem:
    """A :class:`ModemEngine` on a pty. ``path`` is a stable symlink to the pty's
    slave, as udev gives a USB modem a stable name; unplugging removes it."""

    def __init__(self, path: Path, engine: ModemEngine | None = None):
        self.path = path
        self.engine = engine or ModemEngine()
        self._master: int | None = None
        self._slave: int | None = None

    async def start(self) -> SimulatedModem:
        master, slave = os.openpty()
        tty.setraw(slave)  # no line discipline: Ctrl-Z and CR pass through untouched
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        asyncio.get_running_loop().add_reader(master, self._readable)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.path.symlink_to(os.ttyname(slave))
        return self

    async def stop(self) -> None:
        self.unplug()

    async def __aenter__(self) -> SimulatedModem:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def unplug(self) -> None:
        """The USB cable is pulled: the device node goes away, reads fail."""
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def replug(self) -> None:
        """Back again: a fresh modem (echo on, PIN asked again), same SIM store."""
        self.unplug()
        self.engine.echo = True
        self.engine._pin_ok = self.engine.pin is None
        await self.start()

    def send_raw(self, data: bytes) -> None:
        """Unsolicited bytes from the modem: notifications, or garbage."""
        if self._master is not None:
            os.write(self._master, data)

    def receive(self, sender: str, text: str, *, concat_ref: int = 0) -> None:
        """An incoming text arrives; the modem announces it with ``+CMTI``."""
        self.send_raw(self.engine.receive(sender, text, concat_ref=concat_ref))

    def status_report(self, reference: int, number: str, *, delivered: bool = True) -> None:
        self.send_raw(self.engine.status_report(reference, number, delivered=delivered))

    def _readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # EIO: nobody has the port open right now
        reply = self.engine.feed(data)
        if reply:
            os.write(self._master, reply)
