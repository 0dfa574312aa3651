"""A call and its decision: what the tracker, the call records and the dialplan's
report produce, and everything after them consumes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from bridge.core.numbers import caller_label, display
from bridge.core.safe_text import printable


class Outcome(StrEnum):
    MISSED = "missed"
    ANSWERED = "answered"
    INTERNAL = "internal"
    OUTBOUND = "outbound"
    UNKNOWN = "unknown"  # the bridge could not see how the call ended


class Reason(StrEnum):
    NOANSWER = "NOANSWER"
    BUSY = "BUSY"
    CANCEL = "CANCEL"  # the caller hung up while phones were ringing
    CHANUNAVAIL = "CHANUNAVAIL"
    CONGESTION = "CONGESTION"
    VOICEMAIL = "VOICEMAIL"
    QUEUE_ABANDON = "QUEUE_ABANDON"
    IVR_HANGUP = "IVR_HANGUP"  # only the auto-attendant answered
    PBX_DROPPED = "PBX_DROPPED"  # Asterisk shut down or restarted while it rang
    # Reasons for Outcome.UNKNOWN:
    LINK_LOST = "LINK_LOST"  # ended while the AMI link was down
    STALE = "STALE"  # no event for longer than any real call lasts
    TRACE_ENDED = "TRACE_ENDED"  # a recording stopped mid-call
    # Seen ending, but up (answered by something) when first seen after a gap,
    # with no answer seen: a person may have answered while nothing was seen.
    ANSWER_UNSEEN = "ANSWER_UNSEEN"


@dataclass(frozen=True, slots=True)
class CallDecision:
    linkedid: str
    outcome: Outcome
    reason: Reason | None
    caller: str | None  # E.164, or None when withheld or not a callable number
    caller_raw: str  # CallerIDNum exactly as the PBX sent it (untrusted)
    caller_name: str
    line: str | None  # the dialled DID in E.164
    line_name: str | None
    started_at: datetime
    ended_at: datetime
    withheld: bool = False  # hidden on purpose (anonymous...), not merely unreadable
    voicemail_left: bool | None = None  # set when the call reached voicemail
    dial_status: str | None = None  # the last DIALSTATUS/DialEnd status seen
    answered_by: str | None = None  # the channel of the person who answered
    detail: str = ""
    source: str = "ami"  # who reported the call: "ami", or "agi" (the dialplan)
    callee: str | None = None  # an outbound call's destination in E.164, if a public number
    answered_at: datetime | None = None  # when a person (or the called party) answered
    # The thread a click-to-call was placed for (its TEXTBACK_THREAD variable).
    thread_hint: int | None = None

    @property
    def talked_seconds(self) -> float:
        """How long the call was up after a person answered (0: never answered)."""
        if self.answered_at is None or self.answered_by is None:
            return 0.0
        return max(0.0, (self.ended_at - self.answered_at).total_seconds())

    @property
    def is_missed(self) -> bool:
        return self.outcome is Outcome.MISSED

    def as_json(self) -> dict[str, object]:
        return {key: _plain(getattr(self, key)) for key in DECISION_JSON_FIELDS}


# What `replay --json` and `calls --json` print for a call, in this order.
JSON_FIELDS = (
    "linkedid", "caller", "caller_name", "line", "line_name", "outcome", "reason",
    "withheld", "voicemail_left", "dial_status", "answered_by", "started_at", "ended_at",
    "detail",
)  # fmt: skip
# `replay --json` also says where an outbound call went (None for the others).
DECISION_JSON_FIELDS = (*JSON_FIELDS, "callee")


def _plain(value: object) -> object:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class OpenCall:
    """A call in progress, as the store keeps it: what the tracker needs to
    finish it after a restart (``state`` is the tracker's own, in JSON)."""

    linkedid: str
    state: str
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class CallReport:
    """A call as the dialplan reports it over FastAGI (agi/), read when the call
    ends (the h extension) or after Dial(). Empty fields: the dialplan did not
    say - which is not the same as saying nobody answered."""

    linkedid: str
    channel: str
    context: str
    exten: str
    caller_raw: str
    caller_name: str
    did: str = ""
    dial_status: str = ""
    vm_status: str = ""
    vm_message_file: str = ""
    queue_status: str = ""
    answered_by: str = ""  # the phone or queue member that answered, if one did
    queue_abandoned: bool = False  # the caller hung up waiting in a queue
    pbx_answered: bool = False  # the caller's channel was up (an IVR, a queue, voicemail)


def describe(decision: CallDecision, home: str) -> str:
    """One log line per decision, safe for any terminal. ``home``: the
    business's region, for how numbers are shown."""
    d = decision
    reason = f" ({d.reason.value})" if d.reason else ""
    line = f" to {printable(d.line_name or display(d.line, home))}" if d.line else ""
    who = caller_label(
        d.caller, d.caller_raw, home, withheld=d.withheld,
        desk=d.outcome in (Outcome.INTERNAL, Outcome.OUTBOUND),
    )  # fmt: skip
    call = printable(d.linkedid)
    name = (
        f" {printable(d.caller_name)!s}" if d.caller_name and d.caller_name != "<unknown>" else ""
    )
    detail = printable(d.detail)
    return f"call {call}: {d.outcome.value}{reason} from {who}{name}{line} - {detail}"
