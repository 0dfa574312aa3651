"""Phone numbers as the PBX reports them, normalised to E.164 with phonenumbers.

The PBX may send ``5125550100``, ``15125550100`` or ``+15125550100`` for the
same line; everything that compares or stores a number goes through
:func:`to_e164` so they all meet.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from bridge.core.safe_text import printable

# What carriers and Asterisk put in CallerIDNum when the caller hides it.
_WITHHELD = frozenset(
    {
        "",
        "anonymous",
        "unknown",
        "<unknown>",
        "restricted",
        "private",
        "unavailable",
        "withheld",
        "blocked",
        "no caller id",
    }
)


def is_withheld(raw: str | None) -> bool:
    """True for an absent or deliberately hidden caller ID."""
    return raw is None or raw.strip().lower() in _WITHHELD


# phonenumbers takes tens of microseconds to parse a number, and a call's
# numbers are read many times over (the caller and the line at each decision,
# its log lines, the outbox's, the owners' alert, each reply): the pure
# functions below keep their answers for the numbers seen lately.
NUMBERS_KEPT = 4096


@lru_cache(maxsize=NUMBERS_KEPT)
def to_e164(raw: str | None, region: str) -> str | None:
    """E.164 form of ``raw`` if it is a possible public number, else None.

    Short extensions (``201``), service codes (``911``) and text like
    ``anonymous`` give None: they are not numbers a text can go to.
    """
    if raw is None:
        return None
    text = raw.strip()
    if text.lower().startswith(("sip:", "tel:")):
        text = text[4:].split("@", 1)[0]
    if not text or not any(ch.isdigit() for ch in text):
        return None
    number = parsed(text, region)  # a caller ID sent as +E.164 is parsed once, here
    if number is None or not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def dialled_number(raw: str | None, region: str) -> str | None:
    """E.164 form of what a desk phone dialled, however it was written:
    ``5125550142``, ``15125550142``, ``+15125550142``, or behind the trunk
    access code ``9`` (``95125550142``, ``915125550142``); a dial string's
    ``@trunk`` part is dropped. None when it is no public number."""
    if raw is None:
        return None
    text = raw.strip().split("@", 1)[0]
    found = to_e164(text, region)
    if found is None and len(text) > 1 and text.startswith("9") and text[1:].isdigit():
        found = to_e164(text[1:], region)
    return found


def looks_like_extension(raw: str | None, max_digits: int) -> bool:
    """A short all-digit number such as a desk phone's ``201``."""
    if not raw:
        return False
    text = raw.strip()
    return text.isdigit() and len(text) <= max_digits


def parsed(number: str, region: str | None = None) -> phonenumbers.PhoneNumber | None:
    """``number`` as phonenumbers reads it (``region``: for one written
    without its country code), or None if it is no number. Shared by every
    check of a number: one parse each. Never change what it returns."""
    return _parsed(number, None if number.startswith("+") else region)


@lru_cache(maxsize=NUMBERS_KEPT)
def _parsed(number: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


@lru_cache(maxsize=NUMBERS_KEPT)
def display(e164: str | None, home: str) -> str:
    """A number as someone in the ``home`` region reads and dials it: its
    national form, ``(512) 555-0142``, for a number of that country; the
    international one, ``+44 20 7183 8750``, for any other."""
    if e164 is None:
        return "withheld"
    number = parsed(e164)
    if number is None:
        return e164
    local = number.country_code == phonenumbers.country_code_for_region(home)
    form = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if local
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, form)


def caller_label(
    e164: str | None, raw: str, home: str, *, withheld: bool, desk: bool = False
) -> str:
    """Who called, as a person reads it: the number, "withheld", a ``desk``
    phone's extension, or - for a caller ID that is no phone number (a short
    code, letters) - saying so."""
    if e164 is not None:
        return display(e164, home)
    if desk:
        return printable(raw, 40)
    if withheld or not raw.strip():
        return "withheld"
    return f"not a callable number ({printable(raw, 40)})"
