"""The rules of the missed-call decision, pure: which calls are inbound, when a
person answered, and why a call was missed. The rules, and the event sequence
each rests on, are written up in docs/detection.md.

What "a person answered" means matters most, because Asterisk itself answers
callers for IVRs, queues, voicemail and follow-me: the caller's channel going
``Up`` proves nothing. A person answered when

- a dialled leg that is a real device (not a ``Local/`` helper channel) ends
  with ``DialEnd DialStatus: ANSWER``, or
- a queue member connects (``AgentConnect``), or
- the caller's channel shares a bridge with another real device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bridge.config import Config, PbxConfig
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.numbers import dialled_number, is_withheld, looks_like_extension, to_e164
from bridge.detection.state import CallState


@dataclass(frozen=True, slots=True)
class DetectionRules:
    """What the decision needs from config: which calls are inbound, which lines exist."""

    inbound_contexts: frozenset[str]
    internal_contexts: frozenset[str]
    lines: Mapping[str, str]  # DID in E.164 -> line name
    region: str = "US"
    extension_max_digits: int = 6
    max_call_age: timedelta = timedelta(hours=12)
    finished_memory: int = 10_000  # how many ended Linkedids to remember

    @classmethod
    def from_config(cls, config: Config) -> DetectionRules:
        return cls(
            inbound_contexts=frozenset(config.pbx.inbound_contexts),
            # Click-to-call's context places calls like a desk does: a call seen
            # only there (a snapshot, the call records) is outbound, never inbound.
            internal_contexts=frozenset(
                (*config.pbx.internal_contexts, config.pbx.click_to_call.context)
            ),
            lines={line.did: line.name for line in config.lines},
            region=config.business.region,
            extension_max_digits=config.pbx.extension_max_digits,
            max_call_age=timedelta(hours=config.pbx.max_call_hours),
        )

    @classmethod
    def defaults(cls, region: str = "US") -> DetectionRules:
        """Rules for a stream read without a config file (``textback replay``)."""
        pbx = PbxConfig()
        return cls(
            inbound_contexts=frozenset(pbx.inbound_contexts),
            internal_contexts=frozenset(pbx.internal_contexts),
            lines={},
            region=region,
            extension_max_digits=pbx.extension_max_digits,
        )


DIAL_FAILURES = {
    "NOANSWER": Reason.NOANSWER,
    "BUSY": Reason.BUSY,
    "CANCEL": Reason.CANCEL,
    "CHANUNAVAIL": Reason.CHANUNAVAIL,
    "CONGESTION": Reason.CONGESTION,
    "INVALIDARGS": Reason.CHANUNAVAIL,
    "DONTCALL": Reason.NOANSWER,
    "TORTURE": Reason.NOANSWER,
    "ABORT": Reason.CANCEL,
}
# Q.850 causes on the caller's Hangup when nothing was ever dialled.
CAUSE_REASONS = {
    "17": Reason.BUSY,
    "1": Reason.CHANUNAVAIL,
    "3": Reason.CHANUNAVAIL,
    "20": Reason.CHANUNAVAIL,
    "27": Reason.CHANUNAVAIL,
    "28": Reason.CHANUNAVAIL,
    "34": Reason.CONGESTION,
    "38": Reason.CONGESTION,
    "41": Reason.CONGESTION,
    "42": Reason.CONGESTION,
    "44": Reason.CONGESTION,
}
VOICEMAIL_APPS = frozenset({"VoiceMail", "Voicemail", "VM"})
QUEUE_APPS = frozenset({"Queue"})
THREAD_VARIABLE = "TEXTBACK_THREAD"  # set on a click-to-call by textback's Originate
WATCHED_VARIABLES = frozenset(
    {"DIALSTATUS", "VM_MESSAGEFILE", "VMSTATUS", "FROM_DID", "QUEUESTATUS", THREAD_VARIABLE}
)


def is_device(channel: str) -> bool:
    """A real phone or trunk leg, not a Local/ helper channel inside Asterisk."""
    return bool(channel) and not channel.startswith("Local/")


# Channel technologies that are not calls: Asterisk's own SMS pseudo-channel,
# Message/ast_msg_queue, comes up with the first SIP MESSAGE and never hangs up.
_NOT_CALLS = ("Message/",)


def is_call_channel(channel: str) -> bool:
    """A channel that carries a call (not the message queue's pseudo-channel)."""
    return not channel.startswith(_NOT_CALLS)


def call_direction(
    rules: DetectionRules, context: str, exten: str, caller_raw: str, known_line: bool
) -> Outcome | None:
    """INTERNAL or OUTBOUND for calls that are not inbound; None for inbound.

    ``context`` and ``exten`` are where the caller's channel entered the
    dialplan; ``known_line`` says whether the dialled number is a configured
    line. Shared with the call-record rules (bridge/detection/records/rules.py).
    """
    if context in rules.inbound_contexts:
        return None
    from_desk = context in rules.internal_contexts or (
        not known_line and looks_like_extension(caller_raw, rules.extension_max_digits)
    )
    if not from_desk:
        return None  # a listed line, or an outside caller in an unlisted context
    dialled = dialled_number(exten, rules.region)
    dials_out = (
        dialled is not None
        and dialled not in rules.lines
        and not looks_like_extension(exten, rules.extension_max_digits)
    )
    return Outcome.OUTBOUND if dials_out else Outcome.INTERNAL


def decide(call: CallState, rules: DetectionRules, now: datetime) -> CallDecision:
    """A call's one decision, from everything the tracker saw of it."""
    did = to_e164(call.did or call.exten, rules.region)
    line_name = rules.lines.get(did) if did else None
    withheld = is_withheld(call.caller_raw)
    caller = None if withheld else to_e164(call.caller_raw, rules.region)
    base = CallDecision(
        linkedid=call.linkedid,
        outcome=Outcome.MISSED,
        reason=None,
        caller=caller,
        caller_raw=call.caller_raw,
        caller_name=call.caller_name,
        line=did,
        line_name=line_name,
        started_at=call.started_at,
        ended_at=now,
        withheld=withheld,
        dial_status=call.origin_dial_status or call.dial_status,
        answered_by=call.answered_by,
        answered_at=call.answered_at,
    )
    if call.originated:
        return _originated(base, call, rules)
    direction = call_direction(
        rules, call.context, call.exten, call.caller_raw, line_name is not None
    )
    if direction is not None:
        callee = dialled_number(call.exten, rules.region)
        return replace(
            base,
            outcome=direction,
            caller=None,
            withheld=False,
            line=None,
            line_name=None,
            callee=callee if direction is Outcome.OUTBOUND else None,
            detail=f"placed from {call.context or 'an unknown context'}",
        )
    if call.answered_by is not None:
        return replace(base, outcome=Outcome.ANSWERED, detail=f"answered by {call.answered_by}")
    reason, detail = missed_reason(call)
    if call.adopted:
        detail += " (call was already up when the bridge connected)"
    return replace(
        base,
        reason=reason,
        detail=detail,
        voicemail_left=call.voicemail_left if reason is Reason.VOICEMAIL else None,
    )


def _originated(base: CallDecision, call: CallState, rules: DetectionRules) -> CallDecision:
    """A call Asterisk placed itself (Originate): never a missed call. Its
    first channel rang a phone (the owner's, for click-to-call); the number
    that channel then dialled is the callee."""
    target = call.dial_target.rsplit("/", 1)[-1]
    callee = dialled_number(target, rules.region) if target else None
    return replace(
        base,
        outcome=Outcome.OUTBOUND if callee is not None else Outcome.INTERNAL,
        caller=None,
        withheld=False,
        line=None,
        line_name=None,
        callee=callee,
        thread_hint=call.thread_hint,
        detail=f"placed by the PBX (originated), ringing {call.origin or 'a phone'} first",
    )


def missed_reason(call: CallState) -> tuple[Reason, str]:
    """Why nobody answered: the first rule that matches (docs/detection.md)."""
    if call.pbx_dropped:
        # The statuses a shutdown leaves (CANCEL, CHANUNAVAIL) say nothing about the caller.
        return Reason.PBX_DROPPED, "the PBX shut down or restarted during the call"
    if call.queue_abandoned:
        return Reason.QUEUE_ABANDON, "caller hung up while waiting in the queue"
    if call.voicemail:
        left = "left a message" if call.voicemail_left else "left no message"
        return Reason.VOICEMAIL, f"sent to voicemail, {left}"
    # The caller's own DIALSTATUS (dialplan class), else the status of the
    # caller's own dial legs, else any leg's: a ring group's Local;2 -> phone
    # legs end CANCEL when the PBX stops them, whatever the caller heard.
    status = call.origin_dial_status or call.dial_status
    if status:
        reason = DIAL_FAILURES.get(status, Reason.NOANSWER)
        # CANCEL is the caller giving up; when the PBX ended the ringing
        # (follow-me steps, timeouts) nobody answered instead.
        if reason is Reason.CANCEL and not call.caller_hung_up:
            return Reason.NOANSWER, "phones rang, nobody answered (the PBX stopped the ringing)"
        return reason, f"dial ended {status}"
    if call.dialled:
        if call.caller_hung_up:
            return Reason.CANCEL, "caller hung up while phones rang"
        return Reason.NOANSWER, "phones rang, nobody answered"
    if call.in_queue:
        return Reason.NOANSWER, "left the queue unanswered"
    if call.pbx_answered:
        return Reason.IVR_HANGUP, "only the auto-attendant answered"
    cause_reason = CAUSE_REASONS.get(call.hangup_cause)
    if cause_reason is not None:
        return cause_reason, f"nothing dialled, hangup cause {call.hangup_cause}"
    if call.caller_hung_up:
        return Reason.CANCEL, "caller hung up before any phone rang"
    return Reason.NOANSWER, "no phone was reached"
