"""What a call says about a caller's open thread, pure: a desk calling the
caller back (answered and talked long enough, or only tried), or the caller
ringing again and a person answering. The store applies it to the caller's
open thread, if there is one, with the decision (docs/detection.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bridge.core.calls import CallDecision, Outcome
from bridge.core.safe_text import printable

CALLED = "called"  # a call-back a person talked on: the thread is called back (handled)
TRIED = "tried"  # a call-back nobody took (or a voicemail greeting): noted, still open
REACHED = "reached"  # the caller rang again and a person answered: resolved (handled)


@dataclass(frozen=True, slots=True)
class ThreadLink:
    """Apply ``action`` to the open thread of ``number`` (E.164), noting ``note``;
    to thread ``thread_id`` instead when the call names it (click-to-call) and
    it is that number's."""

    number: str
    action: str
    note: str  # says who, as the PBX named them (untrusted text, made printable)
    thread_id: int | None = None


def thread_link(
    decision: CallDecision, *, min_talk_seconds: float, zone: tzinfo
) -> ThreadLink | None:
    """The link a decision makes to its number's thread, or None."""
    d = decision
    if d.outcome is Outcome.OUTBOUND and d.callee is not None:
        by = printable(d.caller_raw, 20)
        by = "a phone" if by in ("", "<unknown>") else by
        at = clock_time(d.started_at, zone)
        talked = d.talked_seconds
        if talked >= min_talk_seconds:
            note = f"called back by {by} at {at}, talked {span(talked)}"
            return ThreadLink(d.callee, CALLED, note, d.thread_hint)
        how = f"answered, talked {span(talked)}" if d.answered_by else "not answered"
        note = f"tried to call back: {by} at {at}, {how}"
        return ThreadLink(d.callee, TRIED, note, d.thread_hint)
    if d.outcome is Outcome.ANSWERED and d.caller is not None:
        by = printable(d.answered_by or "a phone", 40)
        at = clock_time(d.started_at, zone)
        return ThreadLink(d.caller, REACHED, f"reached on a later call at {at} (answered by {by})")
    return None


def clock_time(moment: datetime, zone: tzinfo) -> str:
    """``3:12 pm`` in the business's time zone."""
    local = moment.astimezone(zone)
    return f"{local.hour % 12 or 12}:{local.minute:02d} {'am' if local.hour < 12 else 'pm'}"


def span(seconds: float) -> str:
    """``45 s``, ``2 min``."""
    if seconds < 60:
        return f"{int(seconds)} s"
    return f"{round(seconds / 60)} min"
