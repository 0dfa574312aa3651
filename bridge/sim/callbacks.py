"""More synthetic AMI streams, built with bridge.sim.callgen's steps: a desk
calling a customer back (answered or not, the number written any way), and a
FreePBX-style ring group of Local channels that nobody answers.

``privileges``: the read classes the AMI user has; events of any other class
are left out, as Asterisk leaves them out for a user without them (the AMI
double does the same from each event's Privilege line).
"""

from __future__ import annotations

from collections.abc import Iterator

from bridge.sim.callgen import Call, Pbx


def call_back(
    pbx: Pbx, *, ext: str = "201", dialled: str = "5125559876", answered: bool = True
) -> Iterator[None]:
    """Desk ``ext`` dials ``dialled`` through the trunk; the callee answers
    (and talks until the scenario's next step) or lets it ring out."""
    call = Call.from_desk(pbx, ext=ext, dialled=dialled, name=f"Desk {ext}")
    trunk = call.leg("trunk", context="from-trunk")
    call.dial_start(f"PJSIP/{dialled}@trunk,30")
    call.dial_begin(trunk, f"{dialled}@trunk")
    call.ringing(trunk)
    yield
    if not answered:
        call.dial_end(trunk, "NOANSWER")
        call.varset(call.caller, "DIALSTATUS", "NOANSWER")
        call.soft_hangup(call.caller)
        call.hangup(trunk, "0")
        call.hangup(call.caller, "16")
        return
    call.newstate(trunk, "Up")
    call.dial_end(trunk, "ANSWER")
    call.newstate(call.caller, "Up")
    bridge = call.bridge(call.caller, trunk)
    yield
    call.hangup_request(trunk, cause="16")
    call.unbridge(bridge, call.caller, trunk)
    call.hangup(trunk, "16")
    call.hangup(call.caller, "16")


def local_ring_group_no_answer(
    pbx: Pbx, phones: tuple[str, ...] = ("201", "202")
) -> Iterator[None]:
    """FreePBX's ring group (ringall): the caller dials one Local/<ext>@from-internal
    per phone, each Local;2 dials its phone. At the group's timeout the caller's
    legs end NOANSWER; the Local;2 -> PJSIP legs, hung up from above, end CANCEL.
    The dialplan then plays a message and the caller hangs up."""
    call = Call.inbound(pbx)
    call.dial_start("&".join(f"Local/{p}@from-internal" for p in phones) + ",20")
    pairs = []
    for phone in phones:
        outer = call.leg(f"Local/{phone}@from-internal", context="from-internal")
        inner = call.leg(f"Local/{phone}@from-internal", context="from-internal")
        inner.name = outer.name[:-1] + "2"
        desk = call.leg(phone)
        call.dial_begin(outer, f"{phone}@from-internal")
        call.pbx.emit(
            "DialBegin", "call", inner.headers() + desk.headers("Dest") + [("DialString", phone)]
        )
        call.newstate(desk, "Ringing")
        pairs.append((outer, inner, desk))
    yield
    for outer, _inner, _desk in pairs:
        call.dial_end(outer, "NOANSWER")
    for _outer, inner, desk in pairs:
        call.dial_end(desk, "CANCEL", source=inner)
        call.hangup(desk, "0")
        call.hangup(inner, "16")
    for outer, _inner, _desk in pairs:
        call.hangup(outer, "16")
    call.varset(call.caller, "DIALSTATUS", "NOANSWER")
    call.newexten(call.caller, "Playback", "im-sorry&nobody-but-chickens")
    yield
    call.hangup_request(call.caller, cause="16")
    call.hangup(call.caller, "16")


def only_classes(data: bytes, privileges: frozenset[str]) -> bytes:
    """The events of ``data`` an AMI user with these read classes receives
    (the banner and anything without a Privilege line pass)."""
    kept = []
    for block in data.split(b"\r\n\r\n"):
        if not block.strip():
            continue
        classes: set[str] = set()
        for line in block.split(b"\r\n"):
            if line.startswith(b"Privilege: "):
                classes.update(line.removeprefix(b"Privilege: ").decode().split(","))
        if not classes or classes & privileges:
            kept.append(block + b"\r\n\r\n")
    return b"".join(kept)
