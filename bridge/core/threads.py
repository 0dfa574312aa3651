"""Conversations as owners see them: threads, their events, the follow-up timers'
view, stored calls and the report's figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.core.calls import JSON_FIELDS
from bridge.core.ledger import LeadRecord


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    id: int  # what owners type: #12
    caller: str
    line: str | None
    status: str
    urgent: bool
    created_at: str
    last_activity_at: str
    last_reply: str | None
    calls: int
    # The latest call-back on the thread, as the PBX saw it ("tried to call back: 201 at ...").
    last_call_back: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "thread": self.id,
            "caller": self.caller,
            "line": self.line,
            "status": self.status,
            "urgent": self.urgent,
            "created_at": self.created_at,
            "last_activity_at": self.last_activity_at,
            "last_reply": self.last_reply,
            "calls": self.calls,
        }


@dataclass(frozen=True, slots=True)
class FollowUpState:
    """An open thread as the follow-up timers see it."""

    thread_id: int
    caller: str
    line: str | None
    status: str
    waiting_since: datetime  # the last thing that happened on it
    reminded_at: datetime | None
    nudged_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueTimers:
    """Which open threads a follow-up tick must look at: their last activity
    (or their reminder) at or before these moments. The store reads only
    those; the follow-up's own rules still decide what each one gets."""

    reply_wait_from: datetime  # new / awaiting_reply, not reminded: waited for the caller
    action_wait_from: datetime  # replied, not reminded: waited for an owner
    cold_from: datetime  # reminded at or before this: may go cold
    # awaiting_reply, never nudged, last activity in (after, up_to]; None: no nudges
    nudge_between: tuple[datetime, datetime] | None


@dataclass(frozen=True, slots=True)
class ReportFigures:
    missed_calls: int
    texted: int
    replied: int
    handled: int
    first_action_waits: list[timedelta]  # missed call -> first owner action, per thread
    leads: list[LeadRecord] = field(default_factory=list)  # the recovery ledger's, by thread


@dataclass(frozen=True, slots=True)
class ThreadEvent:
    at: str
    what: str  # missed call / text out (state) / text in / alert / owner action / note
    text: str
    kind: str = "call"  # call, out, in, alert, owner, note: what a reader may want to filter


@dataclass(frozen=True, slots=True)
class StoredCall:
    id: int
    linkedid: str
    outcome: str
    reason: str | None
    caller: str | None
    caller_raw: str
    caller_name: str
    withheld: bool
    line: str | None
    line_name: str | None
    started_at: str
    ended_at: str
    voicemail_left: bool | None
    dial_status: str | None
    answered_by: str | None
    detail: str
    source: str
    dry_run: bool
    decided_at: str
    text_skip: str | None = None
    thread_id: int | None = None
    text_state: str | None = None  # the text-back's outbox state, if one was queued

    def as_json(self) -> dict[str, object]:
        extra = {
            "dry_run": self.dry_run,
            "text_skip": self.text_skip,
            "text": self.text_state,
            "thread": self.thread_id,
        }
        return {key: getattr(self, key) for key in JSON_FIELDS} | extra
