"""The fields TPDUs are made of (3GPP TS 23.040 9.1.2 and 9.2.3), and the
SMSC address that PDU mode puts in front of them (TS 27.005 3.1, in TS
24.011's RP address form). Each decoder takes the octets and an offset and
returns the value and the offset after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bridge.sim.pdu.alphabet import gsm7_septets, gsm7_text, pack_septets, unpack_septets


class PduError(ValueError):
    """The octets are not a PDU this codec reads (malformed, or a form it rejects)."""


# TS 23.040 9.1.2.5: type of number, bits 6-4 of the type-of-address octet.
TON_UNKNOWN = 0
TON_INTERNATIONAL = 1
TON_NATIONAL = 2
TON_ALPHANUMERIC = 5
ISDN = 0x1  # numbering plan identification, bits 3-0: ISDN/telephone (E.164/E.163)

# TS 23.040 9.1.2.3: semi-octet digits; 0xF pads an odd count to whole octets.
_DIGITS = "0123456789*#abc"


@dataclass(frozen=True, slots=True)
class Address:
    """A TS 23.040 9.1.2.5 address: ``number`` as text ("+" in front for the
    international type of number, the name for an alphanumeric one) and the
    type-of-address octet ``toa`` as sent."""

    number: str
    toa: int

    @property
    def ton(self) -> int:
        return (self.toa >> 4) & 0x07

    @classmethod
    def parse(cls, text: str) -> Address:
        """``+digits`` international, ``digits`` national, anything else an
        alphanumeric name (what a bank or a carrier sends from)."""
        if text.startswith("+") and text[1:].isdigit():
            return cls(text, 0x80 | TON_INTERNATIONAL << 4 | ISDN)
        if text.isdigit():
            return cls(text, 0x80 | TON_NATIONAL << 4 | ISDN)
        return cls(text, 0x80 | TON_ALPHANUMERIC << 4)  # numbering plan "unknown"


def encode_semi_octets(digits: str) -> bytes:
    """Two digits an octet, the first in the low nibble; 'F' pads an odd count."""
    nibbles = [_nibble(digit) for digit in digits]
    if len(nibbles) % 2:
        nibbles.append(0xF)
    return bytes(low | high << 4 for low, high in zip(nibbles[::2], nibbles[1::2], strict=True))


def decode_semi_octets(data: bytes, count: int) -> str:
    """The first ``count`` digits of ``data``."""
    nibbles = [n for octet in data for n in (octet & 0x0F, octet >> 4)][:count]
    if 0xF in nibbles:
        raise PduError(f"filler 'F' among the digits of {data.hex().upper()}")
    return "".join(_DIGITS[n] for n in nibbles)


def _nibble(digit: str) -> int:
    index = _DIGITS.find(digit.lower())
    if index < 0 or len(digit) != 1:
        raise PduError(f"{digit!r} cannot be a semi-octet digit")
    return index


def encode_address(address: Address) -> bytes:
    """TS 23.040 9.1.2.5: length in useful semi-octets, type of address, value.
    An alphanumeric value is GSM 7-bit packed (TS 23.038 6.2.1)."""
    if address.ton == TON_ALPHANUMERIC:
        septets = gsm7_septets(address.number)
        return bytes([-(-7 * len(septets) // 4), address.toa]) + pack_septets(septets)
    digits = address.number
    if address.ton == TON_INTERNATIONAL:
        digits = digits.removeprefix("+")
    return bytes([len(digits), address.toa]) + encode_semi_octets(digits)


def decode_address(data: bytes, offset: int) -> tuple[Address, int]:
    length, toa = _octets(data, offset, 2)
    size = (length + 1) // 2
    value = _octets(data, offset + 2, size)
    if (toa >> 4) & 0x07 == TON_ALPHANUMERIC:
        number = gsm7_text(unpack_septets(value, length * 4 // 7))
    else:
        number = decode_semi_octets(value, length)
        if (toa >> 4) & 0x07 == TON_INTERNATIONAL:
            number = "+" + number
    return Address(number, toa), offset + 2 + size


def encode_smsc(address: Address | None) -> bytes:
    """PDU mode's leading SMSC field: its length in octets (type of address
    included), or a single 0 for "the SMSC the modem is set to"."""
    if address is None:
        return b"\x00"
    digits = address.number.removeprefix("+")
    value = encode_semi_octets(digits)
    return bytes([1 + len(value), address.toa]) + value


def decode_smsc(data: bytes) -> tuple[Address | None, int]:
    (length,) = _octets(data, 0, 1)
    if length == 0:
        return None, 1
    toa, *value = _octets(data, 1, length)
    count = 2 * len(value) - (1 if value and value[-1] >> 4 == 0xF else 0)
    digits = decode_semi_octets(bytes(value), count)
    number = "+" + digits if (toa >> 4) & 0x07 == TON_INTERNATIONAL else digits
    return Address(number, toa), 1 + length


def _octets(data: bytes, offset: int, count: int) -> bytes:
    if offset + count > len(data):
        raise PduError(f"the PDU ends at octet {len(data)}; {offset + count} needed")
    return data[offset : offset + count]


# ------------------------------------------------------------------ time


def encode_timestamp(moment: datetime) -> bytes:
    """TS 23.040 9.2.3.11: year to second as semi-octet pairs, then the offset
    from UTC in quarter hours, its sign in bit 3 of that last octet."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("a TP-SCTS needs a time zone: give an aware datetime")
    quarters, rest = divmod(int(offset.total_seconds()), 900)
    if rest or not -79 <= quarters <= 79:
        raise ValueError(f"a TP-SCTS zone is whole quarter hours up to 19:45, not {offset}")
    if not 1970 <= moment.year <= 2069:
        raise ValueError(f"two year digits stand for 1970-2069, not {moment.year}")
    fields = (moment.year % 100, moment.month, moment.day, moment.hour, moment.minute)
    octets = [_bcd(value) for value in (*fields, moment.second)]
    octets.append(_bcd(abs(quarters)) | (0x08 if quarters < 0 else 0))
    return bytes(octets)


