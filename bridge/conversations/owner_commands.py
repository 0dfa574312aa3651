"""What an owner's text means. Owners answer from their phones:

    12 On my way at 3, does that work?   -> text that to the caller of thread #12
    CALLED 12   /   DONE 12              -> thread #12 is handled
    CALL 12                              -> ring my phone, then thread #12's caller

Anything else gets a short usage reply. Pure: the inbound handler acts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_REPLY = re.compile(r"^\s*#?(\d{1,9})\s*[:.,-]?\s+(\S.*)$", re.DOTALL)
_HANDLED = re.compile(r"^\s*(called|done)\s*#?(\d{1,9})\s*[.!]*\s*$", re.IGNORECASE)
_CALL = re.compile(r"^\s*call\s*#?(\d{1,9})\s*[.!]*\s*$", re.IGNORECASE)

USAGE = (
    "textback: reply '12 your text' to answer thread #12,"
    " or 'CALLED 12' / 'DONE 12' when it is handled."
)


@dataclass(frozen=True, slots=True)
class Reply:
    thread: int
    text: str


@dataclass(frozen=True, slots=True)
class Handled:
    thread: int
    how: Literal["called", "done"]


@dataclass(frozen=True, slots=True)
class Unknown:
    pass


@dataclass(frozen=True, slots=True)
class CallBack:
    """Click-to-call: ring the owner, then the thread's caller."""

    thread: int


Command = Reply | Handled | CallBack | Unknown


def parse(body: str) -> Command:
    call = _CALL.match(body)
    if call:
        return CallBack(int(call.group(1)))
    handled = _HANDLED.match(body)
    if handled:
        called = handled.group(1).lower() == "called"
        return Handled(int(handled.group(2)), "called" if called else "done")
    reply = _REPLY.match(body)
    if reply:
        return Reply(int(reply.group(1)), reply.group(2).strip())
    return Unknown()
