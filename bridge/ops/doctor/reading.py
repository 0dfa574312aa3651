"""What the AMI user may read: the event classes detection needs.

AMI has no action that tells a client its own read= classes, so doctor
looks at the events themselves (each names its class in ``Privilege``). A
PBX with calls up that sends no call event is proof the class is missing;
an idle one proves nothing, and `doctor --wait-for-call` watches while the
installer places a test call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from bridge.ami.framer import AmiMessage
from bridge.ops.doctor.report import Check

NAME = "AMI read classes"
# What each class brings, and what is lost without it (docs/detection.md).
LOST_WITHOUT = {
    "call": "no call is ever decided (Newchannel, DialEnd, Hangup...)",
    "dialplan": "reasons degrade: voicemail without a message reads as NOANSWER, FROM_DID is lost",
    "agent": "a queue abandon reads as CANCEL or NOANSWER",
    "user": "texts from the SIP provider never reach textback",
}
_FIX = "manager.conf: read = call,dialplan,agent,system,user for this user, then `manager reload`"


def classes_seen(events: Sequence[AmiMessage]) -> set[str]:
    return {
        klass.strip()
        for event in events
        for klass in event.get("Privilege").split(",")
        if klass.strip() and klass.strip() != "all"
    }


async def check_read_classes(
    events: list[AmiMessage], channels_up: int, *, wait_for_call: float
) -> Check:
    if wait_for_call > 0:
        await _until_a_call(events, wait_for_call)
    elif channels_up:
        await _until_a_call(events, 3.0)  # a call in progress sends events within moments
    seen = classes_seen(events)
    if "call" not in seen:
        if channels_up or wait_for_call:
            why = f"{channels_up} channel(s) are up" if channels_up else "a test call was placed"
            return Check(
                NAME, False, f"{why} but Asterisk sends this user no call events:"
                f" {LOST_WITHOUT['call']}", _FIX,
            )  # fmt: skip
        return Check(
            NAME, True,
            "no call in progress to check call events against: run `textback doctor"
            " --wait-for-call 60` and place a test call to prove the user reads them",
        )  # fmt: skip
    if "dialplan" not in seen and _a_call_was_seen(events):
        return Check(NAME, False, f"no dialplan events: {LOST_WITHOUT['dialplan']}", _FIX)
    return Check(NAME, True, f"call events arriving (classes seen: {', '.join(sorted(seen))})")


def _a_call_was_seen(events: Sequence[AmiMessage]) -> bool:
    return any(e.event == "Newchannel" for e in events)


async def _until_a_call(events: list[AmiMessage], seconds: float) -> None:
    """Until a call has sent its first dialplan step, or ``seconds`` pass."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while not _call_and_its_dialplan(events):  # noqa: ASYNC110 -- the link appends
                await asyncio.sleep(0.05)


def _call_and_its_dialplan(events: Sequence[AmiMessage]) -> bool:
    seen = classes_seen(events)
    return _a_call_was_seen(events) and "dialplan" in seen
