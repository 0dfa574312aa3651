"""The PDUs the simulated modem makes and reads: SMS-SUBMITs handed to it,
SMS-DELIVERs and status reports it hands over.

Built and read with the simulator's own codec (bridge/sim/pdu), never the
transport's, so that a fault in the transport's codec cannot hide behind the
same fault here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.sim import pdu as codec


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
    """The SMS-SUBMIT the DTE handed over; PduError if it is not one."""
    submit = codec.decode_submit(pdu_hex)
    concat = submit.concat
    return SentPdu(
        pdu=pdu_hex,
        number=submit.number,
        text=submit.text,
        reference=submit.reference,
        status_report_requested=submit.status_report_requested,
        concat=None if concat is None else (concat.reference, concat.parts, concat.number),
        reject_duplicates=submit.reject_duplicates,
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
    with concatenation headers when it does not fit in one (a ``concat_ref``
    above 255 takes the 16-bit reference)."""
    parts = codec.deliver_parts(
        codec.Address.parse(sender),
        text,
        timestamp=at or datetime.now(UTC),
        smsc=_smsc(smsc),
        reference=concat_ref,
    )
    return [codec.encode_deliver(part).hex().upper() for part in parts]


def status_report_pdu(
    reference: int, number: str, *, delivered: bool = True, smsc: str = "+15125550000"
) -> str:
    """An SMS-STATUS-REPORT on the SMS-SUBMIT with TP-MR ``reference``: TP-ST
    00 (delivered) or 41 (permanent error: incompatible destination)."""
    now = datetime.now(UTC)
    report = codec.StatusReport(
        reference=reference,
        recipient=codec.Address.parse(number),
        timestamp=now,
        discharge=now,
        status=0x00 if delivered else 0x41,
        smsc=_smsc(smsc),
    )
    return codec.encode_status_report(report).hex().upper()


def _smsc(number: str) -> codec.Address | None:
    """A modem with no SMSC set (AT+CSCA "") shows an empty SMSC field."""
    return codec.Address.parse(number) if number else None


def tpdu_length(pdu_hex: str) -> int:
    """The <length> field of +CMGR/+CMGL/+CDS: the PDU without its SMSC part."""
    return len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)
