"""The AMI double's Originate: the action answered as Asterisk 22's
action_originate (main/manager.c) answers it, and the events of the call it
places, shaped like the recordings' (bridge.sim.callgen's steps).

Nothing here was recorded from a real Asterisk: an originated call is
generated from what the recordings show of requested channels - a dialled
leg is created ``Down``, in its endpoint's context at ``s``, with the
endpoint's own caller ID - and from manager.c's OriginateResponse.

Click-to-call: ``Channel`` (the owner's phone) rings; answered, it runs
``Exten`` in ``Context`` - the shipped ``[textback-click-to-call]`` dials the
homeowner through the trunk - so the first channel of the call is the
owner's, and no leg of it came in from outside.
"""

from __future__ import annotations

from collections.abc import Iterator

from bridge.ami.framer import AmiMessage
from bridge.sim.callgen import Call, Pbx

# Reason: the last control frame of the rung channel (AST_CONTROL_*).
NO_SUCH_PHONE, REFUSED, NO_ANSWER, ANSWERED, BUSY = "0", "1", "3", "4", "5"


def originate_reply(action: AmiMessage, write_classes: frozenset[str]) -> tuple[str, str]:
    """(Response, Message) for an Originate action, before anything rings."""
    if "originate" not in write_classes:
        return "Error", "Permission denied"
    channel = action.get("Channel")
    if not channel:
        return "Error", "Channel not specified"
    if "/" not in channel:
        return "Error", "Invalid channel"
    if action.get("Exten") and not action.get("Priority").isdigit():
        return "Error", "Invalid priority"
    if action.get("Timeout") and not action.get("Timeout").isdigit():
        return "Error", "Invalid timeout"
    if action.get("Async").lower() not in ("true", "yes", "1"):
        return "Error", "the double only originates asynchronously"
    return "Success", "Originate successfully queued"


def originate_response(
    pbx: Pbx, action: AmiMessage, response: str, reason: str, channel: str, uniqueid: str
) -> None:
    """The OriginateResponse event (class call), with the action's ActionID."""
    name, _, number = action.get("CallerID").rpartition(" ")
    pbx.emit(
        "OriginateResponse",
        "call",
        [
            ("ActionID", action.get("ActionID")), ("Response", response),
            ("Channel", channel), ("Context", action.get("Context")),
            ("Exten", action.get("Exten")), ("Application", action.get("Application")),
            ("Data", action.get("Data")), ("Reason", reason), ("Uniqueid", uniqueid),
            ("CallerIDNum", number.strip("<>")), ("CallerIDName", name.strip('"')),
        ],
    )  # fmt: skip


def click_to_call(
    pbx: Pbx, action: AmiMessage, *, owner: str = ANSWERED, callee_answers: bool = True
) -> Iterator[None]:
    """The call an Originate places. ``owner``: how the first (owner's) leg
    ends - ANSWERED, NO_ANSWER, BUSY or NO_SUCH_PHONE (no channel at all).
    Answered, the dialplan dials ``Exten``: the homeowner answers (and talks
    until the next step) or lets it ring out. Yields between steps."""
    requested = action.get("Channel")
    if owner == NO_SUCH_PHONE:
        originate_response(pbx, action, "Failure", NO_SUCH_PHONE, requested, "<null>")
        return
    endpoint = requested.split("/", 1)[1].split("@")[-1]  # PJSIP/201, PJSIP/+1...@trunk
    context = "from-trunk" if "@" in requested else "from-internal"
    first = pbx.channel(endpoint, context=context, exten="s", cid_num=endpoint,
                        cid_name=f"Desk {endpoint}")  # fmt: skip
    call = Call(pbx, first)
    call.newchannel(first)
    for variable in action.getall("Variable"):
        name, _, value = variable.partition("=")
        call.varset(first, name, value)
    name, _, number = action.get("CallerID").rpartition(" ")
    first.conn_num, first.conn_name = number.strip("<>"), name.strip('"')
    pbx.emit("NewConnectedLine", "call", first.headers())
    call.newstate(first, "Ringing")
    yield
    if owner != ANSWERED:
        cause = "17" if owner == BUSY else "19"
        call.hangup(first, cause)
        originate_response(pbx, action, "Failure", owner, requested, "<null>")
        return
    call.newstate(first, "Up")
    originate_response(pbx, action, "Success", ANSWERED, first.name, first.uniqueid)
    first.context, first.exten, first.priority = action.get("Context"), action.get("Exten"), 1
    yield from _dial_the_callee(call, action.get("Exten"), callee_answers)


def _dial_the_callee(call: Call, number: str, answers: bool) -> Iterator[None]:
    """[textback-click-to-call]: NoOp, then Dial(PJSIP/${EXTEN}@trunk,60)."""
    first = call.caller
    call.newexten(first, "NoOp", "textback click-to-call")
    call.dial_start(f"PJSIP/{number}@trunk,60")
    trunk = call.leg("trunk", context="from-trunk")
    call.dial_begin(trunk, f"{number}@trunk")
    call.ringing(trunk)
    yield
    if not answers:
        call.dial_end(trunk, "NOANSWER")
        call.varset(first, "DIALSTATUS", "NOANSWER")
        call.soft_hangup(first)
        call.hangup(trunk, "0")
        call.hangup(first, "16")
        return
    call.newstate(trunk, "Up")
    call.dial_end(trunk, "ANSWER")
    bridge = call.bridge(first, trunk)
    yield
    call.hangup_request(trunk, cause="16")
    call.unbridge(bridge, first, trunk)
    call.hangup(trunk, "16")
    call.hangup(first, "16")
