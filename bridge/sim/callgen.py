"""Synthetic AMI call streams shaped like a real Asterisk 22's.

The recordings in tests/fixtures/asterisk cover nine scenarios from a real PBX.
This writes the others (withheld caller, IVR, follow-me, transfers, several
calls at once, a busy day for the benchmark) with the same event names, the
same headers in the same order and the same privileges as those recordings;
tests/unit/test_callgen.py holds it to that.

Each scenario is a generator that yields between steps, so several calls can
be interleaved the way overlapping calls are on a real PBX (``interleave``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
_CAUSE_TEXT = {
    "0": "Unknown",
    "3": "No route to destination",
    "16": "Normal Clearing",
    "17": "User busy",
    "19": "No user responding",
    "26": "Answered elsewhere",
    "34": "Circuit/channel congestion",
}
_STATE_CODES = {"Down": "0", "Ring": "4", "Ringing": "5", "Up": "6", "Busy": "7"}


@dataclass(slots=True)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    cid_num: str
    cid_name: str
    state: str = "Down"
    conn_num: str = "<unknown>"
    conn_name: str = "<unknown>"
    priority: int = 1

    def headers(self, prefix: str = "") -> list[tuple[str, str]]:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", _STATE_CODES[self.state]),
            (f"{prefix}ChannelStateDesc", self.state),
            (f"{prefix}CallerIDNum", self.cid_num),
            (f"{prefix}CallerIDName", self.cid_name),
            (f"{prefix}ConnectedLineNum", self.conn_num),
            (f"{prefix}ConnectedLineName", self.conn_name),
            (f"{prefix}Language", "en"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


@dataclass
class Pbx:
    """Hands out channel names and unique ids the way one Asterisk run does."""

    epoch: int = 1_795_617_000
    # Who calls and which line they dial, unless a scenario says otherwise.
    caller: str = "+15125559876"
    caller_name: str = "Jane Caller"
    did: str = "+15125550100"
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _bridges: Iterator[int] = field(default_factory=itertools.count)
    out: list[bytes] = field(default_factory=list)

    def channel(
        self,
        endpoint: str,
        *,
        context: str,
        exten: str,
        cid_num: str,
        cid_name: str,
        linkedid: str | None = None,
        state: str = "Down",
    ) -> Channel:
        n = next(self._ids)
        uniqueid = f"{self.epoch + n // 4}.{n}"
        tech = endpoint if endpoint.startswith("Local/") else f"PJSIP/{endpoint}"
        name = f"{tech}-{n:08x}" if not tech.startswith("Local/") else f"{tech}-{n:08x};1"
        return Channel(
            name, uniqueid, linkedid or uniqueid, context, exten, cid_num, cid_name, state
        )

    def emit(self, event: str, privilege: str, headers: Iterable[tuple[str, str]]) -> None:
        lines = [f"Event: {event}", f"Privilege: {privilege},all"]
        lines.extend(f"{k}: {v}" for k, v in headers)
        self.out.append(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))

    def bridge_id(self) -> str:
        return f"7b1c0de0-0000-4000-8000-{next(self._bridges):012x}"

    def take(self) -> bytes:
        data = b"".join(self.out)
        self.out.clear()
        return data


class Call:
    """Steps of one call on one PBX; every method emits what Asterisk 22 emits."""

    def __init__(self, pbx: Pbx, caller: Channel):
        self.pbx = pbx
        self.caller = caller

    # ---- channel life
    @classmethod
    def inbound(
        cls,
        pbx: Pbx,
        *,
        caller: str | None = None,
        name: str | None = None,
        did: str | None = None,
        context: str = "from-trunk",
    ) -> Call:
        caller = pbx.caller if caller is None else caller
        name = pbx.caller_name if name is None else name
        did = pbx.did if did is None else did
        chan = pbx.channel(
            "trunk", context=context, exten=did, cid_num=caller, cid_name=name, state="Ring"
        )
        call = cls(pbx, chan)
        call.newchannel(chan)
        call.varset(chan, "SIPDOMAIN", "127.0.0.1")
        call.newexten(chan, "NoOp", f"Inbound call to main DID from {caller}")
        return call

    @classmethod
    def from_desk(cls, pbx: Pbx, *, ext: str, dialled: str, name: str = "") -> Call:
        chan = pbx.channel(
            ext,
            context="from-internal",
            exten=dialled,
            cid_num=ext,
            cid_name=name or f"Desk {ext}",
            state="Ring",
        )
        call = cls(pbx, chan)
        call.newchannel(chan)
        call.newexten(chan, "NoOp", f"Internal call from {ext} to {dialled}")
        return call

    def leg(self, endpoint: str, *, context: str = "from-internal") -> Channel:
        """A channel this call creates (a desk phone, a Local helper)."""
        name = endpoint.split("/")[-1].split("@")[0]
        chan = self.pbx.channel(
            endpoint,
            context=context,
            exten=self.caller.exten,
            cid_num=name,
            cid_name=f"Desk {name}",
            linkedid=self.caller.linkedid,
        )
        chan.conn_num, chan.conn_name = self.caller.cid_num, self.caller.cid_name
        self.newchannel(chan)
        return chan

    def newchannel(self, chan: Channel) -> None:
        self.pbx.emit("Newchannel", "call", chan.headers())

    def newstate(self, chan: Channel, state: str) -> None:
        chan.state = state
        self.pbx.emit("Newstate", "call", chan.headers())

    def newexten(self, chan: Channel, app: str, data: str) -> None:
        extra = [("Extension", chan.exten), ("Application", app), ("AppData", data)]
        self.pbx.emit("Newexten", "dialplan", chan.headers() + extra)
        chan.priority += 1

    def varset(self, chan: Channel, variable: str, value: str) -> None:
        self.pbx.emit(
            "VarSet", "dialplan", [*chan.headers(), ("Variable", variable), ("Value", value)]
        )

    def hangup_request(self, chan: Channel, *, cause: str | None = None) -> None:
        """The far end hung up (a BYE or CANCEL from the caller's carrier)."""
        self.pbx.emit(
            "HangupRequest", "call", chan.headers() + ([("Cause", cause)] if cause else [])
        )

    def soft_hangup(self, chan: Channel, cause: str = "16") -> None:
        """Asterisk itself hangs the channel up (dialplan Hangup(), Dial timeout)."""
        self.pbx.emit("SoftHangupRequest", "call", [*chan.headers(), ("Cause", cause)])

    def hangup(self, chan: Channel, cause: str = "16") -> None:
        self.pbx.emit(
            "Hangup",
            "call",
            [*chan.headers(), ("Cause", cause), ("Cause-txt", _CAUSE_TEXT.get(cause, "Unknown"))],
        )

    # ---- dialling
    def dial_begin(self, dest: Channel, dialstring: str) -> None:
        self.pbx.emit(
            "DialBegin",
            "call",
            self.caller.headers() + dest.headers("Dest") + [("DialString", dialstring)],
        )

    def ringing(self, dest: Channel) -> None:
        self.newstate(dest, "Ringing")
        self.pbx.emit(
            "DialState",
            "call",
            self.caller.headers() + dest.headers("Dest") + [("DialStatus", "RINGING")],
        )

    def dial_end(self, dest: Channel, status: str, *, source: Channel | None = None) -> None:
        self.pbx.emit(
            "DialEnd",
            "call",
            (source or self.caller).headers() + dest.headers("Dest") + [("DialStatus", status)],
        )

    def pbx_answers(self, app: str, data: str) -> None:
        """Answer() - the PBX itself, not a person - then an IVR or queue app."""
        self.newexten(self.caller, "Answer", "")
        self.newstate(self.caller, "Up")
        self.newexten(self.caller, app, data)

    def rings_out(self, *legs: Channel) -> None:
        """Dial's timeout passes with nobody answering; the dialplan hangs up."""
        for leg in legs:
            self.dial_end(leg, "NOANSWER")
        self.varset(self.caller, "DIALSTATUS", "NOANSWER")
        self.soft_hangup(self.caller)
        for leg in legs:
            self.hangup(leg, "0")
        self.hangup(self.caller, "16")

    def dial_start(self, app_data: str) -> None:
        self.newexten(self.caller, "Dial", app_data)
        self.varset(self.caller, "DIALSTATUS", "")

    def bridge(self, *chans: Channel) -> str:
        bridge = self.pbx.bridge_id()
        base = [
            ("BridgeUniqueid", bridge),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
        ]
        self.pbx.emit(
            "BridgeCreate",
            "call",
            [*base, ("BridgeNumChannels", "0"), ("BridgeVideoSourceMode", "none")],
        )
        for n, chan in enumerate(chans, start=1):
            self.pbx.emit(
                "BridgeEnter",
                "call",
                [
                    *base,
                    ("BridgeNumChannels", str(n)),
                    ("BridgeVideoSourceMode", "none"),
                    *chan.headers(),
                ],
            )
        return bridge

    def unbridge(self, bridge: str, *chans: Channel) -> None:
        base = [
            ("BridgeUniqueid", bridge),
            ("BridgeType", "basic"),
            ("BridgeTechnology", "simple_bridge"),
            ("BridgeCreator", "<unknown>"),
            ("BridgeName", "<unknown>"),
        ]
        left = len(chans)
        for chan in chans:
            left -= 1
            self.pbx.emit(
                "BridgeLeave",
                "call",
                [
                    *base,
                    ("BridgeNumChannels", str(left)),
                    ("BridgeVideoSourceMode", "none"),
                    *chan.headers(),
                ],
            )
        self.pbx.emit(
            "BridgeDestroy",
            "call",
            [*base, ("BridgeNumChannels", "0"), ("BridgeVideoSourceMode", "none")],
        )

    def queue_event(self, event: str, extra: list[tuple[str, str]]) -> None:
        self.pbx.emit(event, "agent", self.caller.headers() + extra)


# ------------------------------------------------------------------ scenarios
# Each yields between steps; `interleave` runs several at once.

Scenario = Callable[[Pbx], Iterator[None]]


def answered(pbx: Pbx) -> Iterator[None]:
    call = Call.inbound(pbx)
    desk = call.leg("201")
    call.dial_start("PJSIP/201,20")
    call.dial_begin(desk, "201")
    yield
    call.ringing(desk)
    yield
    call.newstate(desk, "Up")
    call.dial_end(desk, "ANSWER")
    call.newstate(call.caller, "Up")
    bridge = call.bridge(desk, call.caller)
    call.varset(call.caller, "DIALSTATUS", "ANSWER")
    yield
    call.hangup_request(desk, cause="16")
    call.unbridge(bridge, desk, call.caller)
    call.soft_hangup(call.caller)
    call.hangup(desk, "16")
    call.hangup(call.caller, "16")


def no_answer(
    pbx: Pbx,
    phones: tuple[str, ...] = ("201",),
    caller: str | None = None,
    name: str | None = None,
) -> Iterator[None]:
    """Every phone rings out; Dial times out and the PBX hangs up (02, 05)."""
    call = Call.inbound(pbx, caller=caller, name=name)
    desks = [call.leg(p) for p in phones]
    call.dial_start("&".join(f"PJSIP/{p}" for p in phones) + ",8")
    for desk, phone in zip(desks, phones, strict=True):
        call.dial_begin(desk, phone)
    yield
    for desk in desks:
        call.ringing(desk)
    yield
    call.rings_out(*desks)


def anonymous(pbx: Pbx) -> Iterator[None]:
    """A withheld number rings out: missed, but there is no one to text."""
    yield from no_answer(pbx, caller="anonymous", name="Anonymous")


def caller_gives_up(pbx: Pbx) -> Iterator[None]:
    """The caller hangs up while the phone still rings (CANCEL)."""
    call = Call.inbound(pbx)
    desk = call.leg("201")
    call.dial_start("PJSIP/201,20")
    call.dial_begin(desk, "201")
    call.ringing(desk)
    yield
    call.hangup_request(call.caller)
    call.dial_end(desk, "CANCEL")
    call.varset(call.caller, "DIALSTATUS", "CANCEL")
    call.hangup(desk, "0")
    call.hangup(call.caller, "16")


def busy(pbx: Pbx) -> Iterator[None]:
    call = Call.inbound(pbx)
    desk = call.leg("201")
    call.dial_start("PJSIP/201,20")
    call.dial_begin(desk, "201")
    yield
    call.hangup_request(desk, cause="17")
    call.dial_end(desk, "BUSY")
    call.varset(call.caller, "DIALSTATUS", "BUSY")
    call.soft_hangup(call.caller)
    call.hangup(desk, "17")
    call.hangup(call.caller, "17")


def congestion(pbx: Pbx) -> Iterator[None]:
    call = Call.inbound(pbx)
    call.dial_start("PJSIP/trunk2/+15125550111,20")
    yield
    call.varset(call.caller, "DIALSTATUS", "CONGESTION")
    call.soft_hangup(call.caller)
    call.hangup(call.caller, "34")


def voicemail(pbx: Pbx, *, left: bool = True) -> Iterator[None]:
    """Rings out, then VoiceMail answers; the caller leaves a message or not (07)."""
    call = Call.inbound(pbx)
    desk = call.leg("201")
    call.dial_start("PJSIP/201,6")
    call.dial_begin(desk, "201")
    call.ringing(desk)
    yield
    call.dial_end(desk, "NOANSWER")
    call.varset(call.caller, "DIALSTATUS", "NOANSWER")
    call.newexten(call.caller, "VoiceMail", "201@default,u")
    call.newstate(call.caller, "Up")
    call.hangup(desk, "0")
    yield
    call.hangup_request(call.caller)
    if left:
        call.varset(
            call.caller, "VM_MESSAGEFILE", "/var/spool/asterisk/voicemail/default/201/INBOX/msg0000"
        )
        call.pbx.emit(
            "MessageWaiting",
            "call",
            [
                *call.caller.headers(),
                ("Mailbox", "201@default"),
                ("Waiting", "1"),
                ("New", "1"),
                ("Old", "0"),
            ],
        )
    call.varset(call.caller, "VMSTATUS", "SUCCESS")
    call.soft_hangup(call.caller)
    call.hangup(call.caller, "0")


def queue_abandon(pbx: Pbx) -> Iterator[None]:
    """Answer(), Queue(support); members ring; the caller hangs up (09)."""
    call = Call.inbound(pbx)
    call.pbx_answers("Queue", "support")
    call.queue_event("QueueCallerJoin", [("Queue", "support"), ("Position", "1"), ("Count", "1")])
    desks = [call.leg(p) for p in ("201", "202")]
    for desk in desks:
        call.dial_begin(desk, desk.cid_num)
    yield
    for desk in desks:
        call.ringing(desk)
    yield
    call.hangup_request(call.caller)
    for desk in desks:
        call.dial_end(desk, "CANCEL")
    call.queue_event(
        "QueueCallerAbandon",
        [("Queue", "support"), ("Position", "1"), ("OriginalPosition", "1"), ("HoldTime", "6")],
    )
    call.queue_event("QueueCallerLeave", [("Queue", "support"), ("Position", "1"), ("Count", "0")])
    call.soft_hangup(call.caller)
    call.hangup(call.caller, "0")
    for desk in desks:
        call.hangup(desk, "0")


def queue_answered(pbx: Pbx) -> Iterator[None]:
    call = Call.inbound(pbx)
    call.pbx_answers("Queue", "support")
    call.queue_event("QueueCallerJoin", [("Queue", "support"), ("Position", "1"), ("Count", "1")])
    desk = call.leg("202")
    call.dial_begin(desk, "202")
    call.ringing(desk)
    yield
    call.newstate(desk, "Up")
    call.dial_end(desk, "ANSWER")
    call.queue_event(
        "AgentConnect",
        [
            *desk.headers("Dest"),
            ("Queue", "support"),
            ("Interface", "PJSIP/202"),
            ("MemberName", "Desk 202"),
            ("HoldTime", "4"),
            ("RingTime", "3"),
        ],
    )
    bridge = call.bridge(call.caller, desk)
    yield
    call.unbridge(bridge, desk, call.caller)
    call.hangup(desk, "16")
    call.hangup(call.caller, "16")


def ivr_hangup(pbx: Pbx) -> Iterator[None]:
    """The auto-attendant answers and the caller hangs up in the menu."""
    call = Call.inbound(pbx)
    call.pbx_answers("Background", "custom/main-menu")
    yield
    call.hangup_request(call.caller)
    call.hangup(call.caller, "16")


def ivr_then_no_answer(pbx: Pbx) -> Iterator[None]:
    """The auto-attendant answers, the caller presses 1, that phone rings out."""
    call = Call.inbound(pbx)
    call.pbx_answers("Background", "custom/main-menu")
    yield
    desk = call.leg("201")
    call.dial_start("PJSIP/201,15")
    call.dial_begin(desk, "201")
    call.ringing(desk)
    yield
    call.rings_out(desk)


def followme(pbx: Pbx, *, answered_at_step: int | None = None) -> Iterator[None]:
    """FollowMe(201): Local legs into followme-dial, each dialling a desk in turn."""
    call = Call.inbound(pbx)
    call.newexten(call.caller, "FollowMe", "201")
    call.newstate(call.caller, "Up")  # FollowMe answers the caller to play hold music
    for step, phone in enumerate(("201", "202")):
        local = call.leg(f"Local/{phone}@followme-dial", context="followme-dial")
        call.dial_begin(local, f"{phone}@followme-dial")
        # The Local channel's other half runs Dial(PJSIP/<phone>) in followme-dial.
        inner = call.leg(f"Local/{phone}@followme-dial", context="followme-dial")
        inner.name = local.name[:-1] + "2"
        desk = call.leg(phone)
        call.pbx.emit(
            "DialBegin", "call", inner.headers() + desk.headers("Dest") + [("DialString", phone)]
        )
        call.newstate(desk, "Ringing")
        yield
        if answered_at_step == step:
            call.newstate(desk, "Up")
            call.dial_end(desk, "ANSWER", source=inner)
            call.dial_end(local, "ANSWER")
            bridge = call.bridge(call.caller, desk)
            yield
            call.unbridge(bridge, call.caller, desk)
            call.hangup(desk, "16")
            call.hangup(call.caller, "16")
            return
        # FollowMe gives up on this step after its timeout and hangs the leg up.
        call.dial_end(desk, "CANCEL", source=inner)
        call.dial_end(local, "NOANSWER")
        call.hangup(desk, "0")
        call.hangup(inner, "16")
        call.hangup(local, "16")
    call.soft_hangup(call.caller)
    call.hangup(call.caller, "16")


def transfer_after_answer(pbx: Pbx) -> Iterator[None]:
    """201 answers, then blind-transfers the caller to 202, who does not answer."""
    call = Call.inbound(pbx)
    desk = call.leg("201")
    call.dial_start("PJSIP/201,20")
    call.dial_begin(desk, "201")
    call.ringing(desk)
    call.newstate(desk, "Up")
    call.dial_end(desk, "ANSWER")
    call.newstate(call.caller, "Up")
    bridge = call.bridge(desk, call.caller)
    yield
    call.unbridge(bridge, desk, call.caller)
    call.hangup(desk, "16")
    other = call.leg("202")
    call.dial_start("PJSIP/202,15")
    call.dial_begin(other, "202")
    call.ringing(other)
    yield
    call.rings_out(other)


def chanunavail(pbx: Pbx) -> Iterator[None]:
    """The dialled phone is not registered: no DialBegin, no DialEnd at all (16)."""
    call = Call.inbound(pbx)
    call.dial_start("PJSIP/203,20")
    yield
    call.varset(call.caller, "DIALSTATUS", "CHANUNAVAIL")
    call.newexten(call.caller, "Hangup", "")
    call.soft_hangup(call.caller)
    call.hangup(call.caller, "3")


def internal(pbx: Pbx) -> Iterator[None]:
    """Desk 202 calls 201, nobody answers (13)."""
    call = Call.from_desk(pbx, ext="202", dialled="201")
    desk = call.leg("201")
    call.dial_start("PJSIP/201,8")
    call.dial_begin(desk, "201")
    call.ringing(desk)
    yield
    call.dial_end(desk, "NOANSWER")
    call.soft_hangup(call.caller)
    call.hangup(desk, "0")
    call.hangup(call.caller, "16")


def outbound(pbx: Pbx) -> Iterator[None]:
    """Desk 201 calls a customer through the trunk; nobody answers."""
    call = Call.from_desk(pbx, ext="201", dialled="5125550142")
    trunk = call.leg("trunk", context="from-trunk")
    call.dial_start("PJSIP/+15125550142@trunk,30")
    call.dial_begin(trunk, "+15125550142@trunk")
    yield
    call.dial_end(trunk, "NOANSWER")
    call.soft_hangup(call.caller)
    call.hangup(trunk, "0")
    call.hangup(call.caller, "16")


# name -> (scenario, expected outcome, expected reason)
SCENARIOS: dict[str, tuple[Scenario, str, str | None]] = {
    "answered": (answered, "answered", None),
    "no_answer": (no_answer, "missed", "NOANSWER"),
    "ring_group_no_answer": (
        lambda pbx: no_answer(pbx, phones=("201", "202", "203")),
        "missed",
        "NOANSWER",
    ),
    "anonymous": (anonymous, "missed", "NOANSWER"),
    "caller_gives_up": (caller_gives_up, "missed", "CANCEL"),
    "busy": (busy, "missed", "BUSY"),
    "congestion": (congestion, "missed", "CONGESTION"),
    "voicemail_left": (voicemail, "missed", "VOICEMAIL"),
    "voicemail_no_message": (lambda pbx: voicemail(pbx, left=False), "missed", "VOICEMAIL"),
    "queue_abandon": (queue_abandon, "missed", "QUEUE_ABANDON"),
    "queue_answered": (queue_answered, "answered", None),
    "ivr_hangup": (ivr_hangup, "missed", "IVR_HANGUP"),
    "ivr_then_no_answer": (ivr_then_no_answer, "missed", "NOANSWER"),
    "followme_no_answer": (followme, "missed", "NOANSWER"),
    "followme_answered": (lambda pbx: followme(pbx, answered_at_step=1), "answered", None),
    "transfer_after_answer": (transfer_after_answer, "answered", None),
    "chanunavail": (chanunavail, "missed", "CHANUNAVAIL"),
    "internal": (internal, "internal", None),
    "outbound": (outbound, "outbound", None),
}


def interleave(pbx: Pbx, scenarios: Iterable[Iterator[None]]) -> Iterator[bytes]:
    """Run scenarios side by side, one step each in turn; yield bytes per step."""
    running = list(scenarios)
    while running:
        for scenario in list(running):
            try:
                next(scenario)
            except StopIteration:
                running.remove(scenario)
            data = pbx.take()
            if data:
                yield data


def render(*names: str, pbx: Pbx | None = None, banner: bool = True) -> bytes:
    """The AMI bytes of the named scenarios, run at the same time."""
    pbx = pbx or Pbx()
    chunks = list(interleave(pbx, (SCENARIOS[name][0](pbx) for name in names)))
    return (BANNER if banner else b"") + b"".join(chunks)
