"""What a ``+CMS ERROR: <n>`` means (3GPP TS 27.005 3.2.5, TS 24.011 E-2),
and whether sending the same text again later can help."""

from __future__ import annotations

from sms_gateway.at_session import Response
from sms_gateway.base import SendError

DUPLICATE = 197  # TP-FCS 0xC5: the SMSC already has this message (a resend with TP-RD)

# code -> (meaning, retryable)
CMS_ERRORS: dict[int, tuple[str, bool]] = {
    1: ("unassigned (unallocated) number", False),
    8: ("operator determined barring", False),
    10: ("call barred", False),
    21: ("short message transfer rejected", False),
    27: ("destination out of service", True),
    28: ("unidentified subscriber", False),
    29: ("facility rejected", False),
    30: ("unknown subscriber", False),
    38: ("network out of order", True),
    41: ("temporary failure", True),
    42: ("congestion", True),
    47: ("resources unavailable", True),
    50: ("requested facility not subscribed", False),
    69: ("requested facility not implemented", False),
    81: ("invalid short message reference value", True),
    96: ("invalid mandatory information", False),
    97: ("message type non-existent or not implemented", False),
    111: ("protocol error", True),
    197: ("SMSC rejected a duplicate of a message it already has", False),
    127: ("interworking, unspecified", True),
    300: ("ME failure", True),
    301: ("SMS service of ME reserved", True),
    302: ("operation not allowed", True),
    303: ("operation not supported", False),
    304: ("invalid PDU mode parameter", False),
    305: ("invalid text mode parameter", False),
    310: ("SIM not inserted", True),
    311: ("SIM PIN required", True),
    313: ("SIM failure", True),
    314: ("SIM busy", True),
    315: ("SIM wrong", True),
    320: ("memory failure", True),
    322: ("memory full", True),
    330: ("SMSC address unknown: set modem.smsc in the config", True),
    331: ("no network service", True),
    332: ("network timeout", True),
    500: ("unknown error", True),
}


def describe(code: int) -> tuple[str, bool]:
    """Meaning and retryability; unknown and manufacturer codes (512+) are retried."""
    return CMS_ERRORS.get(
        code, ("manufacturer-specific error" if code >= 512 else "unknown error", True)
    )


def send_error(reply: Response) -> SendError:
    """A send (AT+CMGS, AT+CMSS) refused: what the modem said, and whether to retry."""
    code = reply.error_code
    if code is None:
        return SendError(f"the modem answered {reply.final}", retryable=True)
    meaning, retryable = describe(code)
    return SendError(f"+CMS ERROR {code}: {meaning}", retryable=retryable, code=code)
