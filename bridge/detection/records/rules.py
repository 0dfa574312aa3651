"""Calls rebuilt from Asterisk's call records, decided by the same rules as
calls seen on AMI (bridge/calls.py). Pure: records in, decisions out.

Asterisk 12+ writes one record per path of communication (docs:
"CDR Specification"): one per dialled phone of a ring group or queue, one for
each stretch the caller spends in an application after a dial (VoiceMail),
one per ``Local/`` half of follow-me. All of a call's records share its
Linkedid; the caller's own records have Uniqueid == Linkedid. The mapping from
records to reasons, and what records cannot tell, is in docs/detection.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.numbers import is_withheld, to_e164
from bridge.detection.records.cdr import (
    ANSWERED,
    BUSY,
    CANCEL,
    CONGESTION,
    FAILED,
    NO_ANSWER,
    CdrRecord,
)
from bridge.detection.rules import DetectionRules, call_direction

FROM_RECORDS = "from the call records"
_VOICEMAIL_APPS = frozenset({"voicemail", "vm"})
_QUEUE_APPS = frozenset({"queue"})
# An unanswered record's disposition -> why the call was missed. FAILED is
# what Asterisk writes for an unreachable phone (CHANUNAVAIL), and for
# CONGESTION unless cdr.conf says congestion=yes.
_DISPOSITION_REASONS = {
    NO_ANSWER: Reason.NOANSWER,
    BUSY: Reason.BUSY,
    CANCEL: Reason.CANCEL,
    CONGESTION: Reason.CONGESTION,
    FAILED: Reason.CHANUNAVAIL,
}
# The DIALSTATUS each disposition stands for, where one does.
_DISPOSITION_DIALSTATUS = {
    NO_ANSWER: "NOANSWER",
    BUSY: "BUSY",
    CANCEL: "CANCEL",
    CONGESTION: "CONGESTION",
}


def decide_cdrs(records: Iterable[CdrRecord], rules: DetectionRules) -> list[CallDecision]:
    """One decision per call (records grouped by Linkedid), oldest end first."""
    calls: dict[str, list[CdrRecord]] = {}
    for record in records:
        calls.setdefault(record.call_key, []).append(record)
    decisions = [decide_call(group, rules) for group in calls.values()]
    return sorted(decisions, key=lambda d: (d.ended_at, d.linkedid))


def decide_call(records: Sequence[CdrRecord], rules: DetectionRules) -> CallDecision:
    """The decision for one call, from every record it left (not empty)."""
    ordered = sorted(records, key=CdrRecord.order)
    origin = _origin_records(ordered)
    entry = _entry_record(origin, rules)
    base = _base_decision(ordered, origin, entry, rules)
    direction = call_direction(
        rules, entry.dcontext, entry.dst, base.caller_raw, base.line_name is not None
    )
    if direction is not None:
        where = entry.dcontext or "an unknown context"
        return replace(
            base,
            outcome=direction,
            caller=None,
            withheld=False,
            line=None,
            line_name=None,
            detail=f"placed from {where} ({FROM_RECORDS})",
        )
    answered_by = _answered_by(ordered)
    if answered_by is not None:
        return replace(
            base,
            outcome=Outcome.ANSWERED,
            answered_by=answered_by,
            detail=f"answered by {answered_by} ({FROM_RECORDS})",
        )
    reason, detail = _missed_reason(ordered, origin)
    last_dial = _last_unanswered_dial(ordered, origin)
    dial_status = _DISPOSITION_DIALSTATUS.get(last_dial.disposition) if last_dial else None
    return replace(
        base, reason=reason, dial_status=dial_status, detail=f"{detail} ({FROM_RECORDS})"
    )


def _origin_records(ordered: Sequence[CdrRecord]) -> list[CdrRecord]:
    """The caller's own records (Party A is the call's first channel).

    Its Uniqueid is the Linkedid; without a uniqueid column, it is the
    channel of the record created first.
    """
    own = [r for r in ordered if r.uniqueid and r.uniqueid == r.linkedid]
    if own:
        return own
    first = min(ordered, key=lambda r: (r.start, r.sequence))
    return [r for r in ordered if r.channel == first.channel]


def _entry_record(origin: Sequence[CdrRecord], rules: DetectionRules) -> CdrRecord:
    """The record whose dcontext/dst say where the call came in.

    A record holds the context Party A was in at its end, so a dialplan that
    moves the caller on (FreePBX: from-pstn, then ext-local) shows the later
    one: an inbound context on any of the caller's records wins.
    """
    inbound = [r for r in origin if r.dcontext in rules.inbound_contexts]
    return (inbound or sorted(origin, key=lambda r: (r.start, r.sequence)))[0]


def _base_decision(
    ordered: Sequence[CdrRecord],
    origin: Sequence[CdrRecord],
    entry: CdrRecord,
    rules: DetectionRules,
) -> CallDecision:
    latest = origin[-1]  # caller ID as it was last (a NewCallerid may change it)
    did = next((r.did for r in ordered if r.did), "")
    line = to_e164(did or entry.dst, rules.region)
    caller_raw = latest.src
    caller = None if is_withheld(caller_raw) else to_e164(caller_raw, rules.region)
    return CallDecision(
        linkedid=entry.linkedid or entry.uniqueid or entry.channel,
        outcome=Outcome.MISSED,
        reason=None,
        caller=caller,
        caller_raw=caller_raw,
        caller_name=next((n for r in reversed(origin) if (n := r.caller_name)), ""),
        line=line,
        line_name=rules.lines.get(line) if line else None,
        started_at=min(r.start for r in ordered),
        ended_at=max(r.end for r in ordered),
        withheld=caller is None,
        source="cdr",
    )


def _is_device(channel: str) -> bool:
    """A real phone or trunk, not a Local/ helper channel inside Asterisk."""
    return bool(channel) and not channel.startswith("Local/")


def _answered_by(ordered: Sequence[CdrRecord]) -> str | None:
    """A person answered if some record ties a party to a real device, ANSWERED."""
    return next(
        (r.dstchannel for r in ordered if r.disposition == ANSWERED and _is_device(r.dstchannel)),
        None,
    )


def _last_unanswered_dial(
    ordered: Sequence[CdrRecord], origin: Sequence[CdrRecord]
) -> CdrRecord | None:
    """The caller's last dial that was not answered (the last status wins, as on
    AMI), else any leg's: inner Local/ legs (follow-me) say less about the call."""
    for pool in (origin, ordered):
        dials = [r for r in pool if r.dstchannel and r.disposition != ANSWERED]
        if dials:
            return dials[-1]
    return None


def _missed_reason(ordered: Sequence[CdrRecord], origin: Sequence[CdrRecord]) -> tuple[Reason, str]:
    apps = {r.lastapp.lower() for r in ordered}
    if apps & _VOICEMAIL_APPS:
        return Reason.VOICEMAIL, "sent to voicemail; the records do not say if a message was left"
    if apps & _QUEUE_APPS:
        return Reason.QUEUE_ABANDON, "left the queue unanswered"
    dial = _last_unanswered_dial(ordered, origin)
    if dial is not None:
        reason = _DISPOSITION_REASONS.get(dial.disposition, Reason.NOANSWER)
        return reason, f"dial to {dial.dstchannel} ended {dial.disposition}"
    answered = next((r for r in origin if r.disposition == ANSWERED), None)
    if answered is not None:
        return Reason.IVR_HANGUP, f"only the PBX answered ({answered.lastapp or 'no application'})"
    last = origin[-1]
    reason = _DISPOSITION_REASONS.get(last.disposition, Reason.NOANSWER)
    return reason, f"no phone was dialled, the call ended {last.disposition}"
