"""The one interface the bridge uses to text: every SMS transport implements it.

A transport owns its device or link (``run`` keeps it up, reconnecting after
faults, until cancelled), sends texts (``send``), hands incoming texts and
delivery reports to a :class:`TransportSink`, and reports its health
(``status``). The bridge knows nothing else about modems or SIP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SendResult:
    """A text accepted by the network (not yet delivered)."""

    references: tuple[int, ...]  # one per part: what delivery reports will name
    parts: int
    already_sent: bool = False  # a resend the network recognised as a duplicate


class SendError(Exception):
    """A text did not go out. ``retryable`` says whether trying again can help;
    ``maybe_sent`` that it may have gone out all the same (the modem took it,
    then no confirmation came), so a retry must let the network drop a copy."""

    def __init__(
        self, message: str, *, retryable: bool, code: int | None = None, maybe_sent: bool = False
    ):
        super().__init__(message)
        self.retryable = retryable
        self.code = code
        self.maybe_sent = maybe_sent


@dataclass(frozen=True, slots=True)
class IncomingText:
    sender: str  # as the network gave it; E.164 for ordinary numbers
    body: str
    received_at: datetime
    parts: int = 1
    # The SMSC's timestamp (TP-SCTS), where the transport has one: with the
    # sender and body it recognises a copy of a text already handed over.
    network_time: datetime | None = None
    # The number it was sent to, where the transport knows (SIP's To; a modem
    # receives on its SIM's one number): which business line it is for.
    to: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    reference: int
    recipient: str
    delivered: bool
    status: int  # TP-Status from the report
    at: datetime


@dataclass(frozen=True, slots=True)
class TransportStatus:
    name: str
    connected: bool = False
    registered: bool = False
    signal: int | None = None  # 0-31 (+CSQ), None if unknown
    operator: str | None = None
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class TransportSink(Protocol):
    """Where a transport hands what arrives. Each call returns once the item
    is stored: a modem deletes an incoming text from its SIM only after that."""

    async def incoming_text(self, text: IncomingText) -> None: ...

    async def delivery_report(self, report: DeliveryReport) -> None: ...


class SmsTransport(Protocol):
    name: str
    # Told of every change of state (connected, detail), where the transport
    # has states of its own to tell (the modem does; SIP follows the AMI link).
    on_state: Callable[[bool, str], None] | None

    async def run(self, sink: TransportSink) -> None:
        """Connect and stay connected until cancelled."""
        ...

    async def send(
        self,
        to: str,
        body: str,
        *,
        key: int = 0,
        maybe_sent_before: bool = False,
        from_line: str | None = None,
    ) -> SendResult:
        """Send one text (several parts if long). Raises SendError.

        ``key`` identifies the text across attempts. With ``maybe_sent_before``
        (a crash left it unconfirmed) the transport resends it so that the
        network can drop it if it already went out, where the network can.
        ``from_line`` is the business line it is from, where the transport can
        choose (SIP can; a modem sends from its SIM's number).
        """
        ...

    def status(self) -> TransportStatus: ...

    async def wait_ready(self) -> None:
        """Until the transport can send (its caller bounds the wait)."""
        ...
