"""The AT command dialogue with a modem, sans-I/O: bytes in, events out.

Replaces python-gsmmodem's reader (serial_comms.py), whose defects the
library notes measured: it reads byte by byte in a thread and decodes lines as
UTF-8 (one 0xFF byte kills it), and it files every line that arrives while a
command is pending into that command's reply, so a ``+CMTI`` announcing a new
text is swallowed. Here:

- lines are decoded as Latin-1: any byte is a character, nothing can raise;
- unsolicited result codes (``+CMTI``, ``+CMT``, ``+CDS``, ``+CDSI``,
  ``RING``...) are recognised by their prefix and always reported as
  notifications, pending command or not; ``+CMT`` and ``+CDS`` take the PDU
  line that follows them;
- the ``> `` prompt of ``AT+CMGS`` is recognised without a line end;
- echoed commands (``ATE1``) are dropped; a line longer than 4 KiB is cut.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CTRL_Z = b"\x1a"
_MAX_LINE = 4096
_FINAL = ("OK", "ERROR", "NO CARRIER", "COMMAND NOT SUPPORT")
_FINAL_PREFIXES = ("+CMS ERROR:", "+CME ERROR:")
# Unsolicited codes that never answer a command.
_UNSOLICITED = ("+CMTI:", "+CDSI:", "RING", "+CRING:", "+CLIP:", "^RSSI:", "^BOOT:", "^MODE:")
# Unsolicited codes followed by one PDU line.
_WITH_PDU = ("+CMT:", "+CDS:")


@dataclass(frozen=True, slots=True)
class Response:
    command: str
    lines: tuple[str, ...]
    final: str  # OK, ERROR, +CMS ERROR: n, +CME ERROR: n ...

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
    """``> ``: the modem waits for the PDU of an ``AT+CMGS``."""


Event = Response | Notification | Prompt


@dataclass
class AtSession:
    _buffer: bytearray = field(default_factory=bytearray)
    _pending: str | None = None
    _lines: list[str] = field(default_factory=list)
    _awaiting_pdu: str | None = None  # the +CMT/+CDS line whose PDU comes next

    @property
    def busy(self) -> bool:
        return self._pending is not None

    def command(self, text: str) -> bytes:
        """Bytes that send ``text``; its Response will come out of ``feed``."""
        if any(ch in text for ch in "\r\n\x1a\x1b"):
            raise ValueError("an AT command cannot contain CR, LF, Ctrl-Z or ESC")
        self._pending = text
        self._lines = []
        return text.encode("ascii") + b"\r"

    @staticmethod
    def pdu(pdu_hex: str) -> bytes:
        """Bytes that answer the ``> `` prompt: the PDU, then Ctrl-Z."""
        if not pdu_hex or any(ch not in "0123456789ABCDEFabcdef" for ch in pdu_hex):
            raise ValueError("a PDU is hex digits only")
        return pdu_hex.encode("ascii") + CTRL_Z

    def abandon(self) -> None:
        """The pending command timed out: forget it (its late answer is ignored)."""
        self._pending = None
        self._lines = []

    def feed(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        self._buffer += data
        while True:
            if self._pending is not None and self._pending.upper().startswith("AT+CMGS"):
                stripped = self._buffer.lstrip(b"\r\n")
                if stripped.startswith(b"> "):
                    del self._buffer[:]
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

    def _line(self, line: str) -> Event | None:
        if self._awaiting_pdu is not None:
            header, self._awaiting_pdu = self._awaiting_pdu, None
            return Notification(header, pdu=line)
        if line.startswith(_WITH_PDU):
            self._awaiting_pdu = line
            return None
        if line.startswith(_UNSOLICITED):
            return Notification(line)
        if self._pending is None:
            return Notification(line)  # unasked-for output: reported, never a reply
        if line == self._pending:
            return None  # echo
        if line in _FINAL or line.startswith(_FINAL_PREFIXES):
            response = Response(self._pending, tuple(self._lines), line)
            self._pending = None
            self._lines = []
            return response
        self._lines.append(line)
        return None


def _line_end(buffer: bytearray) -> tuple[int, int] | None:
    """Where the first line ends (CR, LF or CRLF), and where the next begins."""
    cr, lf = buffer.find(b"\r"), buffer.find(b"\n")
    if cr < 0 and lf < 0:
        return None
    if cr >= 0 and (lf < 0 or cr < lf):
        if cr + 1 < len(buffer) and buffer[cr + 1] == 0x0A:
            return cr, cr + 2
        if cr + 1 == len(buffer):
            return None  # a LF may still follow
        return cr, cr + 1
    return lf, lf + 1
