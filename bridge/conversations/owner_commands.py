"""What an owner's text means. Owners answer from their phones:

    12 On my way at 3, does that work?   -> text that to the caller of thread #12
    CALLED 12   /   DONE 12              -> thread #12 is handled
    BOOKED 12 450 / WON 12 / LOST 12 price -> the lead's next step (bridge.core.ledger)
    CALL 12                              -> ring my phone, then thread #12's caller

Anything else gets a short usage reply. Pure: the inbound handler acts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bridge.core.ledger import LOST, AmountError, LeadStep, lost_reason, parse_amount

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


# BOOKED 12 [amount] / WON 12 [amount] / LOST 12 [reason]: the lead's next step.
_STEP = re.compile(r"^\s*(booked|won|lost)\s*#?(\d{1,9})(?:\s+(.*?))?[\s.!]*$", re.I | re.S)


@dataclass(frozen=True, slots=True)
class BadStep:
    """BOOKED / WON with something that is not an amount: nothing is recorded."""

    thread_id: int
    problem: str


def parse_step(body: str) -> LeadStep | BadStep | None:
    """A ledger step, a step that cannot be taken as typed, or None (not one)."""
    match = _STEP.match(body)
    if match is None:
        return None
    step, thread, rest = match[1].lower(), int(match[2]), match[3] or ""
    if step == LOST:
        return LeadStep(thread, LOST, reason=lost_reason(rest))
    if not rest:
        return LeadStep(thread, step)
    try:
        return LeadStep(thread, step, cents=parse_amount(rest))
    except AmountError as exc:
        return BadStep(thread, f"{exc}. {step.upper()} {thread} 450 records it at 450.")
