"""Whether a missed call may be texted back: pure rules, one reason each.

Checked once before a text is queued and again just before it is sent (an
opt-out may arrive in between). Every "no" is stored with its reason.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.numbers import NUMBERS_KEPT, parsed
from bridge.core.texts import History


class Skip(StrEnum):
    """Why a missed call is not texted."""

    NOT_MISSED = "not-missed"
    WITHHELD = "withheld"
    NOT_A_NUMBER = "not-a-callable-number"  # caller ID that is no phone number (12345, abc)
    NOT_TEXTABLE = "not-a-textable-number"  # not a valid number in our country
    SHORT_OR_EMERGENCY = "short-code-or-emergency"
    PREMIUM = "premium-or-shared-cost"
    OWN_NUMBER = "own-line-or-owner"
    BLOCKLISTED = "blocklisted"
    NOT_ALLOWLISTED = "not-allowlisted"
    VOICEMAIL = "left-a-voicemail"
    OPTED_OUT = "opted-out"
    COOLDOWN = "texted-recently"
    HOURLY_CAP = "hourly-cap"
    BURST_CAP = "burst-cap"  # more text-backs in a minute than any office's calls make


_TEXTABLE_TYPES = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.FIXED_LINE,  # many landlines take texts (as speech, or via the carrier)
        PhoneNumberType.VOIP,
    }
)
_PREMIUM_TYPES = frozenset(
    {PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.UAN}
)


@dataclass(frozen=True, slots=True)
class TextPolicy:
    region: str
    own_numbers: frozenset[str]  # the business's lines and owners' mobiles, E.164
    blocklist: frozenset[str] = frozenset()
    allowlist: frozenset[str] = frozenset()  # empty: everyone allowed
    text_voicemail_callers: bool = True
    cooldown: timedelta = timedelta(hours=12)
    max_per_hour: int = 300
    max_per_minute: int = 20


def number_problem(e164: str, policy: TextPolicy) -> Skip | None:
    """Why this number cannot take a text from us, or None if it can."""
    return _number_problem(e164, policy.region)


@lru_cache(maxsize=NUMBERS_KEPT)
def _number_problem(e164: str, region: str) -> Skip | None:
    # A number's own kind never changes: phonenumbers' checks (tens of
    # microseconds each) are kept for the numbers seen lately.
    if shortnumberinfo.is_emergency_number(e164, region):
        return Skip.SHORT_OR_EMERGENCY
    number = parsed(e164, region)
    if number is None:
        return Skip.NOT_TEXTABLE
    # A number is valid exactly when phonenumbers finds its type: one look
    # at its patterns, not two (is_valid_number, then number_type).
    kind = phonenumbers.number_type(number)
    if kind is PhoneNumberType.UNKNOWN:
        if shortnumberinfo.is_possible_short_number(number):
            return Skip.SHORT_OR_EMERGENCY
        return Skip.NOT_TEXTABLE
    if number.country_code != phonenumbers.country_code_for_region(region):
        return Skip.NOT_TEXTABLE  # abroad: costly, and not who a local contractor serves
    if kind in _PREMIUM_TYPES:
        return Skip.PREMIUM
    if kind not in _TEXTABLE_TYPES:
        return Skip.NOT_TEXTABLE
    return None


def check(
    decision: CallDecision, policy: TextPolicy, history: History, now: datetime
) -> Skip | None:
    """None: text this caller back. Otherwise the first reason not to."""
    if decision.outcome is not Outcome.MISSED:
        return Skip.NOT_MISSED
    if decision.caller is None:
        return Skip.WITHHELD if decision.withheld else Skip.NOT_A_NUMBER
    return check_number(
        decision.caller,
        policy,
        history,
        now,
        left_voicemail=decision.reason is Reason.VOICEMAIL and bool(decision.voicemail_left),
    )


def check_number(
    number: str,
    policy: TextPolicy,
    history: History,
    now: datetime,
    *,
    left_voicemail: bool = False,
) -> Skip | None:
    """The rules that depend on the number and history alone (also run at send time)."""
    problem = number_problem(number, policy)
    if problem is not None:
        return problem
    if number in policy.own_numbers:
        return Skip.OWN_NUMBER
    if number in policy.blocklist:
        return Skip.BLOCKLISTED
    if policy.allowlist and number not in policy.allowlist:
        return Skip.NOT_ALLOWLISTED
    if history.opted_out:
        return Skip.OPTED_OUT
    if left_voicemail and not policy.text_voicemail_callers:
        return Skip.VOICEMAIL
    if history.last_textback_at is not None and now - history.last_textback_at < policy.cooldown:
        return Skip.COOLDOWN
    if history.textbacks_last_minute >= policy.max_per_minute:
        return Skip.BURST_CAP
    if history.textbacks_last_hour >= policy.max_per_hour:
        return Skip.HOURLY_CAP
    return None


def own_numbers(lines: Collection[str], mobiles: Collection[str | None]) -> frozenset[str]:
    return frozenset(lines) | frozenset(m for m in mobiles if m)
