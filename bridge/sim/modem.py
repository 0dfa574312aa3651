"""A simulated USB GSM modem, for tests and the demo: the engine, sans-I/O.

Two tiers, like the AMI double: :class:`ModemEngine` is the modem itself,
sans-I/O - AT command bytes in, response bytes out - answering the command set
python-gsmmodem uses (its init sequence, ``+CMGS`` with the ``> `` prompt and
``+CMGS: <mr>``, ``+CMGR``/``+CMGL``/``+CMGD`` on its message store) and
store-and-send (``+CMGW`` into storage, ``+CMSS`` from it; PDU mode), and
producing real SMS-DELIVER and SMS-STATUS-REPORT PDUs for incoming texts and
delivery reports (:mod:`bridge.sim.modem_pdus`). ``SimulatedModem``
(:mod:`bridge.sim.modem_pty`) puts an engine behind a pty whose slave path a
transport opens like ``/dev/ttyUSB0``, and can unplug and replug it. Every PDU
the modem was asked to send is kept, decoded, for assertions.

A ``ModemProfile`` (:mod:`bridge.sim.modem_profile`) makes the engine answer
like one real model (the profiles in ``tests/fixtures/modems/``): scripted
replies, what works before the PIN, where delivery reports are kept, URCs slipped into replies.

Faults on cue: no answer at all, ``+CMS ERROR: <n>`` for the next sends,
garbage bytes on the line, a ``+CMTI`` slipped in just before a command's
``OK``, a prompt that never comes (the modem still waits for the PDU), a
confirmation that only comes after the DTE stopped waiting, one that comes
only after a delay while the modem is busy, an SMSC that ignores TP-RD, unplug
and replug.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bridge.sim.modem_pdus import (
    SentPdu,
    decode_submit,
    deliver_pdus,
    status_report_pdu,
    tpdu_length,
)
from bridge.sim.modem_profile import ModemProfile
from bridge.sim.modem_slots import (
    ALL,
    REC_READ,
    REC_UNREAD,
    STO_SENT,
    STO_UNSENT,
    Slots,
    doomed,
    free_slot,
    listed,
)

CTRL_Z = b"\x1a"
ESC = b"\x1b"
_SUPPORTED = ("+CMGS", "+CMGR", "+CMGL", "+CMGD", "+CNMI", "+CPMS", "+CSCS", "+CSQ", "+CREG")
_STORE_AND_SEND = ("+CMGW", "+CMSS")


# ------------------------------------------------------------------ the modem


@dataclass(frozen=True, slots=True)
class _PduEntry:
    """Inside AT+CMGS or AT+CMGW: the modem waits for the PDU and Ctrl-Z."""

    command: str  # "+CMGS" or "+CMGW"
    length: int  # the <length> the DTE gave (not checked against the PDU)
    stat: int = STO_UNSENT  # AT+CMGW's <stat>


@dataclass(frozen=True, slots=True)
class _Owed:
    """A send on the air whose confirmation the confirm_delay holds back."""

    reply: bytes  # "+CMGS: <mr>" / "+CMSS: <mr>" and OK
    due: float  # the engine's clock when it is due
    slot: tuple[str, int] | None = None  # AT+CMSS: (storage, index), stat 3 on confirm()
    pdu: str = ""


@dataclass
class ModemEngine:
    """The modem's side of the serial line, with no I/O of its own.

    New texts go to ``store`` and are announced with ``+CMTI`` when the last
    ``AT+CNMI`` set ``<mt>`` (the power-on setting announces nothing, as TS
    27.005 says). Status reports follow ``<ds>``: 1 sends them as ``+CDS``,
    2 stores them (in ``reports``, the SR storage, unless the profile says
    otherwise) and announces ``+CDSI``; 0 stores them without a word (an
    assumption: models differ, many keep them). Reading a slot takes the
    storage the last ``AT+CPMS`` chose; new texts take the lowest free slot.

    Store and send (TS 27.005 3.5.3, 3.5.4): ``AT+CMGW`` writes an SMS-SUBMIT
    to ``<mem2>`` with stat 2 (stored unsent) at the lowest free slot,
    ``AT+CMSS`` sends it from there as ``AT+CMGS`` would and makes it stat 3
    (stored sent). Reading a stat 2 or 3 slot leaves its stat as it is.

    ``confirm_delay``: the text goes on the air at once, its ``+CMGS:`` /
    ``+CMSS:`` comes only when the runner calls :meth:`confirm` (SimulatedModem:
    ``confirm_delay`` seconds later). Until then the modem is busy: what it
    receives is kept, and answered after the confirmation, in order.
    """

    profile: ModemProfile = field(default_factory=ModemProfile)
    smsc: str = "+15125550000"
    pin: str | None = None
    operator: str = "SimTel"
    signal: int = 20  # +CSQ rssi, 0-31, 99 unknown
    registered: bool = True
    echo: bool = True
    charset: str = "GSM"
    cnmi: str = "0,0,0,0"  # the new-message indications in force
    no_answer: bool = False  # swallow everything: a hung modem
    cms_errors: list[int | None] = field(default_factory=list)  # next sends (None: goes out)
    cmti_before_next_ok: bool = False  # slip a +CMTI in before the next OK
    cmti_after_prompt: bool = False  # ... or right after the next "> ", in the same write
    cr_only: bool = False  # lines end in CR alone (S4 set to 13)
    hold_prompt: bool = False  # take AT+CMGS/CMGW, wait for the PDU, but never show "> "
    hold_confirmation: bool = False  # send the text but never answer +CMGS
    late_confirmation: bool = False  # send it, and answer +CMGS only with the next command
    confirm_delay: float = 0.0  # > 0: +CMGS/+CMSS owed until confirm() (see the class doc)
    smsc_honours_rd: bool = True  # False: the SMSC ignores TP-RD, a repeat goes out again
    capacity: int = 50  # slots per storage (AT+CPMS <total>); AT+CMGW beyond: +CMS ERROR: 322
    sent: list[SentPdu] = field(default_factory=list)
    store: dict[int, tuple[int, str]] = field(default_factory=dict)  # index -> (stat, pdu)
    reports: dict[int, tuple[int, str]] = field(default_factory=dict)  # the SR storage
    # The SMSC's last timestamp: each message it delivers gets its own second
    # (TP-SCTS has one-second resolution; real SMSCs stamp distinct messages).
    _last_stamp: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))
    deleted: list[int] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    _pin_ok: bool = False
    _line: bytearray = field(default_factory=bytearray)
    _entry: _PduEntry | None = None  # inside AT+CMGS/AT+CMGW: waiting for PDU + Ctrl-Z
    _mr: Iterator[int] = field(default_factory=lambda: itertools.cycle(range(1, 256)))
    _pending_cmti: list[int] = field(default_factory=list)
    _held: bytes = b""  # a confirmation kept for the next command's answer
    _read_mem: str = "ME"  # where AT+CMGR/CMGL/CMGD look (AT+CPMS <mem1>)
    _write_mem: str = "ME"  # where AT+CMGW writes and AT+CMSS sends from (<mem2>)
    _receive_mem: str = "ME"  # the storage +CMTI names (AT+CPMS <mem3>)
    clock: Callable[[], float] = time.monotonic
    _cmgs_at: float = 0.0
    _owed: _Owed | None = None  # a confirmation the delay still holds back
    _busy_input: bytearray = field(default_factory=bytearray)  # received meanwhile

    def __post_init__(self) -> None:
        self._pin_ok = self.pin is None
        self._read_mem = self._write_mem = self._receive_mem = self._text_storage()

    def _text_storage(self) -> str:
        return next((s for s in self.profile.storages if s != "SR"), "ME")

    # ---- bytes in, bytes out
    def feed(self, data: bytes) -> bytes:
        if self.no_answer:
            return b""
        out = bytearray()
        for n, byte in enumerate(data):
            if self._owed is not None:  # busy sending: read on once it has answered
                self._busy_input += data[n:]
                break
            char = bytes([byte])
            if self._entry is not None:
                out += self._pdu_byte(char)
                continue
            if char == b"\r":
                line = self._line.decode("latin-1")
                self._line.clear()
                if self.echo:
                    out += line.encode("latin-1") + b"\r"
                if line.strip():
                    out += self._command(line.strip())
            elif char not in (b"\n", ESC):  # an ESC outside PDU entry is ignored
                self._line += char
        return self._wire(out)

    def _wire(self, out: bytes | bytearray) -> bytes:
        return bytes(out).replace(b"\r\n", b"\r") if self.cr_only else bytes(out)

    # ---- a send's confirmation, held back by confirm_delay
    @property
    def owed_confirmation(self) -> bytes | None:
        """The ``+CMGS:``/``+CMSS:`` answer (and OK) the delay holds back; None
        when no send waits for its confirmation (the modem is not busy)."""
        return None if self._owed is None else self._owed.reply

    @property
    def confirmation_due(self) -> float | None:
        """The engine's clock when the owed confirmation is due, if one is."""
        return None if self._owed is None else self._owed.due

    def confirm(self) -> bytes:
        """Give the owed confirmation (an AT+CMSS slot becomes stat 3 now): its
        bytes, then the answers to the bytes received meanwhile, in order - which
        may owe a confirmation again. b"" when none is owed."""
        owed, self._owed = self._owed, None
        if owed is None:
            return b""
        if owed.slot is not None:
            self._mark_sent(owed.slot, owed.pdu)
        pending = bytes(self._busy_input)
        self._busy_input.clear()
        return self._wire(owed.reply) + self.feed(pending)

    def drop_confirmation(self) -> None:
        """Power lost mid-send: the text is on the air all the same, but its
        confirmation never comes (an AT+CMSS slot stays stat 2) and the bytes
        received meanwhile are lost."""
        self._owed = None
        self._busy_input.clear()

    def _mark_sent(self, slot: tuple[str, int], pdu_hex: str) -> None:
        storage, index = slot
        slots = self._slots(storage)
        if slots.get(index, (None, ""))[1] == pdu_hex:
            slots[index] = (STO_SENT, pdu_hex)

    def power_on(self) -> bytes:
        """What the modem says as it starts (SIMCom: RDY ... SMS DONE)."""
        return b"".join(f"\r\n{line}\r\n".encode() for line in self.profile.boot)

    def _pdu_byte(self, char: bytes) -> bytes:
        assert self._entry is not None
        if char == ESC:  # the DTE gave up on this send (or write)
            self._entry = None
            self._line.clear()
            return b"\r\nOK\r\n"
        if char != CTRL_Z:
            self._line += char
            return char if self.echo else b""
        pdu_hex = self._line.decode("latin-1").strip()
        self._line.clear()
        entry, self._entry = self._entry, None
        if entry.command == "+CMGW":
            return self._write(pdu_hex, entry.stat)
        return self._transmit(pdu_hex, "+CMGS")

    def _transmit(
        self,
        pdu_hex: str,
        command: str,
        slot: tuple[str, int] | None = None,
        number: str | None = None,
    ) -> bytes:
        """Hand an SMS-SUBMIT to the network (AT+CMGS, or AT+CMSS from ``slot``,
        to ``number`` if its <da> gave one); the answer the DTE gets now."""
        failure = self.cms_errors.pop(0) if self.cms_errors else None
        if failure is not None:
            return f"\r\n+CMS ERROR: {failure}\r\n".encode()
        try:
            submitted = replace(decode_submit(pdu_hex), requested_at=self._cmgs_at)
        except Exception:
            return b"\r\n+CMS ERROR: 304\r\n"  # invalid PDU mode parameter
        if number is not None:
            submitted = replace(submitted, number=number)
        if self._duplicate(submitted):
            # The SMSC already has this one: TP-FCS 0xC5 "SM rejected - duplicate SM".
            return b"\r\n+CMS ERROR: 197\r\n"
        self.sent.append(submitted)
        confirmation = self._ok(f"{command}: {next(self._mr)}")
        delayed = self.confirm_delay > 0 and not (self.hold_confirmation or self.late_confirmation)
        if slot is not None and not delayed:
            self._mark_sent(slot, pdu_hex)
        if self.hold_confirmation:
            return b""  # sent over the air; the answer never reaches the DTE
        if self.late_confirmation:
            self._held = confirmation  # it comes, but after the DTE stopped waiting
            return b""
        if delayed:
            due = self.clock() + self.confirm_delay
            self._owed = _Owed(confirmation, due, slot, pdu_hex)
            return b""
        return confirmation

    def _duplicate(self, submitted: SentPdu) -> bool:
        """TP-RD set and the SMSC already has (TP-MR, number, concat): it rejects
        the repeat - unless it ignores TP-RD (``smsc_honours_rd`` False)."""
        if not (submitted.reject_duplicates and self.smsc_honours_rd):
            return False
        key = (submitted.reference, submitted.number, submitted.concat)
        return any((s.reference, s.number, s.concat) == key for s in self.sent)

    def _write(self, pdu_hex: str, stat: int) -> bytes:
        """The end of AT+CMGW: the SMS-SUBMIT into <mem2>'s lowest free slot."""
        try:
            decode_submit(pdu_hex)
        except Exception:
            return b"\r\n+CMS ERROR: 304\r\n"  # only SMS-SUBMITs are written here
        if stat not in (STO_UNSENT, STO_SENT):
            return b"\r\n+CMS ERROR: 304\r\n"  # a SUBMIT is stored unsent or sent
        slots = self._slots(self._write_mem)
        if len(slots) >= self.capacity:
            return b"\r\n+CMS ERROR: 322\r\n"  # memory full
        index = self._free_slot(slots)
        slots[index] = (stat, pdu_hex)
        return self._ok(f"+CMGW: {index}")

    # ---- incoming texts and reports, for the runner to announce
    def receive(self, sender: str, text: str, *, concat_ref: int = 0) -> bytes:
        """Store an incoming text (several parts if long); the ``+CMTI`` lines to emit."""
        notices = bytearray()
        now = datetime.now(UTC).replace(microsecond=0)
        self._last_stamp = max(now, self._last_stamp + timedelta(seconds=1))
        pdus = deliver_pdus(
            sender, text, smsc=self.smsc, at=self._last_stamp, concat_ref=concat_ref
        )
        for pdu_hex in pdus:
            index = self._free_slot(self.store)
            self.store[index] = (0, pdu_hex)
            if self._indication(1) != 0:
                notices += f'\r\n+CMTI: "{self._receive_mem}",{index}\r\n'.encode()
        return bytes(notices)

    def status_report(self, reference: int, number: str, *, delivered: bool = True) -> bytes:
        """A status report from the network, routed as ``AT+CNMI``'s ``<ds>`` says."""
        pdu_hex = status_report_pdu(reference, number, delivered=delivered, smsc=self.smsc)
        ds = self._indication(3)
        if ds == 1:
            return f"\r\n+CDS: {tpdu_length(pdu_hex)}\r\n{pdu_hex}\r\n".encode()
        storage = self.profile.report_storage
        if storage is None:
            return b""  # nowhere to keep it: the report is lost
        slots = self._slots(storage)
        index = self._free_slot(slots)
        slots[index] = (0, pdu_hex)
        if ds != 2:
            return b""
        named = self.profile.report_announced_as or storage
        return f'\r\n+CDSI: "{named}",{index}\r\n'.encode()

    def _indication(self, position: int) -> int:
        """<mode>,<mt>,<bm>,<ds> of the AT+CNMI in force."""
        values = self.cnmi.split(",")
        return int(values[position]) if len(values) > position and values[position] else 0

    def _free_slot(self, slots: Slots) -> int:
        """The lowest free index, as real modems reuse them."""
        return free_slot(slots, self.profile.first_slot)

    def _slots(self, storage: str) -> Slots:
        """SR is ``reports``; every other storage name is ``store`` (one SIM store)."""
        return self.reports if storage == "SR" else self.store

    # ---- replies
    def _ok(self, *lines: str) -> bytes:
        """Info lines, any URCs the profile slips in after the first, then OK."""
        out = list(lines)
        if out and self.profile.urcs_in_replies:
            out[1:1] = self.profile.urcs_in_replies
        cmti = self._slipped() if self.cmti_before_next_ok else b""
        return _lines(out) + cmti + b"\r\nOK\r\n"

    def _slipped(self) -> bytes:
        self.cmti_before_next_ok = self.cmti_after_prompt = False
        cmti = b"".join(f'\r\n+CMTI: "ME",{i}\r\n'.encode() for i in self._pending_cmti)
        self._pending_cmti.clear()
        return cmti

    def slip_cmti(self, sender: str, text: str, *, after_prompt: bool = False) -> None:
        """Store a text now and announce it just before the next command's OK
        (or, ``after_prompt``, in the same write as the next "> " prompt)."""
        for pdu_hex in deliver_pdus(sender, text, smsc=self.smsc):
            index = self._free_slot(self.store)
            self.store[index] = (0, pdu_hex)
            self._pending_cmti.append(index)
        if after_prompt:
            self.cmti_after_prompt = True
        else:
            self.cmti_before_next_ok = True

    # ---- commands
    def _command(self, line: str) -> bytes:
        self.commands.append(line)
        held, self._held = self._held, b""
        return held + self._answer(line)

    def _answer(self, line: str) -> bytes:
        upper = line.upper()
        if not upper.startswith("AT"):
            return b"\r\nERROR\r\n"
        if self._locked_out(upper):
            return b"\r\n+CME ERROR: 11\r\n"  # SIM PIN required
        scripted = self.profile.scripted(upper)
        if scripted is not None:
            state = "READY" if self._pin_ok else "SIM PIN"
            return _lines([s.replace("{pin_state}", state) for s in scripted])
        cmd = upper[2:]
        for handler in (self._basic, self._sim, self._setup, self._storage, self._messages):
            reply = handler(cmd, line)
            if reply is not None:
                return reply
        return _lines([self.profile.unknown])

    def _locked_out(self, upper: str) -> bool:
        if self._pin_ok or upper.startswith("AT+CPIN"):
            return False
        if self.profile.before_pin is not None:
            return upper not in self.profile.before_pin
        return upper[2:].startswith(("+CMGS", "+CMGR", "+CMGL", "+CMGW", "+CMSS", "+COPS?"))

    def _basic(self, cmd: str, line: str) -> bytes | None:
        if cmd == "":
            return self._ok()
        if cmd in ("Z", "&F"):  # back to the defaults: echo on
            self.echo = True
            return self._ok()
        if cmd in ("E0", "E1"):
            self.echo = cmd == "E1"
            return self._ok()
        if cmd == "+CFUN?":
            return self._ok("+CFUN: 1")
        if cmd == "+CLAC":
            extra = _STORE_AND_SEND if self.profile.store_and_send else ()
            return self._ok(*_SUPPORTED, *extra)
        identity = {"+CGMI": self.profile.manufacturer, "+CGMM": self.profile.model}
        if cmd in identity:
            return self._ok(identity[cmd])
        if cmd in ("+CGSN", "+GSN"):
            return self._ok("867322030000000")
        if cmd == "+CSQ":
            return self._ok(f"+CSQ: {self.signal},99")
        if cmd == "+CREG?":
            return self._ok(f"+CREG: 0,{1 if self.registered else 2}")
        if cmd == "+COPS?":
            registered = f'+COPS: 0,0,"{self.operator}",7' if self.registered else "+COPS: 0"
            return self._ok(registered)
        if cmd.startswith(("+COPS=", "+CLIP=", "+CRC=", "+CVHU=", "+CMEE=", "+CFUN=")):
            return self._ok()
        return None

    def _sim(self, cmd: str, line: str) -> bytes | None:
        if cmd == "+CPIN?":
            return self._ok(f"+CPIN: {'READY' if self._pin_ok else 'SIM PIN'}")
        if cmd.startswith("+CPIN="):
            if line.split("=", 1)[1].strip('"') == self.pin:
                self._pin_ok = True
                return self._ok()
            return b"\r\n+CME ERROR: 16\r\n"  # incorrect password
        if cmd == "+CSCA?":
            return self._ok(f'+CSCA: "{self.smsc}",145' if self.smsc else '+CSCA: "",129')
        if cmd.startswith("+CSCA="):
            self.smsc = line.split("=", 1)[1].split(",")[0].strip('"')
            return self._ok()
        return None

    def _setup(self, cmd: str, line: str) -> bytes | None:
        if cmd.startswith("+CNMI="):
            self.cnmi = cmd.split("=", 1)[1]
            return self._ok()
        if cmd == "+CSCS=?":
            return self._ok('+CSCS: ("GSM","UCS2","IRA")')
        if cmd == "+CSCS?":
            return self._ok(f'+CSCS: "{self.charset}"')
        if cmd.startswith("+CSCS="):
            self.charset = line.split("=", 1)[1].strip('"')
            return self._ok()
        if cmd.startswith(("+CMGF=", "+CSMP=")):
            return self._ok()
        return None

    def _storage(self, cmd: str, line: str) -> bytes | None:
        if not cmd.startswith("+CPMS"):
            return None
        offered = self.profile.storages
        if cmd == "+CPMS=?":
            readable = ",".join(f'"{s}"' for s in offered)
            others = ",".join(f'"{s}"' for s in offered if s != "SR")
            return self._ok(f"+CPMS: ({readable}),({others}),({others})")
        if cmd == "+CPMS?":
            mems = (self._read_mem, self._write_mem, self._receive_mem)
            return self._ok("+CPMS: " + ",".join(f'"{m}",{self._usage(m)}' for m in mems))
        chosen = [m.strip('"') for m in cmd.split("=", 1)[1].split(",")]
        if not all(m in offered for m in chosen):
            return b"\r\n+CMS ERROR: 302\r\n"  # operation not allowed
        self._read_mem = chosen[0]
        if len(chosen) > 1:
            self._write_mem = chosen[1]
        if len(chosen) > 2:
            self._receive_mem = chosen[2]
        mems = (self._read_mem, self._write_mem, self._receive_mem)
        return self._ok("+CPMS: " + ",".join(self._usage(m) for m in mems))

    def _usage(self, storage: str) -> str:
        """``<used>,<total>`` of a storage, as AT+CPMS gives them."""
        return f"{len(self._slots(storage))},{self.capacity}"

    def _messages(self, cmd: str, line: str) -> bytes | None:
        if cmd.startswith(_STORE_AND_SEND) and not self.profile.store_and_send:
            return _lines([self.profile.unknown])  # a model without them
        if cmd.startswith("+CMGS="):
            if not self.registered:
                return b"\r\n+CMS ERROR: 331\r\n"  # no network service
            self._cmgs_at = self.clock()
            return self._prompt(_PduEntry("+CMGS", _int(cmd.split("=", 1)[1]) or 0))
        if cmd.startswith("+CMGW"):
            return self._cmgw(cmd)
        if cmd.startswith("+CMSS="):
            return self._cmss(line.split("=", 1)[1])
        if cmd.startswith("+CMGR="):
            return self._cmgr(cmd.split("=", 1)[1])
        if cmd.startswith("+CMGL"):
            wanted = _int(cmd.split("=", 1)[1]) if "=" in cmd else ALL
            if wanted is None or not 0 <= wanted <= ALL:
                return b"\r\n+CMS ERROR: 302\r\n"
            listing: list[str] = []
            for index, stat, pdu_hex in listed(self._slots(self._read_mem), wanted):
                listing += [f"+CMGL: {index},{stat},,{tpdu_length(pdu_hex)}", pdu_hex]
            return self._ok(*listing)
        if cmd.startswith("+CMGD="):
            return self._cmgd(cmd.split("=", 1)[1])
        return None

    def _prompt(self, entry: _PduEntry) -> bytes:
        """Into PDU entry: the "> " prompt (unless ``hold_prompt``)."""
        self._entry = entry
        if self.hold_prompt:
            return b""  # in PDU entry all the same: it swallows commands until ESC
        return b"\r\n> " + (self._slipped() if self.cmti_after_prompt else b"")

    def _cmgw(self, cmd: str) -> bytes:
        """AT+CMGW=? and AT+CMGW=<length>[,<stat>] (PDU mode)."""
        if cmd == "+CMGW=?":
            return self._ok()
        args = cmd.partition("=")[2].split(",")
        length = _int(args[0])
        stat = _int(args[1]) if len(args) > 1 and args[1] else STO_UNSENT
        if length is None or stat is None or not REC_UNREAD <= stat <= STO_SENT:
            return b"\r\n+CMS ERROR: 304\r\n"  # invalid PDU mode parameter
        return self._prompt(_PduEntry("+CMGW", length, stat))

    def _cmss(self, args: str) -> bytes:
        """AT+CMSS=<index>[,<da>[,<toda>]]: send the SUBMIT stored in <mem2>."""
        parts = args.split(",")
        index = _int(parts[0])
        slots = self._slots(self._write_mem)
        if index is None or index not in slots:
            return b"\r\n+CMS ERROR: 321\r\n"  # invalid memory index
        stat, pdu_hex = slots[index]
        if stat not in (STO_UNSENT, STO_SENT):
            return b"\r\n+CMS ERROR: 302\r\n"  # a received text is not sent
        if not self.registered:
            return b"\r\n+CMS ERROR: 331\r\n"  # no network service
        number = parts[1].strip().strip('"') if len(parts) > 1 and parts[1].strip() else None
        self._cmgs_at = self.clock()
        return self._transmit(pdu_hex, "+CMSS", (self._write_mem, index), number)

    def _cmgr(self, arg: str) -> bytes:
        """AT+CMGR=<index> in <mem1>: a received unread text becomes read; a
        stored one (stat 2, 3) keeps its stat."""
        slots = self._slots(self._read_mem)
        index = _int(arg)
        if index is None or index not in slots:
            return _lines(list(self.profile.empty_slot))
        stat, pdu_hex = slots[index]
        if stat == REC_UNREAD:
            slots[index] = (REC_READ, pdu_hex)
        shown = stat if self.profile.cmgr_stat else ""
        return self._ok(f"+CMGR: {shown},,{tpdu_length(pdu_hex)}", pdu_hex)

    def _cmgd(self, arg: str) -> bytes:
        """AT+CMGD=<index>[,<delflag>] in <mem1> (bridge/sim/modem_slots.py)."""
        parts = arg.split(",")
        index = _int(parts[0]) if parts[0] else None
        delflag = _int(parts[1]) if len(parts) > 1 and parts[1] else 0
        if delflag is None or not 0 <= delflag <= ALL:
            return b"\r\n+CMS ERROR: 302\r\n"
        slots = self._slots(self._read_mem)
        for gone in doomed(slots, index, delflag):
            del slots[gone]
            self.deleted.append(gone)
        return self._ok()


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def _lines(lines: list[str]) -> bytes:
    return b"".join(f"\r\n{line}\r\n".encode("latin-1") for line in lines)


__all__ = [
    "ModemEngine",
    "ModemProfile",
    "SentPdu",
    "decode_submit",
    "deliver_pdus",
    "status_report_pdu",
]
