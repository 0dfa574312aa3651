"""The one interface the bridge uses to text: every SMS transport implements it.

A transport owns its device or link (``run`` keeps it up, reconnecting after
faults, until cancelled), sends texts (``send``), hands incoming texts and
delivery reports to a :class:`TransportSink`, and reports its health
(``status``). The bridge knows nothing else about modems or SIP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


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


# Awaited by a transport just before a text can leave it, with where it keeps
# the parts (a modem's storage slots; () for none): the caller records that
# the text is in this transport's hands, durably, or raises to stop it.
Handover = Callable[[Sequence[int]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class BatchText:
    """One fresh text of a batch (never handed to a transport before)."""

    key: int  # as ``send``'s: identifies the text, and its answer
    to: str
    body: str


# Awaited once by a transport sending a batch, before any of it can leave, with
# each text's key and where it keeps the parts: the caller records them all
# durably, and answers the keys that may go (the others are withdrawn).
BatchHandover = Callable[[Mapping[int, Sequence[int]]], Awaitable[Collection[int]]]
# A batch's answer, by key: sent, or why not. A key left out never went and
# nothing of it is kept: not taken (it did not fit, or the storage was full),
# or withdrawn at the handover.
BatchResults = dict[int, SendResult | SendError]


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
        slots: Sequence[int] = (),
        on_handover: Handover | None = None,
        from_line: str | None = None,
    ) -> SendResult:
        """Send one text (several parts if long). Raises SendError.

        ``key`` identifies the text across attempts. ``on_handover`` is awaited
        once, after every check and before anything that could make the text
        leave; an exception from it is raised from ``send`` and nothing goes.
        An error before it means the text certainly never left.

        With ``maybe_sent_before`` (a crash or a timeout left it unconfirmed)
        the transport settles it rather than sending it blind: from ``slots``
        (what ``on_handover`` was told the last time) where it kept the parts,
        else by a resend the network can drop if it already went out, where
        the network can. ``from_line`` is the business line it is from, where
        the transport can choose (SIP can; a modem sends from its SIM's number).
        """
        ...

    def holds(self, slots: Collection[int]) -> None:
        """At start, from the caller's records: the slots (``on_handover``'s)
        of texts not yet settled. Anything else the transport kept is a
        leftover it may delete."""
        ...

    async def release(self, slots: Sequence[int]) -> None:
        """The text kept in ``slots`` is settled in the caller's records (sent,
        failed, or free to go anywhere): the transport may forget them."""
        ...

    def status(self) -> TransportStatus: ...

    async def wait_ready(self) -> None:
        """Until the transport can send (its caller bounds the wait)."""
        ...


@runtime_checkable
class BatchSending(SmsTransport, Protocol):
    """A transport that can send several fresh texts as one run - the modem:
    each written to its storage, all handed over at once, then each sent - so
    its caller records them with one commit before and one after, not two per
    text. What it leaves out of the answer, the caller sends with ``send``."""

    async def send_batch(
        self, texts: Sequence[BatchText], *, on_handover: BatchHandover
    ) -> BatchResults:
        """Each text's answer by key (see BatchResults). ``on_handover`` as
        ``send``'s, once for them all: an exception from it is raised from here
        and nothing goes."""
        ...

    def release_later(self, slots: Sequence[int]) -> None:
        """``release``, for a batch of a burst: what is kept in ``slots`` is
        forgotten at the next ``release`` (or sooner, if the room is needed),
        so nothing comes between two batches."""
        ...
