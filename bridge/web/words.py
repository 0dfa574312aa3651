"""What the pages say: a thread's status as a chip, a call's reason in words,
how long something has waited. Pure."""

from __future__ import annotations

from datetime import datetime

from bridge.core.inbox import InboxRow
from bridge.core.threads import ThreadEvent, ThreadSummary

# A call's reason as the owner says it (bridge.core.calls.Reason, Outcome).
REASONS = {
    "NOANSWER": "rang out",
    "BUSY": "line busy",
    "CANCEL": "hung up while ringing",
    "CHANUNAVAIL": "no phone could ring",
    "CONGESTION": "no phone could ring (congestion)",
    "VOICEMAIL": "sent to voicemail",
    "QUEUE_ABANDON": "gave up waiting in the queue",
    "IVR_HANGUP": "hung up at the auto-attendant",
    "PBX_DROPPED": "the phone system restarted while it rang",
    "LINK_LOST": "ended while textback could not see the phone system",
    "STALE": "no news of the call for hours",
    "TRACE_ENDED": "the recording stopped mid-call",
    "ANSWER_UNSEEN": "maybe answered while textback could not see",
    "answered": "answered",
    "outbound": "called out",
    "internal": "desk to desk",
    "unknown": "not known",
}
CHIPS = {
    "new": "new",
    "awaiting_reply": "awaiting reply",
    "replied": "replied",
    "handled": "handled",
    "opted_out": "opted out",
    "cold": "cold",
}


def chip(summary: ThreadSummary, last_action: str | None = None) -> tuple[str, str]:
    """(words, css class) of a thread's status: a handled thread that was
    called back says so."""
    if summary.status == "handled" and last_action == "called":
        return "called back", "chip-called-back"
    return CHIPS.get(summary.status, summary.status), f"chip-{summary.status.replace('_', '-')}"


def row_chip(row: InboxRow) -> tuple[str, str]:
    return chip(row.summary, row.last_action)


def waited(since: str, now: datetime) -> str:
    """How long ago, as a person reads it: 'just now', '12 min', '3 h', '2 d'."""
    try:
        seconds = (now - datetime.fromisoformat(since)).total_seconds()
    except ValueError:
        return ""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} d"


def event_words(event: ThreadEvent) -> str:
    """A thread event's text, a call's reason in words ('NOANSWER - dial ended
    NOANSWER' -> 'rang out - dial ended NOANSWER')."""
    if event.kind != "call":
        return event.text
    reason, sep, detail = event.text.partition(" - ")
    if reason == "VOICEMAIL" and "left a message" in detail:
        return f"left a voicemail - {detail}"
    words = REASONS.get(reason)
    return f"{words} - {detail}" if words and sep else event.text
