"""The text a missed caller gets: templates, business hours, and what it costs in SMS parts.

Pure functions. Placeholders are ``{business}``, ``{owner}`` and ``{line}``;
config validation rejects any other, so rendering cannot fail at send time.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PLACEHOLDERS = frozenset({"business", "owner", "line"})

DEFAULT_BUSINESS_HOURS = (
    "Sorry we missed your call - this is {owner} at {business}. What can we help with? "
    "Reply here and we'll get right back to you."
)
DEFAULT_AFTER_HOURS = (
    "Sorry we missed your call - this is {owner} at {business}. We're closed now; "
    "reply with what you need and we'll call you first thing."
)
DEFAULT_FOOTER = "Reply STOP to opt out."
DEFAULT_NUDGE = (
    "Hi, {owner} at {business} again - still need a hand? Reply here any time and we'll"
    " take it from there."
)

# GSM 03.38: the default alphabet, and the extension table (two septets each).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def placeholders_in(template: str) -> set[str]:
    """Every ``{name}`` the template uses (raises ValueError on a broken brace)."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def render(template: str, *, business: str, owner: str, line: str) -> str:
    return template.format(business=business, owner=owner, line=line)


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets, or UTF-16 code units
    parts: int


def sms_size(text: str) -> SmsSize:
    """How a modem will send ``text``: alphabet, length, and concatenated parts."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        septets = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        parts = 1 if septets <= 160 else math.ceil(septets / 153)
        return SmsSize("GSM-7", septets, parts)
    units = len(text.encode("utf-16-le")) // 2  # an emoji is two units
    parts = 1 if units <= 70 else math.ceil(units / 67)
    return SmsSize("UCS-2", units, parts)


# ------------------------------------------------------------------ business hours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class OpeningHours:
    """Per weekday (0 = Monday) a list of open intervals; holidays closed all day."""

    week: tuple[tuple[tuple[time, time], ...], ...]
    holidays: frozenset[date]
    zone: ZoneInfo

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.week[local.weekday()])


def parse_hours(spec: Mapping[str, str], holidays: Iterable[date], zone: str) -> OpeningHours:
    """``{"mon-fri": "08:00-17:00", "sat": "09:00-12:00", "sun": "closed"}``.

    Raises ValueError naming the key that is wrong.
    """
    week: list[list[tuple[time, time]]] = [[] for _ in DAYS]
    for key, value in spec.items():
        days = _days(key)
        intervals = [] if value.strip().lower() == "closed" else _intervals(key, value)
        for day in days:
            week[day] = intervals
    return OpeningHours(tuple(tuple(day) for day in week), frozenset(holidays), ZoneInfo(zone))


def _days(key: str) -> list[int]:
    text = key.strip().lower()
    if "-" in text:
        first, _, last = text.partition("-")
        if first in DAYS and last in DAYS and DAYS.index(first) <= DAYS.index(last):
            return list(range(DAYS.index(first), DAYS.index(last) + 1))
    elif text in DAYS:
        return [DAYS.index(text)]
    raise ValueError(f"{key!r} is not a day or range of days such as mon or mon-fri")


def _intervals(key: str, value: str) -> list[tuple[time, time]]:
    out = []
    for piece in value.split(","):
        start_text, sep, end_text = piece.strip().partition("-")
        try:
            start, end = (
                time.fromisoformat(start_text.strip()),
                time.fromisoformat(end_text.strip()),
            )
        except ValueError:
            start = end = time(0)
            sep = ""
        if not sep or start >= end:
            raise ValueError(
                f"{key}: expected opening hours such as 08:00-17:00 or closed, got {value!r}"
            )
        out.append((start, end))
    return out
