"""The AT command dialogue with a modem, sans-I/O: bytes in, events out.

Replaces python-gsmmodem's reader (serial_comms.py), whose defects the
library notes measured: it reads byte by byte in a thread and decodes lines as
UTF-8 (one 0xFF byte kills it), and it files every line that arrives while a
command is pending into that command's reply, so a ``+CMTI`` announcing a new
text is swallowed. Here:

- lines are decoded as Latin-1: any byte is a character, nothing can raise;
  CR, LF and CRLF all end a line (some modems end lines with CR alone);
- unsolicited result codes are reported as notifications, pending command or
  not: the known ones (``+CMTI``, ``+CMT``, ``+CDS``, ``+CDSI``, ``RING``...)
  by their prefix, and any other ``+NAME:``/``^NAME:`` line that is not the
  pending command's own answer (Huawei's ``^HCSQ:`` inside an ``AT+CMGR``
  reply); ``+CMT`` and ``+CDS`` take the PDU line that follows them;
- the ``> `` prompt of ``AT+CMGS`` and ``AT+CMGW`` is recognised without a
  line end, and whatever came after it in the same read is kept;
- answers that belong to an earlier exchange are dropped, never matched to
  the pending command: a ``+CMGS:`` or ``+CMSS:`` confirmation that came after
  its send was given up on (and the final result after it), a ``+CMS ERROR`` such a
  send may still return, and, at the start of a connection, the ``OK`` a
  modem gives an ESC that took it out of PDU entry (see :meth:`restart`);
- echoed commands (``ATE1``) are dropped; a line longer than 4 KiB is cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CTRL_Z = b"\x1a"
ESC = b"\x1b"
_MAX_LINE = 4096
_FINAL = ("OK", "ERROR", "NO CARRIER", "COMMAND NOT SUPPORT")
_FINAL_PREFIXES = ("+CMS ERROR:", "+CME ERROR:")
# Unsolicited codes that never answer a command.
_UNSOLICITED = ("+CMTI:", "+CDSI:", "RING", "+CRING:", "+CLIP:", "^RSSI:", "^BOOT:", "^MODE:")
# Unsolicited codes followed by one PDU line.
_WITH_PDU = ("+CMT:", "+CDS:")
# What an unsolicited result code looks like: +NAME: or ^NAME: (3GPP TS 27.007 4.1).
_URC_SHAPE = re.compile(r"[+^]([A-Z0-9]+):")
# Commands always answered with their own info line before OK: the first one
# of a connection tells a left-over OK from its own answer.
_ALWAYS_ANSWERED = ("AT+CPIN?", "AT+CSQ", "AT+CREG?")
# SMS commands (TS 27.005): the only ones a +CMS ERROR can answer.
_SMS_COMMANDS = ("AT+CMG", "AT+CPMS", "AT+CNMI", "AT+CSCA", "AT+CSMS", "AT+CNMA", "AT+CMSS")
# Commands that take a PDU after a "> " prompt: send it, or write it to storage.
_TAKES_PDU = ("AT+CMGS", "AT+CMGW")
# A send's confirmation, and the command it answers: late, it is nobody's answer.
_SENT = {"+CMGS:": "AT+CMGS", "+CMSS:": "AT+CMSS"}


@dataclass(frozen=True, slots=True)
class Response:
    command: str
    lines: tuple[str, ...]
    final: str  # OK, ERROR, +CMS ERROR: n, +CME ERROR: n ...; "" if none came

    @property
    def ok(self) -> bool:
        return self.final == "OK"

    def line_starting(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)

    @property
    def error_code(self) -> int | None:
        if self.final.startswith(_FINAL_PREFIXES):
            try:
                return int(self.final.split(":", 1)[1])
            except ValueError:
                return None
        return None


@dataclass(frozen=True, slots=True)
class Notification:
    line: str
    pdu: str | None = None  # the PDU line after +CMT / +CDS

    @property
    def kind(self) -> str:
        head = self.line.split(":", 1)[0].lstrip("+^")
        return head if head.isalpha() else "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Prompt:
    """``> ``: the modem waits for the PDU of an ``AT+CMGS`` or ``AT+CMGW``."""


Event = Response | Notification | Prompt


@dataclass
class AtSession:
    _buffer: bytearray = field(default_factory=bytearray)
    _pending: str | None = None
    _lines: list[str] = field(default_factory=list)
    _awaiting_pdu: str | None = None  # the +CMT/+CDS line whose PDU comes next
    _pdu_sent: bool = False  # the pending AT+CMGS/CMGW has its PDU: its answer is due now
    _stray_final: bool = False  # a stray +CMGS:/+CMSS: came: the final result after it is its own
    _late_send: bool = False  # a send was given up on once under way: a +CMS ERROR may follow
    _resync: bool = True  # a new connection: OKs before the first always-answered reply are stale

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def command(self, text: str) -> bytes:
        """Bytes that send ``text``; its Response will come out of ``feed``."""
        if any(ch in text for ch in "\r\n\x1a\x1b"):
            raise ValueError("an AT command cannot contain CR, LF, Ctrl-Z or ESC")
        self._pending = text
        self._lines = []
        self._pdu_sent = False
        return text.encode("ascii") + b"\r"

    @staticmethod
    def pdu(pdu_hex: str) -> bytes:
        """Bytes that answer the ``> `` prompt: the PDU, then Ctrl-Z."""
        if not pdu_hex or any(ch not in "0123456789ABCDEFabcdef" for ch in pdu_hex):
            raise ValueError("a PDU is hex digits only")
        return pdu_hex.encode("ascii") + CTRL_Z

    def submit(self, pdu_hex: str) -> bytes:
        """:meth:`pdu`, for the pending ``AT+CMGS`` (or ``AT+CMGW``): its answer is due now."""
        data = self.pdu(pdu_hex)
        self._pdu_sent = True
        return data

    def abandon(self) -> Response:
        """The pending command timed out: forget it, and return what it had
        answered so far (a Response with no final result). A send given up on
        after its PDU may still answer: that answer is dropped when it comes."""
        pending = self._pending or ""
        partial = Response(pending, tuple(self._lines), "")
        if self._pdu_sent or pending.upper().startswith("AT+CMSS"):
            self._late_send = True
        self._pending = None
        self._lines = []
        self._pdu_sent = False
        return partial

    def restart(self) -> None:
        """A new connection to the same modem: partial input and the pending
        command are gone. Answers the modem still owes (a late ``+CMGS``, the
        ``OK`` to an ESC) are recognised and dropped as before."""
        self._buffer.clear()
        self._pending = None
        self._lines = []
        self._awaiting_pdu = None
        self._pdu_sent = False
        self._resync = True

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        self._buffer += data
        while True:
            if self._prompt_due():
                stripped = self._buffer.lstrip(b"\r\n")
                if stripped.startswith(b"> "):
                    del self._buffer[: len(self._buffer) - len(stripped) + 2]
                    self._resync = False
                    events.append(Prompt())
                    continue
            cut = _line_end(self._buffer)
            if cut is None:
                if len(self._buffer) > _MAX_LINE:
                    del self._buffer[:]  # a runaway line: drop it, keep the session
                return events
            end, after = cut
            raw = bytes(self._buffer[:end])
            del self._buffer[:after]
            line = raw.decode("latin-1").strip()
            if line:
                event = self._line(line[:_MAX_LINE])
                if event is not None:
                    events.append(event)

    def _prompt_due(self) -> bool:
        pending = self._pending
        return pending is not None and not self._pdu_sent and pending.upper().startswith(_TAKES_PDU)

    def _line(self, line: str) -> Event | None:
        if self._awaiting_pdu is not None:
            header, self._awaiting_pdu = self._awaiting_pdu, None
            return Notification(header, pdu=line)
        if line.startswith(_WITH_PDU):
            self._awaiting_pdu = line
            return None
        if line.startswith(_UNSOLICITED):
            return Notification(line)
        if line.startswith(tuple(_SENT)) and not self._answers_pending(line):
            self._stray_final = True  # a send given up on went out after all; OK follows
            self._late_send = False
            return Notification(line)
        final = line in _FINAL or line.startswith(_FINAL_PREFIXES)
        if final and self._stale(line):
            self._lines = []
            return None
        if self._pending is None:
            return Notification(line)  # unasked-for output: reported, never a reply
        if line == self._pending:
            return None  # echo
        if final:
            response = Response(self._pending, tuple(self._lines), line)
            self._pending = None
            self._lines = []
            self._pdu_sent = False
            self._resync = False
            return response
        if self._unsolicited(line):
            return Notification(line)
        if self._expected(line):
            self._resync = False  # the pending command's own answer has begun
        self._lines.append(line)
        return None

    def _answers_pending(self, confirmation: str) -> bool:
        """Is this ``+CMGS:``/``+CMSS:`` the pending command's own answer?"""
        command = _SENT[confirmation[:6]]
        pending = (self._pending or "").upper()
        if command == "AT+CMGS":
            return self._pdu_sent and pending.startswith(command)
        return pending.startswith(command)

    def _stale(self, final: str) -> bool:
        """Is this final result an earlier exchange's, not the pending command's?"""
        if self._stray_final:
            self._stray_final = False  # the OK after a late +CMGS:
            return True
        pending = (self._pending or "").upper()
        if (
            self._late_send
            and final.startswith("+CMS ERROR:")
            and not pending.startswith(_SMS_COMMANDS)
        ):
            self._late_send = False  # the late failure of the send given up on
            return True
        # An OK before the first always-answered command's own line: the ESC's, or older.
        return self._resync and final == "OK" and pending in _ALWAYS_ANSWERED

    def _unsolicited(self, line: str) -> bool:
        """A +NAME:/^NAME: line that is not the pending command's answer."""
        shape = _URC_SHAPE.match(line)
        return shape is not None and not self._expected(line)

    def _expected(self, line: str) -> bool:
        name = _command_name(self._pending or "")
        return name is not None and line.upper().startswith(name + ":")


def _command_name(command: str) -> str | None:
    """``AT+CMGR=3`` -> ``+CMGR``; basic commands (``ATZ``) have none."""
    match = re.match(r"AT([+^][A-Z0-9]+)", command.upper())
    return match.group(1) if match else None


def _line_end(buffer: bytearray) -> tuple[int, int] | None:
    """Where the first line ends (CR, LF or CRLF), and where the next begins.
    A lone CR ends a line at once: the LF that may follow is an empty line."""
    cr, lf = buffer.find(b"\r"), buffer.find(b"\n")
    if cr < 0 and lf < 0:
        return None
    if cr >= 0 and (lf < 0 or cr < lf):
        return cr, cr + 2 if buffer[cr + 1 : cr + 2] == b"\n" else cr + 1
    return lf, lf + 1
