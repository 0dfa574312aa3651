"""The missed-call decision: a pure state machine fed AMI events.

No I/O here. Events go in with the time they were seen; a ``CallDecision``
comes out exactly once per call, when the call's first channel (the one whose
``Uniqueid`` equals its ``Linkedid``) hangs up. The rules it applies are in
bridge.detection.rules; what it keeps of each call in bridge.detection.state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from bridge.ami.framer import AmiMessage
from bridge.core.calls import CallDecision, CallReport, OpenCall, Outcome, Reason
from bridge.detection.rules import (
    QUEUE_APPS,
    THREAD_VARIABLE,
    VOICEMAIL_APPS,
    WATCHED_VARIABLES,
    DetectionRules,
    decide,
    is_call_channel,
    is_device,
)
from bridge.detection.state import CallState


class CallTracker:
    """Follows every call by Linkedid and decides each one once."""

    def __init__(self, rules: DetectionRules):
        self.rules = rules
        self._calls: dict[str, CallState] = {}
        # Ended calls, remembered (bounded) so late events never reopen them.
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._changed: set[str] = set()  # open calls whose state the store has not seen
        self._handlers: dict[str, Callable[[CallState, AmiMessage], None]] = {
            "Newstate": self._on_newstate,
            "NewCallerid": self._on_newcallerid,
            "VarSet": self._on_varset,
            "Newexten": self._on_newexten,
            "DialBegin": self._on_dialbegin,
            "DialEnd": self._on_dialend,
            "AgentConnect": self._on_agentconnect,
            "BridgeEnter": self._on_bridgeenter,
            "BridgeLeave": self._on_bridgeleave,
            "QueueCallerJoin": self._on_queuejoin,
            "QueueCallerAbandon": self._on_queueabandon,
            "MessageWaiting": self._on_messagewaiting,
            "HangupRequest": self._on_hanguprequest,
        }

    # ------------------------------------------------------------ public API

    @property
    def open_calls(self) -> int:
        return len(self._calls)

    def is_tracking(self, linkedid: str) -> bool:
        return linkedid in self._calls

    def feed(self, msg: AmiMessage, now: datetime) -> CallDecision | None:
        """Apply one event. Returns the call's decision when this event ends it."""
        event = msg.event
        if event is None:
            return None
        if event == "Shutdown":
            self._pbx_going_down()
            return None
        linkedid = msg.get("Linkedid")
        call = self._calls.get(linkedid)
        if call is None:
            if event == "Hangup" and linkedid and msg.get("Uniqueid") == linkedid:
                # A call we never followed ended: a late snapshot must not adopt it.
                self._remember(linkedid)
            elif (
                event == "Newchannel"
                and linkedid
                and msg.get("Uniqueid") == linkedid
                and linkedid not in self._finished
                and is_call_channel(msg.get("Channel"))
            ):
                self._start(msg, now)
            return None
        call.last_seen = now
        if call.unseen_since and msg.get("Channel") == call.origin:
            self._first_look(call, msg)
        if event == "Hangup":
            if msg.get("Uniqueid") == linkedid:
                call.hangup_cause = msg.get("Cause")
                return self._ended(call, now)
            return None
        handler = self._handlers.get(event)
        if handler is not None and (event != "VarSet" or msg.get("Variable") in WATCHED_VARIABLES):
            handler(call, msg)
            if call.answered_by is not None and call.answered_at is None:
                call.answered_at = now
            self._changed.add(linkedid)
        return None

    def take_changed(self) -> list[OpenCall]:
        """Open calls that changed since the last look, for the store to keep."""
        changed = [self._calls[i] for i in self._changed if i in self._calls]
        self._changed.clear()
        return [OpenCall(call.linkedid, call.to_json(), call.last_seen) for call in changed]

    def restore(self, calls: Iterable[OpenCall]) -> int:
        """Calls that were open when the bridge last stopped: followed on from
        what was known, and settled by the first catch-up after login."""
        restored = 0
        for open_call in calls:
            if open_call.linkedid in self._calls or open_call.linkedid in self._finished:
                continue
            call = CallState.from_json(open_call.state)
            call.restored = call.unseen_since = True
            self._calls[call.linkedid] = call
            restored += 1
        return restored

    def decide_report(self, report: CallReport, now: datetime) -> CallDecision:
        """A call the dialplan reported (FastAGI), decided by the same rules as
        one followed on AMI. The store keeps whichever decision of a Linkedid
        comes first, so AMI and AGI reporting the same call text it once."""
        call = CallState(
            linkedid=report.linkedid,
            origin=report.channel,
            context=report.context,
            exten=report.exten,
            caller_raw=report.caller_raw,
            caller_name=report.caller_name,
            started_at=now,
            last_seen=now,
            did=report.did,
            dialled=bool(report.dial_status),
            dial_status=report.dial_status or None,
            # DIALSTATUS CANCEL is the caller hanging up; an empty report says
            # nothing of who hung up, and must not read as the caller giving up.
            caller_hung_up=report.dial_status == "CANCEL",
            in_queue=bool(report.queue_status) or report.queue_abandoned,
            queue_abandoned=report.queue_abandoned,
            pbx_answered=report.pbx_answered,
            voicemail=bool(report.vm_status or report.vm_message_file),
            voicemail_left=bool(report.vm_message_file),
        )
        if report.answered_by or report.dial_status == "ANSWER":
            call.answered(report.answered_by or "a phone (DIALSTATUS ANSWER)")
        return replace(decide(call, self.rules, now), source="agi")

    def open_linkedids(self) -> frozenset[str]:
        return frozenset(self._calls)

    def reconcile(
        self,
        channels: Iterable[AmiMessage],
        now: datetime,
        known_before: frozenset[str] | None = None,
    ) -> list[CallDecision]:
        """Catch up after an AMI reconnect from a ``CoreShowChannels`` snapshot.

        Calls we were following that are gone ended while we could not see:
        decided from what we already knew, or closed as ``unknown``. Calls in
        the snapshot we did not know are adopted, so their hang-up is decided.

        Events keep flowing while the snapshot is in transit, so only calls
        in ``known_before`` (open when it was requested) may be closed for
        being absent: a call that began since is simply newer than it.
        """
        by_call: dict[str, list[AmiMessage]] = {}
        for channel in channels:
            if is_call_channel(channel.get("Channel")):
                by_call.setdefault(channel.get("Linkedid"), []).append(channel)
        candidates = self._calls.keys() if known_before is None else known_before
        decisions = [
            self._close(call, now, Reason.LINK_LOST, _unseen_end(call))
            for linkedid in list(candidates)
            if linkedid not in by_call and (call := self._calls.get(linkedid)) is not None
        ]
        for linkedid, snapshot in by_call.items():
            call = self._calls.get(linkedid)
            if call is None and linkedid not in self._finished:
                origin = next((c for c in snapshot if c.get("Uniqueid") == linkedid), None)
                if origin is None:
                    continue  # the caller's channel is gone; nothing left to decide
                call = self._start(origin, now - _parse_duration(origin.get("Duration")))
                call.adopted = call.unseen_since = True
            if call is not None:
                self._apply_snapshot(call, snapshot, now)
                self._changed.add(linkedid)
        return decisions

    def settle_from_records(self, decision: CallDecision, now: datetime) -> CallDecision | None:
        """A call Asterisk's call records say ended while we could not see it.

        One we never followed: the records' decision. One we were following
        (before a drop or a restart): what we already knew for certain wins -
        answered, internal or outbound, a voicemail left - else the records
        say how it ended. One we decided ourselves: None, nothing more to say.
        """
        call = self._calls.get(decision.linkedid)
        if call is None:
            return None if decision.linkedid in self._finished else decision
        known = self._finish(call, now)
        if known.outcome is not Outcome.MISSED or call.certain:
            return known
        return replace(decision, started_at=call.started_at)

    def expire(self, now: datetime) -> list[CallDecision]:
        """Close calls that have sent nothing for longer than any real call lasts."""
        limit = now - self.rules.max_call_age
        stale = [call for call in self._calls.values() if call.last_seen < limit]
        return [self._close(call, now, Reason.STALE, "no event for too long") for call in stale]

    def close_all(self, now: datetime, reason: Reason, detail: str) -> list[CallDecision]:
        """Close every open call as unknown (a recording ended, the bridge stops)."""
        return [self._close(call, now, reason, detail) for call in list(self._calls.values())]

    # ------------------------------------------------------------ lifecycle

    def _start(self, msg: AmiMessage, now: datetime) -> CallState:
        linkedid = msg.get("Linkedid")
        call = CallState(
            linkedid=linkedid,
            origin=msg.get("Channel"),
            context=msg.get("Context"),
            exten=msg.get("Exten"),
            caller_raw=msg.get("CallerIDNum"),
            caller_name=msg.get("CallerIDName"),
            started_at=now,
            last_seen=now,
        )
        if msg.get("ChannelStateDesc") == "Up":
            call.pbx_answered = True
        # A caller's channel starts Ring (it came in); one Asterisk requested
        # itself - a dialled leg, an Originate - starts Down.
        call.originated = msg.event == "Newchannel" and msg.get("ChannelStateDesc") == "Down"
        self._calls[linkedid] = call
        self._changed.add(linkedid)
        return call

    def _finish(self, call: CallState, now: datetime) -> CallDecision:
        del self._calls[call.linkedid]
        self._changed.discard(call.linkedid)
        self._remember(call.linkedid)
        return decide(call, self.rules, now)

    def _ended(self, call: CallState, now: datetime) -> CallDecision:
        """The caller's hang-up, seen: decided from what was seen of the call."""
        decision = self._finish(call, now)
        if decision.outcome is Outcome.MISSED and call.answer_unseen and not call.certain:
            # Never text a caller a person may have talked to: unknown, unless
            # the call records (bridge.detection.intake) can say how it went.
            detail = "it was answered while textback could not see it; a person may have taken it"
            return replace(decision, outcome=Outcome.UNKNOWN, reason=Reason.ANSWER_UNSEEN,
                           detail=detail)  # fmt: skip
        return decision

    def _close(self, call: CallState, now: datetime, reason: Reason, detail: str) -> CallDecision:
        """End a call whose hang-up we never saw; keep only what is already certain.

        Answered (sticky), internal, outbound, a left voicemail and a PBX
        shutdown cannot change any more; a call that merely had not been
        answered yet becomes unknown.
        """
        decision = self._finish(call, now)
        if decision.outcome is Outcome.MISSED and not call.certain:
            return replace(decision, outcome=Outcome.UNKNOWN, reason=reason, detail=detail)
        return decision

    def _pbx_going_down(self) -> None:
        """Asterisk hangs up every channel as it stops: each call still up was
        cut by the PBX, however its channels end (or whether we see them end)."""
        for call in self._calls.values():
            call.pbx_dropped = True
            self._changed.add(call.linkedid)

    def _remember(self, linkedid: str) -> None:
        self._finished[linkedid] = None
        if len(self._finished) > self.rules.finished_memory:
            self._finished.popitem(last=False)

    # ------------------------------------------------------------ event handlers

    def _on_newstate(self, call: CallState, msg: AmiMessage) -> None:
        if msg.get("Channel") == call.origin and msg.get("ChannelStateDesc") == "Up":
            call.pbx_answered = True

    def _on_newcallerid(self, call: CallState, msg: AmiMessage) -> None:
        # An Originate's CallerID is what the rung phone shows, not who calls.
        if msg.get("Channel") == call.origin and not call.originated:
            call.caller_raw = msg.get("CallerIDNum")
            call.caller_name = msg.get("CallerIDName")

    def _on_varset(self, call: CallState, msg: AmiMessage) -> None:
        variable = msg.get("Variable")
        if variable not in WATCHED_VARIABLES or msg.get("Channel") != call.origin:
            return
        value = msg.get("Value")
        if variable == "DIALSTATUS":
            if value:
                call.dial_status = call.origin_dial_status = value
        elif variable == "VM_MESSAGEFILE":
            if value:
                call.voicemail = call.voicemail_left = True
        elif variable == "VMSTATUS":
            call.voicemail = True
        elif variable == "FROM_DID":
            call.did = value
        elif variable == THREAD_VARIABLE and value.isdigit() and len(value) <= 12:
            call.thread_hint = int(value)

    def _on_newexten(self, call: CallState, msg: AmiMessage) -> None:
        if msg.get("Channel") != call.origin:
            return
        application = msg.get("Application")
        if application in VOICEMAIL_APPS:
            call.voicemail = True
        elif application in QUEUE_APPS:
            call.in_queue = True

    def _on_dialbegin(self, call: CallState, msg: AmiMessage) -> None:
        call.dialled = True
        if msg.get("Channel") == call.origin and not call.dial_target:
            call.dial_target = msg.get("DialString")

    def _on_dialend(self, call: CallState, msg: AmiMessage) -> None:
        call.dialled = True
        status = msg.get("DialStatus")
        if status == "ANSWER":
            dest = msg.get("DestChannel")
            # An originated call's callee answers its first channel's own dial;
            # another leg answering is the owner's phone (a Local helper's dial).
            own = not call.originated or msg.get("Channel") == call.origin
            if is_device(dest) and own:
                call.answered(dest)
        elif status:
            call.dial_status = status
            if msg.get("Channel") == call.origin:
                call.origin_dial_status = status

    def _on_agentconnect(self, call: CallState, msg: AmiMessage) -> None:
        call.answered(msg.get("DestChannel") or msg.get("Interface") or msg.get("MemberName"))

    def _on_bridgeenter(self, call: CallState, msg: AmiMessage) -> None:
        members = call.bridges.setdefault(msg.get("BridgeUniqueid"), set())
        members.add(msg.get("Channel"))
        if call.origin in members:
            peer = next((c for c in members if c != call.origin and is_device(c)), None)
            if peer is not None:
                call.answered(peer)

    def _on_bridgeleave(self, call: CallState, msg: AmiMessage) -> None:
        members = call.bridges.get(msg.get("BridgeUniqueid"))
        if members is not None:
            members.discard(msg.get("Channel"))
            if not members:
                del call.bridges[msg.get("BridgeUniqueid")]

    def _on_queuejoin(self, call: CallState, msg: AmiMessage) -> None:
        call.in_queue = True

    def _on_queueabandon(self, call: CallState, msg: AmiMessage) -> None:
        call.queue_abandoned = True

    def _on_messagewaiting(self, call: CallState, msg: AmiMessage) -> None:
        # Raised on the caller's channel when app_voicemail saves a message.
        if msg.get("Channel") == call.origin and msg.get("Waiting") not in ("", "0"):
            call.voicemail = call.voicemail_left = True

    def _on_hanguprequest(self, call: CallState, msg: AmiMessage) -> None:
        # HangupRequest (not SoftHangupRequest) comes from the far end: the caller hung up.
        if msg.get("Channel") == call.origin:
            call.caller_hung_up = True

    # ------------------------------------------------------------ reconnect snapshot

    def lost_sight(self) -> None:
        """The AMI link dropped: every open call may change unseen until seen again."""
        for call in self._calls.values():
            call.unseen_since = True

    def _first_look(self, call: CallState, msg: AmiMessage) -> None:
        """The first event (or snapshot line) of the caller's channel after a gap.
        Up, with no person seen answering: an IVR answered, or a person who may
        have hung up since - only the call records can tell."""
        call.unseen_since = False
        if msg.get("ChannelStateDesc") == "Up":
            call.pbx_answered = True
            call.answer_unseen = call.answered_by is None

    def _apply_snapshot(self, call: CallState, snapshot: list[AmiMessage], now: datetime) -> None:
        origin = next((c for c in snapshot if c.get("Channel") == call.origin), None)
        if origin is None:
            return
        if call.unseen_since:  # restored, adopted, or open when the link dropped
            self._first_look(call, origin)
        application = origin.get("Application")
        if application in VOICEMAIL_APPS:
            call.voicemail = True
        elif application in QUEUE_APPS:
            call.in_queue = True
        elif application == "Dial":
            call.dialled = True
        bridge = origin.get("BridgeId")
        if bridge:
            for channel in snapshot:
                name = channel.get("Channel")
                if name != call.origin and channel.get("BridgeId") == bridge and is_device(name):
                    call.answered(name)
                    # Talking since before this snapshot: the talk time counts from here.
                    call.answered_at = call.answered_at or now


def _unseen_end(call: CallState) -> str:
    if call.restored:
        return "ended while textback was down; it may have been missed"
    return "ended while the AMI link was down; it may have been missed"


def _parse_duration(text: str) -> timedelta:
    """CoreShowChannel ``Duration`` is ``HH:MM:SS``."""
    try:
        hours, minutes, seconds = (int(part) for part in text.split(":"))
    except ValueError:
        return timedelta(0)
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)
