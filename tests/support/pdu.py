"""The modem transport's own decoding of PDUs read off the SIM, without the
serial line (tests/adapters/test_gsm_modem.py covers that over the pty)."""

from __future__ import annotations

from datetime import UTC, datetime

from gsmmodem import pdu as gsm_pdu

from sms_gateway.base import DeliveryReport, IncomingText
from sms_gateway.modem_inbox import StoredMessages


class Sink:
    def __init__(self) -> None:
        self.texts: list[IncomingText] = []
        self.reports: list[DeliveryReport] = []

    async def incoming_text(self, text: IncomingText) -> None:
        self.texts.append(text)

    async def delivery_report(self, report: DeliveryReport) -> None:
        self.reports.append(report)


def transport_reads(*pdus: bytes) -> Sink:
    """The transport's own decoding (what it does with a PDU read off the SIM, minus
    the serial line, which tests/adapters/test_gsm_modem.py covers over the pty)."""
    stored = StoredMessages()
    sink = Sink()
    for pdu in pdus:
        arrival = stored.take(pdu.hex().upper(), None, datetime.now(UTC))
        if arrival is not None:
            sink.texts.append(arrival.message)
    return sink


def submit_pdu(
    number: str = "+15125550142", text: str = "Hello", *, mr: int = 5, rd: bool = False
) -> tuple[int, str]:
    """(<length>, hex) of an SMS-SUBMIT, TP-RD set if ``rd``."""
    (submit,) = gsm_pdu.encodeSmsSubmitPdu(number, text, reference=mr)
    pdu_hex = str(submit)
    if rd:  # TP-RD is bit 2 of the first octet after the SMSC field
        at = 2 + 2 * int(pdu_hex[:2], 16)
        pdu_hex = pdu_hex[:at] + f"{int(pdu_hex[at : at + 2], 16) | 0x04:02X}" + pdu_hex[at + 2 :]
    return submit.tpduLength, pdu_hex
