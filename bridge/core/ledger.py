"""The recovery ledger, pure: what an owner's BOOKED / WON / LOST does to a
lead, the amounts they type, and what a lead is worth to the report.

A lead is a thread that began with a missed call. It moves missed -> texted
-> replied -> called back -> booked -> won or lost; owners record the last
steps. The rules (docs/owners.md, "The recovery ledger"):

- the lead's state is its latest recorded step; every step is kept;
- WON with nothing before counts as booked and won at once;
- a lost lead may be booked or won again (the customer came back), and a won
  one lost (it fell through): the words back say what it was;
- BOOKED after WON is refused - a sold job is not booked again; WON N V
  changes the amount;
- the same step again with nothing new changes nothing (a repeated text).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bridge.core.safe_text import printable

BOOKED, WON, LOST = "booked", "won", "lost"
STEPS = (BOOKED, WON, LOST)
MAX_CENTS = 99_999_999_999  # 999,999,999.99: beyond that it is a typo, not a job
REASON_LIMIT = 60

# Digits with optional thousands commas (1,200 - never 1,20), then at most two decimals.
_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.([0-9]{1,2}))?")
_CODE = re.compile(r"[A-Za-z]{3}")  # USD, eur


class AmountError(ValueError):
    """Not an amount; the message says what was typed and what would do."""


def parse_amount(text: str) -> int:
    """An amount as owners type it, in hundredths of the currency: ``450``,
    ``$450``, ``450.00``, ``1,200``, ``€1,200.50``, ``450 USD``. Any currency
    (one sign or three-letter code before or after); never negative."""
    number = _without_currency(text.strip())
    if _NUMBER.fullmatch(number) is None:
        raise AmountError(f"{printable(text.strip(), 24)!r} is not an amount (450, $450, 1,200.50)")
    whole, _, fraction = number.replace(",", "").partition(".")
    # A digit string far too long for a job is refused before int() reads it.
    cents = int(whole) * 100 + int(fraction.ljust(2, "0")) if len(whole) <= 12 else MAX_CENTS + 1
    if cents > MAX_CENTS:
        raise AmountError(f"{printable(text.strip(), 24)!r} is too large for one job")
    return cents


def _without_currency(text: str) -> str:
    for strip in (_leading, _trailing):
        text = strip(text).strip()
    return text


def _leading(text: str) -> str:
    if text and unicodedata.category(text[0]) == "Sc":
        return text[1:]
    if _CODE.fullmatch(text[:3]) and not text[3:4].isalpha():
        return text[3:]
    return text


def _trailing(text: str) -> str:
    if text and unicodedata.category(text[-1]) == "Sc":
        return text[:-1]
    if _CODE.fullmatch(text[-3:]) and not text[-4:-3].isalpha():
        return text[:-3]
    return text


def format_amount(cents: int, currency: str) -> str:
    """``$450``, ``$1,200.50``."""
    whole, rest = divmod(cents, 100)
    return f"{currency}{whole:,}" + (f".{rest:02d}" if rest else "")


@dataclass(frozen=True, slots=True)
class LeadStep:
    """What an owner asked: ``step`` (booked, won, lost) on thread ``thread_id``."""

    thread_id: int
    step: str
    cents: int | None = None  # the job's value, if they gave one (BOOKED, WON)
    reason: str | None = None  # why it was lost, if they said (LOST)


@dataclass(frozen=True, slots=True)
class LeadState:
    """Where a lead is: its latest step, the latest amount entered, the reason it was lost."""

    step: str | None = None
    cents: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """What a step did: ``recorded`` (``after`` is the new state), ``unchanged``
    or ``refused``. ``closed``: the step marked an open thread handled."""

    outcome: Literal["recorded", "unchanged", "refused"]
    before: LeadState
    after: LeadState
    closed: bool = False


def decide(before: LeadState, step: LeadStep) -> Transition:
    """The rules in the module's docstring."""
    if before.step == WON and step.step == BOOKED:
        return Transition("refused", before, before)
    cents = step.cents if step.cents is not None else before.cents
    reason = None
    if step.step == LOST:
        reason = step.reason
        if reason is None and before.step == LOST:
            reason = before.reason  # LOST again, saying nothing new
    after = LeadState(step.step, cents, reason)
    return Transition("unchanged" if after == before else "recorded", before, after)


def fold(steps: list[tuple[str, int | None, str | None]]) -> LeadState:
    """A lead's state from its recorded steps (step, cents, reason), oldest first."""
    state = LeadState()
    for step, cents, reason in steps:
        state = LeadState(step, cents if cents is not None else state.cents, reason)
    return state


def confirmation(
    transition: Transition, thread_id: int, who: str, currency: str, *, recorder: str = ""
) -> str:
    """The words back to whoever sent the step (one text: short)."""
    before, after = transition.before, transition.after
    head = f"#{thread_id} {who}"
    if transition.outcome == "refused":
        return (
            f"{head} is already won{_amount(before, currency)}: nothing changed."
            f" WON {thread_id} 500 changes the amount; LOST {thread_id} if it fell through."
        )
    if transition.outcome == "unchanged":
        return f"{head} is already {after.step}{_amount(after, currency)}: nothing changed."
    words = f"{head} {after.step}{_amount(after, currency)}"
    if after.step == LOST and after.reason:
        words += f": {after.reason}"
    if before.step is None and after.step == WON:
        words += " (booked and won at once)"
    elif before.step in (WON, LOST) and before.step != after.step:
        words += f" (it was {before.step})"
    elif before.step == after.step and before.cents is not None and before.cents != after.cents:
        words += f" (was {format_amount(before.cents, currency)})"
    if transition.closed:
        words += " - marked handled"
    return words + (f" by {recorder}" if recorder else "") + "."


def _amount(state: LeadState, currency: str) -> str:
    if state.cents is None or state.step == LOST:
        return ""
    return f" at {format_amount(state.cents, currency)}"


def lost_reason(text: str) -> str | None:
    """What an owner said after LOST N, one printable line, or None."""
    said = " ".join(text.split())
    return printable(said, REASON_LIMIT) if said else None


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """One lead as the report reads it (bridge.followup.report)."""

    thread_id: int
    line: str | None
    missed_at: datetime  # its first missed call
    texted: bool  # a text-back went (sent or delivered)
    replied: bool  # the homeowner answered it
    # The PBX saw a call-back talked on, or the caller reached on a later call.
    called_back_at: datetime | None
    handled: bool  # ever marked handled (by an owner, the office or the PBX)
    booked: bool  # ever booked (BOOKED, or WON)
    state: LeadState


def recovered(state: LeadState, handled: bool) -> bool:
    """A lead won back: booked or won, else handled - never a lost one."""
    if state.step == LOST:
        return False
    return state.step in (BOOKED, WON) or handled


def value(state: LeadState, average_job_value: float) -> tuple[float, bool]:
    """What a recovered lead is worth, and whether an owner entered it (else
    the configured average)."""
    if state.cents is not None:
        return state.cents / 100, True
    return average_job_value, False
