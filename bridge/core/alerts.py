"""Owner alerts: the news owners have not heard yet, the alerts drafted for it, and
those queued for sending."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A missed call or a reply that owners have not been told about yet."""

    kind: str  # "missed_call" or "reply"
    source_id: int  # calls.id or inbox.id
    thread_id: int
    caller: str
    line: str | None
    at: str
    text: str  # the reply, or the call's reason and detail
    texted: str | None  # for a missed call: what went (or goes) out, if anything
    skip: str | None  # for a missed call: why nothing was texted
    unsure: bool = False  # a call whose end the bridge could not see: maybe missed
    # For a missed call: the thread's missed calls so far (this one too), from when.
    calls: int = 1
    first_call_at: str | None = None


@dataclass(frozen=True, slots=True)
class AlertDraft:
    owner_id: str
    channel: str
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    parts: int = 1  # an SMS alert's length in parts


@dataclass(frozen=True, slots=True)
class QueuedAlert:
    id: int
    thread_id: int
    channel: str
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    in_reply_to: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class CarriedAlert:
    """An owner's SMS alert waiting in the outbox, as a batch of them needs it."""

    text_id: int  # its outbox row
    kind: str  # the alert's: missed_call, reply, reminder
    thread_id: int | None
    caller: str | None
    subject: str
    at: str  # when it was queued (ISO 8601, UTC)
    from_line: str | None
    expires_at: str


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """One SMS for several alerts: the words, and the outbox rows it carries."""

    body: str
    parts: int
    carried: tuple[int, ...]
