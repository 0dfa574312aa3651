"""Sans-I/O AMI framing: bytes in, messages out.

The live AMI adapter and `textback replay` both feed bytes here, so a recorded
stream is parsed exactly as the live one. Unlike panoramisk's own parser this one
works on bytes until a whole message is in hand, so:

- a UTF-8 character split across two reads arrives intact;
- a value that is not UTF-8 (a Latin-1 caller name) is decoded as Latin-1
  instead of having its bytes dropped;
- LF-only line ends are accepted as well as CRLF;
- the buffer is bounded: a message larger than ``max_message_bytes`` is
  discarded (reported once) instead of growing memory and re-scanning;
- a message that has neither ``Event`` nor ``Response``, or has a line that is
  not ``Key: Value``, is reported as an error and skipped; the stream goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

# A message ends with an empty line; accept CRLF and bare LF line ends.
_MESSAGE_END = re.compile(rb"\r?\n\r?\n")


class AmiMessage:
    """One AMI event or response.

    Keys keep the case Asterisk sent; :meth:`get` tries that exact key first and
    falls back to a case-insensitive match (Asterisk versions disagree on
    ``Uniqueid``/``UniqueID``). The first value of a repeated key is returned by
    :meth:`get`, all of them by :meth:`getall` (``Variable``, ``Output``...).
    """

    __slots__ = ("_fields", "_lower", "_repeats")

    def __init__(self, fields: dict[str, str], repeats: dict[str, list[str]] | None = None):
        self._fields = fields
        self._repeats = repeats
        self._lower: dict[str, str] | None = None

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> AmiMessage:
        fields: dict[str, str] = {}
        repeats: dict[str, list[str]] | None = None
        for key, value in pairs:
            if key in fields:
                if repeats is None:
                    repeats = {}
                repeats.setdefault(key, [fields[key]]).append(value)
            else:
                fields[key] = value
        return cls(fields, repeats)

    @property
    def event(self) -> str | None:
        return self._fields.get("Event") or self._lookup("event")

    @property
    def response(self) -> str | None:
        return self._fields.get("Response") or self._lookup("response")

    def get(self, key: str, default: str = "") -> str:
        value = self._fields.get(key)
        if value is None:
            value = self._lookup(key.lower())
        return default if value is None else value

    def getall(self, key: str) -> list[str]:
        lower = key.lower()
        for raw, values in (self._repeats or {}).items():
            if raw.lower() == lower:
                return list(values)
        value = self._fields.get(key)
        if value is None:
            value = self._lookup(lower)
        return [] if value is None else [value]

    def _lookup(self, lower: str) -> str | None:
        if self._lower is None:
            self._lower = {k.lower(): v for k, v in reversed(self._fields.items())}
        return self._lower.get(lower)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (
            key in self._fields or self._lookup(key.lower()) is not None
        )

    def as_dict(self) -> dict[str, str]:
        """Each header once with its first value, as :meth:`get` gives it: for
        code that takes plain headers (a ``Mapping[str, str]``)."""
        return dict(self._fields)

    def items(self) -> list[tuple[str, str]]:
        """Every header in order, repeated ones expanded."""
        out: list[tuple[str, str]] = []
        for key, value in self._fields.items():
            values = (self._repeats or {}).get(key, [value])
            out.extend((key, v) for v in values)
        return out

    def __repr__(self) -> str:
        kind = f"Event={self.event!r}" if self.event else f"Response={self.response!r}"
        return f"<AmiMessage {kind} {len(self._fields)} fields>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AmiMessage):
            return NotImplemented
        return self.items() == other.items()

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class FrameError:
    """A message the framer had to skip, and why. Logged once by the caller."""

    reason: str  # "malformed", "no-event-or-response", "oversized", "truncated"
    detail: str
    excerpt: bytes = b""


@dataclass(slots=True)
class AmiFramer:
    """Incremental AMI parser. ``feed`` bytes as they arrive; get messages back."""

    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    expect_banner: bool = True
    # A message must carry one of these keys; a server reading actions wants "Action".
    kinds: tuple[str, ...] = ("Event", "Response")
    banner: str | None = None
    errors: list[FrameError] = field(default_factory=list)
    _buf: bytearray = field(default_factory=bytearray)
    _scan_from: int = 0  # where the next search for a message end starts
    _skipping: bool = False  # inside an oversized message: drop until its end

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Parse what ``data`` completes; keep the rest for the next call."""
        buf = self._buf
        buf += data
        out: list[AmiMessage] = []
        if self.expect_banner and not self._take_banner():
            return out
        cut = self._last_message_end()
        if cut:
            region = bytes(buf[:cut])
            del buf[:cut]
            if self._skipping:  # the tail of an oversized message ends here
                self._skipping = False
                first_end = _MESSAGE_END.search(region)
                region = region[first_end.end() :] if first_end else b""
            self._parse_region(region, out)
        # A terminator may straddle two reads: rescan its last 3 bytes next time.
        self._scan_from = max(0, len(buf) - 3)
        if len(buf) > self.max_message_bytes:
            if not self._skipping:
                self.errors.append(
                    FrameError(
                        "oversized",
                        f"message larger than {self.max_message_bytes} bytes discarded",
                        bytes(buf[:80]),
                    )
                )
            self._skipping = True
            del buf[: len(buf) - 3]  # keep what may begin a terminator
            self._scan_from = 0
        return out

    def _last_message_end(self) -> int:
        """Offset just past the last complete message in the buffer, or 0."""
        buf, since = self._buf, self._scan_from
        crlf = buf.rfind(b"\r\n\r\n", since)
        lf = buf.rfind(b"\n\n", since)
        return max(crlf + 4 if crlf >= 0 else 0, lf + 2 if lf >= 0 else 0)

    def _parse_region(self, region: bytes, out: list[AmiMessage]) -> None:
        """Split complete messages and parse each; decode the region in one go."""
        try:
            text = region.decode("utf-8")
        except UnicodeDecodeError:
            # Decode per message so one Latin-1 name does not affect the others.
            for block in _MESSAGE_END.split(region):
                if block.strip():
                    self._parse_text(_decode(block).replace("\r\n", "\n"), out)
            return
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        for block in text.split("\n\n"):
            if block:
                self._parse_text(block, out)

    def _parse_text(self, block: str, out: list[AmiMessage]) -> None:
        if len(block) > self.max_message_bytes:
            self.errors.append(
                FrameError(
                    "oversized",
                    f"message larger than {self.max_message_bytes} bytes discarded",
                    block[:80].encode(),
                )
            )
            return
        lines = block.split("\n")
        try:
            # Fast path: every line is "Key: Value" and no key repeats.
            fields = dict([line.split(": ", 1) for line in lines])
        except ValueError:
            message = self._parse_lines(block, lines)
        else:
            message = (
                AmiMessage(fields) if len(fields) == len(lines) else self._parse_lines(block, lines)
            )
        if message is None:
            return
        if not any(kind in message for kind in self.kinds):
            self.errors.append(
                FrameError(
                    "no-event-or-response",
                    f"message has no {' or '.join(self.kinds)}",
                    block[:80].encode(),
                )
            )
            return
        out.append(message)

    def close(self) -> None:
        """End of stream: anything still buffered was a truncated message."""
        leftover = bytes(self._buf).strip()
        if leftover and not self._skipping:
            self.errors.append(
                FrameError("truncated", "stream ended inside a message", leftover[:80])
            )
        self._buf.clear()
        self._scan_from = 0
        self._skipping = False

    def take_errors(self) -> list[FrameError]:
        errors, self.errors = self.errors, []
        return errors

    def _take_banner(self) -> bool:
        """Consume the one-line greeting if present. False while it is incomplete."""
        buf = self._buf
        newline = buf.find(b"\n")
        if newline < 0:
            head = bytes(buf[: len(BANNER_PREFIX)])
            maybe_banner = BANNER_PREFIX.startswith(head) or head.startswith(BANNER_PREFIX)
            if maybe_banner and len(buf) <= self.max_message_bytes:
                return False  # may still be the banner: wait for its line end
            self.expect_banner = False  # a bare message stream, no greeting
            return True
        line = bytes(buf[:newline]).rstrip(b"\r")
        self.expect_banner = False
        if line.startswith(BANNER_PREFIX):
            self.banner = _decode(line)
            del buf[: newline + 1]
        return True

    def _parse_lines(self, block: str, lines: list[str]) -> AmiMessage | None:
        """Careful path: ``Key:`` with no space, repeated keys, junk lines."""
        pairs: list[tuple[str, str]] = []
        for line in lines:
            key, sep, value = line.partition(":")
            if not sep or not key or key != key.strip():
                self.errors.append(
                    FrameError(
                        "malformed",
                        f"not a 'Key: Value' line: {line[:60]!r}",
                        block[:80].encode(),
                    )
                )
                return None
            pairs.append((key, value[1:] if value[:1] == " " else value))
        return AmiMessage.from_pairs(pairs)


def _decode(raw: bytes) -> str:
    """UTF-8 where it is valid; otherwise Latin-1, line by line, so nothing is lost."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "\n".join(_decode_line(line) for line in raw.split(b"\n"))


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
