"""What happened, as the event bus (bridge.bus) carries it. Plain values: a
subscriber learns what changed and looks in the store for more."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.core.calls import CallDecision


@dataclass(frozen=True, slots=True)
class CallDecided:
    """A decision committed to the store (never a duplicate of one already there)."""

    decision: CallDecision
    text_skip: str | None  # why a missed call is not texted; None if it is (or not missed)


@dataclass(frozen=True, slots=True)
class TextQueued:
    """A text waits in the outbox: a text-back, an answer, a confirmation, an SMS alert."""

    kind: str


@dataclass(frozen=True, slots=True)
class TextSent:
    text_id: int
    kind: str
    transport: str
    # The call a text-back answers, and the moment the transport confirmed it:
    # with the decision's ended_at, the caller's wait (hang-up -> sent).
    linkedid: str | None = None
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class TextFailed:
    text_id: int
    kind: str
    state: str  # failed, expired or cancelled
    why: str
    transport: str | None = None  # the one that had it or was about to, if any
    linkedid: str | None = None


@dataclass(frozen=True, slots=True)
class TextRetried:
    """An attempt failed and the text waits for another. ``maybe_sent``: the
    transport had it and gave no answer (it may have gone out), else it
    certainly did not leave."""

    text_id: int
    kind: str
    transport: str
    maybe_sent: bool


@dataclass(frozen=True, slots=True)
class ReplyStored:
    """A homeowner's text was filed on a thread."""

    thread_id: int
    urgent: bool


@dataclass(frozen=True, slots=True)
class OwnerActed:
    thread_id: int
    owner_id: str
    action: str  # reply, called, done; from the inbox also note, assigned


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """The AMI link's state: connecting, connected, disconnected, bad_credentials, stopped."""

    state: str
    detail: str


@dataclass(frozen=True, slots=True)
class TransportChanged:
    name: str  # modem, sip
    connected: bool
    detail: str


@dataclass(frozen=True, slots=True)
class JobChanged:
    """A supervised task started, crashed and was restarted, recovered or stopped."""

    name: str
    state: str
    restarts: int
    last_error: str


@dataclass(frozen=True, slots=True)
class DeliveryReported:
    """The network's delivery report settled a part of a sent text."""

    text_id: int
    delivered: bool


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """Who has a thread open in the inbox, or is typing on it, changed."""

    thread_id: int


@dataclass(frozen=True, slots=True)
class StoreFailed:
    """A store operation failed (the recorder keeps the write and retries it)."""

    where: str  # who saw it: recorder, ...
    error: str  # the exception's type name (StoreUnavailable, OSError...), never its text
