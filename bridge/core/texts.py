"""Texts in and out, as the store keeps them and the workers pass them around."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# The order the outbox sends what is due in, first to last (docs/texting.md):
# what a homeowner is waiting for right now, then the owners' news, then what
# can wait. Within a kind, the longest waiting goes first.
SEND_ORDER = ("textback", "reply", "confirmation", "owner_alert", "nudge", "owner_notice")


@dataclass(frozen=True, slots=True)
class OutgoingText:
    """A text to queue together with the decision that calls for it."""

    to_number: str
    body: str
    parts: int
    expires_at: datetime
    kind: str = "textback"


@dataclass(frozen=True, slots=True)
class ReceivedText:
    """A text as it came in: ``network_time`` is the SMSC's timestamp where the
    transport has one (a modem does; SIP does not) - with sender and body it
    recognises a copy of a text already stored."""

    sender: str
    body: str
    parts: int
    received_at: datetime
    network_time: datetime | None = None
    line: str | None = None  # the business line it was sent to, when the transport says


@dataclass(frozen=True, slots=True)
class OptOutChange:
    """STOP or START, recorded with the text that asked for it. The confirmation
    is queued only if the number's choice changes: one, and nothing after it."""

    opted_out: bool
    keyword: str
    source: str
    confirmation: OutgoingText


@dataclass(frozen=True, slots=True)
class Filed:
    """Where an incoming text went."""

    inbox_id: int
    thread_id: int | None  # None: not from a phone number, so not a lead
    choice_changed: bool = False  # an OptOutChange took effect


@dataclass(frozen=True, slots=True)
class OwnerAction:
    """What an owner's command does to a thread: ``reply`` (with the text to
    the caller), ``called`` or ``done``."""

    thread_id: int
    action: str
    reply: OutgoingText | None = None


# An owner's answer to a caller is still worth sending this late.
ANSWER_TTL = timedelta(hours=24)


def owner_answer(thread_id: int, caller: str, body: str, parts: int, now: datetime) -> OwnerAction:
    """An owner's answer to a thread's caller, from their phone (``12 On my
    way``) or the inbox: one reply text, queued with the action on the thread."""
    answer = OutgoingText(caller, body, parts, now + ANSWER_TTL, kind="reply")
    return OwnerAction(thread_id, "reply", answer)


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``limit`` texts to one number within ``window`` - of the same
    kind as the new one, or of any kind - checked where the text is queued."""

    limit: int
    window: timedelta
    any_kind: bool = False


@dataclass(frozen=True, slots=True)
class QueuedText:
    """An outbox row the worker is about to try."""

    id: int
    kind: str
    linkedid: str | None
    to_number: str
    body: str
    parts: int
    attempts: int
    expires_at: datetime
    maybe_sent: bool = False  # it may have gone out: a crash or timeout left it unconfirmed
    from_line: str | None = None  # the business line it goes out from
    # The transport it was last handed to, and where that transport keeps it
    # (a modem's storage slots). While ``maybe_sent`` it goes nowhere else.
    transport: str | None = None
    slots: tuple[int, ...] = ()
    # Its number had opted out when the queue was read (read with it: no trip
    # of its own). A STOP after the read cancels it, and the claim refuses it.
    opted_out: bool = False

    @property
    def pinned(self) -> str | None:
        """The one transport this text may still go through, if it is bound to one."""
        return self.transport if self.maybe_sent else None


@dataclass(frozen=True, slots=True)
class History:
    """What the store knows about this number and the last hour."""

    opted_out: bool = False
    last_textback_at: datetime | None = None
    textbacks_last_hour: int = 0
    textbacks_last_minute: int = 0
    ever_texted: bool = False  # the first text carries the opt-out footer


@dataclass(frozen=True, slots=True)
class Backlog:
    """How the outbox is keeping up: what the health strip and /metrics show."""

    queued: int  # texts waiting to go out (queued, or handed to a transport unconfirmed)
    oldest_queued_at: datetime | None  # when the longest-waiting of them was queued
    failed_last_hour: int  # texts given up on (failed, expired) whose last try was this hour
    last_failure: str | None = None  # the newest of those failures' errors
