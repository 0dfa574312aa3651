"""Text in SMS user data: the GSM 7-bit default alphabet and UCS-2 (3GPP TS 23.038).

GSM-7 text is a list of septets (0-127): a character of the default alphabet
is one septet, a character of the extension table two (ESC, then its code).
Septets are packed into octets least significant bit first (TS 23.038
6.1.2.1.1), after ``fill_bits`` zero bits when a user data header comes first
(TS 23.040 9.2.3.24). UCS-2 is carried as UTF-16 big-endian, so a character
outside the Basic Multilingual Plane (an emoji) is a surrogate pair of two
16-bit units, as every current handset sends and expects it.
"""

from __future__ import annotations

from collections.abc import Sequence

ESCAPE = 0x1B  # TS 23.038 6.2.1: escape to the extension table

# TS 23.038 6.2.1, the default alphabet, by code. 0x1B is the escape itself:
# a receiver never shows it; the slot holds a space only to keep the table 128 long.
DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# TS 23.038 6.2.1.1, the extension table (code after ESC -> character). 0x0D
# (CR2) and 0x1B (SS2) are reserved; the note to 0x1B says a receiver shows a space.
EXTENSION_TABLE = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_BASIC_CODES = {char: code for code, char in enumerate(DEFAULT_ALPHABET) if code != ESCAPE}
_EXTENSION_CODES = {char: code for code, char in EXTENSION_TABLE.items()}


class NotGsm7(ValueError):
    """The text has a character neither table holds: it goes as UCS-2."""


def gsm7_septets(text: str) -> list[int]:
    """``text`` as septets; raises NotGsm7 for a character outside both tables."""
    septets: list[int] = []
    for char in text:
        if char in _BASIC_CODES:
            septets.append(_BASIC_CODES[char])
        elif char in _EXTENSION_CODES:
            septets += [ESCAPE, _EXTENSION_CODES[char]]
        else:
            raise NotGsm7(f"{char!r} (U+{ord(char):04X}) is not in the GSM 7-bit alphabet")
    return septets


def gsm7_text(septets: Sequence[int]) -> str:
    """Septets as text. An escape before a code the extension table lacks shows
    that code's default-alphabet character (TS 23.038 6.2.1.1); ESC ESC (SS2)
    shows a space; a last septet that is a lone escape shows nothing."""
    out: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            fallback = " " if septet == ESCAPE else DEFAULT_ALPHABET[septet]
            out.append(EXTENSION_TABLE.get(septet, fallback))
            escaped = False
        elif septet == ESCAPE:
            escaped = True
        else:
            out.append(DEFAULT_ALPHABET[septet])
    return "".join(out)


def is_gsm7(text: str) -> bool:
    return all(char in _BASIC_CODES or char in _EXTENSION_CODES for char in text)


def pack_septets(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Septets packed LSB first after ``fill_bits`` zero bits (TS 23.038 6.1.2.1.1)."""
    value = 0
    for index, septet in enumerate(septets):
        if not 0 <= septet < 0x80:
            raise ValueError(f"not a septet: {septet}")
        value |= septet << (fill_bits + 7 * index)
    octets = -(-(fill_bits + 7 * len(septets)) // 8)
    return value.to_bytes(octets, "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """``count`` septets from ``data``, after ``fill_bits`` bits; raises
    ValueError if ``data`` is too short to hold them."""
    needed = -(-(fill_bits + 7 * count) // 8)
    if len(data) < needed:
        raise ValueError(f"{count} septets need {needed} octets, only {len(data)} given")
    value = int.from_bytes(data[:needed], "little") >> fill_bits
    return [(value >> (7 * index)) & 0x7F for index in range(count)]


def ucs2_bytes(text: str) -> bytes:
    """UTF-16 big-endian: TS 23.038 6.2.3's UCS-2, with surrogate pairs beyond the BMP."""
    return text.encode("utf-16-be")


def ucs2_text(data: bytes) -> str:
    """UCS-2 user data as text. A lone surrogate (half an emoji, as when a
    sender splits a pair across two parts) becomes U+FFFD, as a phone shows it."""
    if len(data) % 2:
        raise ValueError(f"UCS-2 user data has an odd length ({len(data)} octets)")
    return data.decode("utf-16-be", "replace")


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2
