"""TP-UD: the user data header and its concatenation elements, the text after
it, and how a long text is cut into parts (3GPP TS 23.040 9.2.3.16, 9.2.3.24)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bridge.sim.pdu.alphabet import (
    gsm7_septets,
    gsm7_text,
    is_gsm7,
    pack_septets,
    ucs2_bytes,
    ucs2_text,
    unpack_septets,
    utf16_units,
)
from bridge.sim.pdu.fields import EIGHT_BIT, GSM7, UCS2, PduError

CONCAT_8BIT = 0x00  # TS 23.040 9.2.3.24.1: reference, parts, this part (one octet each)
CONCAT_16BIT = 0x08  # TS 23.040 9.2.3.24.8: the same with a two-octet reference
MAX_OCTETS = 140  # TS 23.040 9.2.3.16: TP-UD holds at most 140 octets
MAX_SEPTETS = 160  # ... that is 160 septets of GSM-7


@dataclass(frozen=True, slots=True)
class InformationElement:
    """One element of a user data header: its identifier (IEI) and data."""

    iei: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Concat:
    """A concatenated text's reference, its number of parts and this part's
    number (from 1); ``wide`` for the 16-bit reference element."""

    reference: int
    parts: int
    number: int
    wide: bool = False

    def element(self) -> InformationElement:
        if self.wide:
            data = self.reference.to_bytes(2, "big") + bytes([self.parts, self.number])
            return InformationElement(CONCAT_16BIT, data)
        return InformationElement(CONCAT_8BIT, bytes([self.reference, self.parts, self.number]))

    @classmethod
    def from_header(cls, header: Sequence[InformationElement]) -> Concat | None:
        for element in header:
            if element.iei == CONCAT_8BIT and len(element.data) == 3:
                return cls(*element.data)
            if element.iei == CONCAT_16BIT and len(element.data) == 4:
                reference = int.from_bytes(element.data[:2], "big")
                return cls(reference, element.data[2], element.data[3], wide=True)
        return None


@dataclass(frozen=True, slots=True)
class UserData:
    """Decoded TP-UD: the header's elements, the text (empty for 8-bit data)
    and the octets after the header (the packed septets, for GSM-7)."""

    header: tuple[InformationElement, ...]
    text: str
    payload: bytes


def encode_header(header: Sequence[InformationElement]) -> bytes:
    """TS 23.040 9.2.3.24: UDHL, then each element as IEI, length, data."""
    if not header:
        return b""
    body = b"".join(bytes([e.iei, len(e.data)]) + e.data for e in header)
    return bytes([len(body)]) + body


def decode_header(data: bytes) -> tuple[tuple[InformationElement, ...], int]:
    """The header's elements and its size in octets, UDHL included."""
    if not data or 1 + data[0] > len(data):
        raise PduError("the user data header runs past the user data")
    end, position, header = 1 + data[0], 1, []
    while position < end:
        if position + 2 > end or position + 2 + data[position + 1] > end:
            raise PduError("an information element runs past the user data header")
        size = data[position + 1]
        header.append(InformationElement(data[position], data[position + 2 : position + 2 + size]))
        position += 2 + size
    return tuple(header), end


def fill_bits(header_octets: int) -> int:
    """Zero bits after a header so that GSM-7 text starts on a septet boundary."""
    return (7 - 8 * header_octets % 7) % 7


def encode_user_data(
    alphabet: str, header: Sequence[InformationElement], body: str | bytes
) -> tuple[int, bytes]:
    """TP-UDL and TP-UD: UDL counts septets (header and fill bits included)
    for GSM-7, octets otherwise (TS 23.040 9.2.3.16)."""
    udh = encode_header(header)
    if alphabet == GSM7:
        septets = gsm7_septets(_text(body))
        fill = fill_bits(len(udh))
        length = (8 * len(udh) + fill) // 7 + len(septets)
        encoded = udh + pack_septets(septets, fill)
        if length > MAX_SEPTETS:
            raise ValueError(f"{length} septets do not fit in one TP-UD ({MAX_SEPTETS})")
        return length, encoded
    payload = ucs2_bytes(_text(body)) if alphabet == UCS2 else bytes(_data(body))
    if len(udh) + len(payload) > MAX_OCTETS:
        raise ValueError(f"{len(udh) + len(payload)} octets do not fit in one TP-UD")
    return len(udh) + len(payload), udh + payload


def decode_user_data(alphabet: str, has_header: bool, length: int, data: bytes) -> UserData:
    """TP-UD of TP-UDL ``length`` in ``alphabet``, its header if TP-UDHI says so."""
    header, used = decode_header(data) if has_header else ((), 0)
    if alphabet == GSM7:
        fill = fill_bits(used)
        count = length - (8 * used + fill) // 7
        if count < 0:
            raise PduError(f"TP-UDL {length} is shorter than the user data header")
        try:
            septets = unpack_septets(data[used:], count, fill)
        except ValueError as exc:
            raise PduError(str(exc)) from None
        return UserData(header, gsm7_text(septets), bytes(data[used:]))
    if length > len(data) or length < used:
        raise PduError(f"TP-UDL {length} does not match {len(data)} octets of user data")
    payload = bytes(data[used:length])
    if alphabet == EIGHT_BIT:
        return UserData(header, "", payload)
    try:
        return UserData(header, ucs2_text(payload), payload)
    except ValueError as exc:
        raise PduError(str(exc)) from None


def _text(body: str | bytes) -> str:
    if not isinstance(body, str):
        raise TypeError("GSM-7 and UCS-2 user data is text")
    return body


def _data(body: str | bytes) -> bytes:
    if isinstance(body, str):
        raise TypeError("8-bit user data is bytes")
    return body


# ------------------------------------------------------------------ long texts


def concat_header_octets(wide: bool) -> int:
    return 7 if wide else 6  # UDHL, IEI, IE length, then 4 (16-bit) or 3 octets


def segments(text: str, *, wide: bool = False) -> tuple[str, list[str]]:
    """The alphabet ``text`` goes in, and its pieces, one per part: the whole
    text if it fits one SMS (160 septets, 70 UTF-16 units), else pieces that
    fit beside a concatenation header (153 and 67 with an 8-bit reference).
    No piece ends inside an escape pair or a surrogate pair."""
    alphabet = GSM7 if is_gsm7(text) else UCS2
    if sum(_cost(alphabet, char) for char in text) <= _room(alphabet, 0):
        return alphabet, [text]
    room = _room(alphabet, concat_header_octets(wide))
    pieces, current, used = [], "", 0
    for char in text:
        if used + _cost(alphabet, char) > room:
            pieces.append(current)
            current, used = "", 0
        current += char
        used += _cost(alphabet, char)
    return alphabet, [*pieces, current]


def _cost(alphabet: str, char: str) -> int:
    """Septets (1, or 2 for the extension table) or UTF-16 units (1, or 2 for a pair)."""
    return len(gsm7_septets(char)) if alphabet == GSM7 else utf16_units(char)


def _room(alphabet: str, header_octets: int) -> int:
    """Septets or UTF-16 units that fit in TP-UD beside a header of that size."""
    if alphabet == GSM7:
        return (8 * (MAX_OCTETS - header_octets) - fill_bits(header_octets)) // 7
    return (MAX_OCTETS - header_octets) // 2
