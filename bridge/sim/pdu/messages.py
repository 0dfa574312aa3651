"""Whole PDUs as TS 27.005 PDU mode has them (the SMSC address, then the TPDU):
SMS-DELIVER and SMS-STATUS-REPORT as the network hands them to a modem, and
SMS-SUBMIT as a modem is asked to send it (3GPP TS 23.040 9.2.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.sim.pdu.fields import (
    EIGHT_BIT,
    GSM7,
    VALIDITY_FORMATS,
    Address,
    PduError,
    Validity,
    dcs_alphabet,
    dcs_for,
    decode_address,
    decode_smsc,
    decode_validity,
    encode_address,
    encode_smsc,
    encode_timestamp,
)
from bridge.sim.pdu.userdata import (
    Concat,
    InformationElement,
    decode_user_data,
    encode_user_data,
    segments,
)

# TS 23.040 9.2.3.1: TP-MTI, bits 1-0 of the first octet.
MTI_DELIVER, MTI_SUBMIT, MTI_STATUS_REPORT = 0b00, 0b01, 0b10
# The first octet's flags (TS 23.040 9.2.3.2, .5, .17, .23, .25, .26).
TP_MMS = 0x04  # SMS-DELIVER / -STATUS-REPORT: set when no more messages wait
TP_RD = 0x04  # SMS-SUBMIT: reject a duplicate (same TP-MR and TP-DA)
TP_SRI = 0x20  # SMS-DELIVER: the sender asked for a status report
TP_SRR = 0x20  # SMS-SUBMIT: a status report is requested
TP_SRQ = 0x20  # SMS-STATUS-REPORT: this reports on an SMS-COMMAND
TP_UDHI = 0x40  # TP-UD starts with a header
TP_RP = 0x80  # a reply path is set


@dataclass(frozen=True, slots=True)
class Deliver:
    """An SMS-DELIVER (TS 23.040 9.2.2.1). ``dcs`` None picks the plain one
    for the text (GSM-7 if it fits, else UCS-2); ``body`` is bytes for 8-bit data."""

    sender: Address
    body: str | bytes
    timestamp: datetime  # TP-SCTS, aware
    smsc: Address | None = None
    header: tuple[InformationElement, ...] = ()
    pid: int = 0x00
    dcs: int | None = None
    more_messages: bool = False  # TP-MMS clear: the SC has more messages waiting
    status_report_indication: bool = False
    reply_path: bool = False


@dataclass(frozen=True, slots=True)
class StatusReport:
    """An SMS-STATUS-REPORT (TS 23.040 9.2.2.3) without the optional TP-PI part:
    TP-ST 0x00-0x1F delivered, 0x20-0x3F still trying, 0x40 up permanent
    failure, 0x60 up temporary failure and given up (9.2.3.15)."""

    reference: int  # TP-MR of the SMS-SUBMIT it reports on
    recipient: Address  # TP-RA
    timestamp: datetime  # TP-SCTS: when the SC got that SMS-SUBMIT
    discharge: datetime  # TP-DT: when it was delivered, or the attempt failed
    status: int  # TP-ST
    smsc: Address | None = None
    more_messages: bool = False
    command_report: bool = False  # TP-SRQ


def encode_deliver(message: Deliver) -> bytes:
    alphabet = _alphabet_for(message.body, message.dcs)
    dcs = dcs_for(alphabet) if message.dcs is None else message.dcs
    length, user_data = encode_user_data(alphabet, message.header, message.body)
    first = MTI_DELIVER | _flag(not message.more_messages, TP_MMS)
    first |= _flag(message.status_report_indication, TP_SRI) | _flag(message.reply_path, TP_RP)
    first |= _flag(bool(message.header), TP_UDHI)
    tpdu = bytes([first]) + encode_address(message.sender) + bytes([message.pid, dcs])
    tpdu += encode_timestamp(message.timestamp) + bytes([length]) + user_data
    return encode_smsc(message.smsc) + tpdu


def encode_status_report(report: StatusReport) -> bytes:
    first = MTI_STATUS_REPORT | _flag(not report.more_messages, TP_MMS)
    first |= _flag(report.command_report, TP_SRQ)
    tpdu = bytes([first, report.reference & 0xFF]) + encode_address(report.recipient)
    tpdu += encode_timestamp(report.timestamp) + encode_timestamp(report.discharge)
    return encode_smsc(report.smsc) + tpdu + bytes([report.status])


def deliver_parts(
    sender: Address,
    text: str,
    *,
    timestamp: datetime,
    smsc: Address | None = None,
    reference: int = 0,
) -> list[Deliver]:
    """``text`` as the network delivers it: one SMS-DELIVER, or concatenated
    parts (a reference above 255 takes the 16-bit reference element)."""
    wide = reference > 0xFF
    alphabet, pieces = segments(text, wide=wide)
    dcs = dcs_for(alphabet)
    if len(pieces) == 1:
        return [Deliver(sender, text, timestamp, smsc, dcs=dcs)]
    count = len(pieces)
    headers = [(Concat(reference, count, n, wide).element(),) for n in range(1, count + 1)]
    return [
        Deliver(sender, piece, timestamp, smsc, header, dcs=dcs)
        for piece, header in zip(pieces, headers, strict=True)
    ]


def _alphabet_for(body: str | bytes, dcs: int | None) -> str:
    if dcs is not None:
        return dcs_alphabet(dcs)
    if isinstance(body, bytes):
        return EIGHT_BIT
    return segments(body)[0]


def _flag(on: bool, bit: int) -> int:
    return bit if on else 0


# ------------------------------------------------------------------ SMS-SUBMIT


@dataclass(frozen=True, slots=True)
class Submit:
    """A decoded SMS-SUBMIT (TS 23.040 9.2.2.2)."""

    number: str  # TP-DA, "+" in front when international
    toa: int  # TP-DA's type of address
    text: str  # empty for 8-bit data (see ``payload``)
    reference: int  # TP-MR
    reject_duplicates: bool  # TP-RD
    status_report_requested: bool  # TP-SRR
    reply_path: bool  # TP-RP
    validity: Validity  # TP-VP: a timedelta (relative, enhanced), a datetime (absolute)
    validity_format: str  # TP-VPF: none, relative, absolute or enhanced
    pid: int
    dcs: int
    encoding: str  # gsm7, ucs2 or 8bit
    header: tuple[InformationElement, ...]
    payload: bytes  # TP-UD after the header
    smsc: Address | None = None

    @property
    def concat(self) -> Concat | None:
        return Concat.from_header(self.header)


def decode_submit(pdu: bytes | str) -> Submit:
    """An SMS-SUBMIT in PDU mode (SMSC field first, TS 27.005 3.1); hex text or
    octets. Raises PduError for anything else, or for octets left over."""
    data = bytes.fromhex(pdu) if isinstance(pdu, str) else pdu
    smsc, offset = decode_smsc(data)
    if offset >= len(data):
        raise PduError("no TPDU after the SMSC field")
    first = data[offset]
    if first & 0x03 != MTI_SUBMIT:
        raise PduError(f"first octet {first:02X}: TP-MTI {first & 0x03} is not SMS-SUBMIT")
    if offset + 2 > len(data):
        raise PduError("the SMS-SUBMIT ends before its TP-DA")
    reference = data[offset + 1]
    address, offset = decode_address(data, offset + 2)
    if offset + 2 > len(data):
        raise PduError("the SMS-SUBMIT ends before its TP-PID and TP-DCS")
    pid, dcs = data[offset], data[offset + 1]
    vpf = (first >> 3) & 0x03  # TS 23.040 9.2.3.3
    validity, offset = decode_validity(vpf, data, offset + 2)
    if offset >= len(data):
        raise PduError("the SMS-SUBMIT ends before its TP-UDL")
    encoding = dcs_alphabet(dcs)
    user_data = decode_user_data(encoding, bool(first & TP_UDHI), data[offset], data[offset + 1 :])
    _check_no_leftover(encoding, data[offset], len(data) - offset - 1)
    return Submit(
        number=address.number,
        toa=address.toa,
        text=user_data.text,
        reference=reference,
        reject_duplicates=bool(first & TP_RD),
        status_report_requested=bool(first & TP_SRR),
        reply_path=bool(first & TP_RP),
        validity=validity,
        validity_format=VALIDITY_FORMATS[vpf],
        pid=pid,
        dcs=dcs,
        encoding=encoding,
        header=user_data.header,
        payload=user_data.payload,
        smsc=smsc,
    )


def _check_no_leftover(encoding: str, length: int, octets: int) -> None:
    """TP-UDL fixes the TP-UD's size: octets past it mean a length that lies."""
    expected = -(-7 * length // 8) if encoding == GSM7 else length
    if octets != expected:
        raise PduError(f"TP-UDL {length} means {expected} octets of user data, not {octets}")
