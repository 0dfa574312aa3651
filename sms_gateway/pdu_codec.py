"""PDUs made and read: python-gsmmodem's codec, with our fixes, and nothing else.

What is kept from python-gsmmodem-new is its PDU codec (``gsmmodem.pdu``):
SMS-SUBMIT encoding with GSM-7/UCS-2 and concatenation, and decoding of
SMS-DELIVER and status reports. Its serial and command layer is replaced
(:mod:`sms_gateway.serial_port` and :mod:`sms_gateway.at_channel` say why).
Local fixes to the codec, each named where it is made:

- emoji: the UCS-2 encoder takes one code point per 16-bit unit, so text
  goes in as UTF-16 code units (surrogate pairs for emoji) and comes back
  out of the decoder joined again;
- a status report is requested only when asked for (``status_report``: the
  transport asks when ``delivery_reports`` is on);
- the network's timestamp (TP-SCTS) comes out as an aware datetime, UTC when
  the decoder gives none;
- the decoder's loose dict is read here once, into our own values
  (:class:`IncomingText`, :class:`TextPart`, :class:`DeliveryReport`):
  nothing else looks at its keys.

Pure: no I/O, no clock (the caller says when a message was received).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gsmmodem import pdu as gsm_pdu

from sms_gateway.base import DeliveryReport, IncomingText

STATUS_REPORT = "SMS-STATUS-REPORT"  # the decoder's name for a status report's PDU type


class UndecodablePdu(ValueError):
    """python-gsmmodem could not decode a PDU (it raises all sorts: say it once)."""


@dataclass(frozen=True, slots=True)
class TextPart:
    """One part of a long text: its concatenation header says which text
    (sender and reference), how many parts it has and which one this is."""

    sender: str
    body: str
    network_time: datetime | None
    reference: int
    total: int  # how many parts the text has
    number: int  # this one's, from 1


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


def same_submit(stored_hex: str, ours_hex: str) -> bool:
    """Is the SMS-SUBMIT a modem shows in a storage slot the one we wrote
    there? The SMS centre field may have been filled in, TP-RD set on a
    resend and the TP-MR changed by the modem: the rest must match."""
    stored, ours = _tpdu(stored_hex), _tpdu(ours_hex)
    if stored is None or ours is None or len(stored) != len(ours) or len(ours) < 2:
        return False
    rd = 0x04  # TP-RD in the first octet (TS 23.040 9.2.2.2)
    return (stored[0] | rd) == (ours[0] | rd) and stored[2:] == ours[2:]


def submit_reference(pdu_hex: str) -> int:
    """The TP-MR of an SMS-SUBMIT (-1 if it is too short to have one)."""
    tpdu = _tpdu(pdu_hex)
    return tpdu[1] if tpdu is not None and len(tpdu) > 1 else -1


def _tpdu(pdu_hex: str) -> bytes | None:
    """The PDU without its leading SMS centre field."""
    try:
        raw = bytes.fromhex(pdu_hex)
    except ValueError:
        return None
    return raw[1 + raw[0] :] if raw else None


def _utf16_units(text: str) -> str:
    if all(ord(ch) < 0x10000 for ch in text):
        return text
    raw = text.encode("utf-16-be")
    return "".join(chr(unit) for unit in struct.unpack(f">{len(raw) // 2}H", raw))


def join_surrogates(text: str) -> str:
    """The decoder's UCS-2 output, with emoji (surrogate pairs) joined again."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def decode_stored(pdu_hex: str, received_at: datetime) -> IncomingText | TextPart | DeliveryReport:
    """What a PDU read off the modem holds: a whole text, one part of a long
    one, or a status report. Raises :class:`UndecodablePdu`."""
    decoded = _decode(pdu_hex)
    if str(decoded.get("type")) == STATUS_REPORT:
        return _delivery_report(decoded, received_at)
    sender = str(decoded.get("number", ""))
    body = join_surrogates(str(decoded.get("text", "")))
    sent = _network_time(decoded)
    concat = next(
        (e for e in decoded.get("udh", []) or [] if isinstance(e, gsm_pdu.Concatenation)), None
    )
    if concat is None:
        return IncomingText(sender, body, received_at, network_time=sent)
    return TextPart(
        sender, body, sent, int(concat.reference), int(concat.parts), int(concat.number)
    )


def decode_report(pdu_hex: str, received_at: datetime) -> DeliveryReport:
    """A status report's PDU (+CDS, or read from SR). Raises :class:`UndecodablePdu`."""
    return _delivery_report(_decode(pdu_hex), received_at)


def pdu_type(pdu_hex: str) -> str | None:
    """The decoder's name for the PDU's type (``SMS-DELIVER``...); None if undecodable."""
    try:
        return str(_decode(pdu_hex).get("type"))
    except UndecodablePdu:
        return None


def _decode(pdu_hex: str) -> dict[str, Any]:
    try:
        decoded: dict[str, Any] = gsm_pdu.decodeSmsPdu(pdu_hex)
    except Exception as exc:  # EncodingError, but StopIteration, IndexError... too
        raise UndecodablePdu(str(exc)) from exc
    return decoded


def _delivery_report(decoded: dict[str, Any], received_at: datetime) -> DeliveryReport:
    status = int(decoded.get("status", 0xFF))
    return DeliveryReport(
        reference=int(decoded.get("reference", -1)),
        recipient=str(decoded.get("number", "")),
        delivered=status < 0x20,  # 0x00-0x1F: delivered (TS 23.040 9.2.3.15)
        status=status,
        at=received_at,
    )


def _network_time(decoded: dict[str, Any]) -> datetime | None:
    """The SMSC's timestamp (TP-SCTS) of an SMS-DELIVER, as an aware datetime."""
    moment = decoded.get("time")
    if not isinstance(moment, datetime):
        return None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
