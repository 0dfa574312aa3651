"""What the transports are told, in their own terms: plain frozen values.

The bridge's config (bridge.config) is the user-facing schema with its
validation and defaults; the app maps it onto these (bridge/app_settings.py),
so sms_gateway knows nothing of the bridge and can be driven by anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ModemSettings:
    """A USB GSM modem on a serial port."""

    port: Path  # /dev/ttyUSB0, or a /dev/serial/by-id/... name
    baudrate: int
    pin: str | None = field(repr=False)  # SIM PIN; never in a repr, so never in a log
    smsc: str | None  # used only when the SIM has no SMS centre number
    send_timeout: float  # seconds the network may take to accept a text (+CMGS)
    command_timeout: float
    texts_per_minute: int
    flow_control: bool  # RTS/CTS
    cnmi: str  # the AT+CNMI wanted first; refused, the transport falls back
    delivery_reports: bool
    sweep_seconds: float  # how often the SIM is read for texts nobody announced


@dataclass(frozen=True, slots=True)
class SipSettings:
    """Texts through Asterisk's MessageSend over a PJSIP trunk."""

    endpoint: str  # the trunk's endpoint in pjsip.conf
    host: str  # the provider's host, in the SIP URIs
    plus_in_uri: bool  # sip:+15125550142@host, or sip:15125550142@host
    inbound_event: str  # the UserEvent the shipped dialplan raises for a text in