def decode_timestamp(data: bytes, offset: int) -> tuple[datetime, int]:
    """A TP-SCTS (or TP-DT, or an absolute TP-VP); two year digits from 70 up
    are taken as 19xx, below as 20xx (the field carries no century)."""
    raw = _octets(data, offset, 7)
    year, month, day, hour, minute, second = (_from_bcd(octet) for octet in raw[:6])
    quarters = _from_bcd(raw[6] & ~0x08)
    zone = timezone(timedelta(minutes=15 * (-quarters if raw[6] & 0x08 else quarters)))
    try:
        moment = datetime(year + (1900 if year >= 70 else 2000), month, day, hour, minute, second)
    except ValueError as exc:
        raise PduError(f"{raw.hex().upper()} is not a time: {exc}") from None
    return moment.replace(tzinfo=zone), offset + 7


def _bcd(value: int) -> int:
    return value // 10 | (value % 10) << 4  # the tens digit in the low nibble


def _from_bcd(octet: int) -> int:
    tens, units = octet & 0x0F, octet >> 4
    if tens > 9 or units > 9:
        raise PduError(f"{octet:02X} is not two decimal semi-octets")
    return 10 * tens + units


# ------------------------------------------------------------------ validity period

VPF_NONE, VPF_ENHANCED, VPF_RELATIVE, VPF_ABSOLUTE = 0, 1, 2, 3  # TS 23.040 9.2.3.3
VALIDITY_FORMATS = {
    VPF_NONE: "none",
    VPF_ENHANCED: "enhanced",
    VPF_RELATIVE: "relative",
    VPF_ABSOLUTE: "absolute",
}

Validity = timedelta | datetime | None


def relative_validity(octet: int) -> timedelta:
    """TS 23.040 9.2.3.12.1: 5-minute steps to 12 h, half hours to 24 h, days
    to 30, then weeks to 63."""
    if octet <= 143:
        return timedelta(minutes=5 * (octet + 1))
    if octet <= 167:
        return timedelta(hours=12, minutes=30 * (octet - 143))
    if octet <= 196:
        return timedelta(days=octet - 166)
    return timedelta(weeks=octet - 192)


def relative_validity_octet(period: timedelta) -> int:
    """The TP-VP octet that stands for exactly ``period``; ValueError if none does."""
    for octet in range(256):
        if relative_validity(octet) == period:
            return octet
    raise ValueError(f"no relative TP-VP is exactly {period}")


def decode_validity(vpf: int, data: bytes, offset: int) -> tuple[Validity, int]:
    """The TP-VP the format ``vpf`` (TP-VPF) announces, and the offset after it."""
    if vpf == VPF_NONE:
        return None, offset
    if vpf == VPF_RELATIVE:
        return relative_validity(_octets(data, offset, 1)[0]), offset + 1
    if vpf == VPF_ABSOLUTE:
        return decode_timestamp(data, offset)
    return _enhanced_validity(_octets(data, offset, 7)), offset + 7


def _enhanced_validity(raw: bytes) -> timedelta | None:
    """TS 23.040 9.2.3.12.3. The single-shot bit (6) is ignored; an extended
    functionality indicator (bit 7) and the reserved formats are refused."""
    indicator = raw[0]
    if indicator & 0x80:
        raise PduError("an enhanced TP-VP with an extended functionality indicator")
    kind = indicator & 0x07
    if kind == 0:
        return None
    if kind == 1:
        return relative_validity(raw[1])
    if kind == 2:
        return timedelta(seconds=raw[1])
    if kind == 3:
        hours, minutes, seconds = (_from_bcd(octet) for octet in raw[1:4])
        return timedelta(hours=hours, minutes=minutes, seconds=seconds)
    raise PduError(f"enhanced TP-VP format {kind} is reserved (TS 23.040 9.2.3.12.3)")


# ------------------------------------------------------------------ data coding scheme

GSM7, EIGHT_BIT, UCS2 = "gsm7", "8bit", "ucs2"
_ALPHABETS = (GSM7, EIGHT_BIT, UCS2, GSM7)  # TS 23.038 4: the reserved 11 counts as GSM-7


def dcs_alphabet(dcs: int) -> str:
    """The alphabet a TP-DCS (TS 23.038 4) names. Compressed text and the
    reserved coding groups 1000-1011 are refused."""
    group = dcs >> 4
    if group <= 0x7:  # general data coding (00xx) and automatic deletion (01xx) groups
        if dcs & 0x20:
            raise PduError(f"TP-DCS {dcs:02X}: compressed text is not supported")
        return _ALPHABETS[(dcs >> 2) & 0x03]
    if group in (0xC, 0xD):  # message waiting indication, discard / store
        return GSM7
    if group == 0xE:  # message waiting indication, store, UCS-2
        return UCS2
    if group == 0xF:  # data coding / message class
        return EIGHT_BIT if dcs & 0x04 else GSM7
    raise PduError(f"TP-DCS {dcs:02X} is in a reserved coding group")


def dcs_for(alphabet: str) -> int:
    """The plain TP-DCS for ``alphabet``: no class, uncompressed."""
    return {GSM7: 0x00, EIGHT_BIT: 0x04, UCS2: 0x08}[alphabet]
