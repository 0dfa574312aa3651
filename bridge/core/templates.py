"""The text a missed caller gets: templates, business hours, and what it costs in SMS parts.

Pure functions. Placeholders are ``{business}``, ``{owner}`` and ``{line}``,
plain only: no format spec, conversion, attribute or index (``{business:>5000}``
would pad one text to 34 parts). Config validation rejects anything else, and
:func:`render` substitutes names itself instead of calling ``str.format``, so a
spec is never interpreted at send time either.
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
_GSM7 = _GSM7_BASIC | _GSM7_EXTENDED


class NotPlainPlaceholder(ValueError):
    """A ``{...}`` field that is more than a name."""


def placeholders_in(template: str) -> set[str]:
    """Every ``{name}`` the template uses. Raises ValueError on a broken brace,
    NotPlainPlaceholder on a field with a spec, conversion, attribute or index."""
    return {name for _, name in _pieces(template) if name is not None}


def render(template: str, *, business: str, owner: str, line: str) -> str:
    values = {"business": business, "owner": owner, "line": line}
    return "".join(
        literal + (values[name] if name is not None else "") for literal, name in _pieces(template)
    )


def _pieces(template: str) -> list[tuple[str, str | None]]:
    """``template`` as (literal text, placeholder name or None) pairs; ``{{`` is a brace."""
    pieces = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if name is not None:
            _check_plain(name, spec or "", conversion)
        pieces.append((literal, name))
    return pieces


def _check_plain(name: str, spec: str, conversion: str | None) -> None:
    field = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
    field += "}"
    if spec:
        what = "a format spec"
    elif conversion:
        what = "a conversion"
    elif "." in name or "[" in name:
        what = "an attribute or index"
    else:
        return
    raise NotPlainPlaceholder(
        f"{field} has {what}: only plain placeholders are allowed ({{business}}, {{owner}},"
        " {line})"
    )


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets, or UTF-16 code units
    parts: int


def sms_size(text: str) -> SmsSize:
    """How a modem will send ``text``: alphabet, length, and concatenated parts."""
    # By the set of characters (C speed), not one at a time: every text-back's
    # body is sized as its decision is committed.
    chars = set(text)
    if chars <= _GSM7:
        septets = len(text) + sum(text.count(ch) for ch in chars & _GSM7_EXTENDED)
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
