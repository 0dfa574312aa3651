"""Several owner SMS alerts due at once, as one text: in a storm the modem's
few sends a minute go to text-backs, and an owner's alerts pile up meanwhile.

    textback: 3 missed calls, 1 reply: #12 (512) 555-0142 2:04 PM; ...;
    #15 (512) 555-0199 replied 2:09 PM: need a quote. +2 more to follow.
    Reply '12 your text' to text one, 'CALLED 12' when handled.

At most MAX_ITEMS alerts and MAX_PARTS SMS parts in one text; what does not
fit stays queued for the next one ("+N more to follow"), so every alert a
batch carries is one the owner has read. An urgent reply is never batched:
it goes alone, as it was worded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from bridge.alerts.wording import REPLIED, URGENT, local_time
from bridge.config import Config
from bridge.core import templates
from bridge.core.alerts import AlertBatch, CarriedAlert
from bridge.core.numbers import display

MAX_ITEMS = 5
MAX_PARTS = 3  # 459 GSM-7 characters: longer, and phones show it piecemeal
_NOUNS = {"missed_call": ("missed call", "missed calls"), "reply": ("reply", "replies"),
          "reminder": ("reminder", "reminders")}  # fmt: skip


def batchable(alert: CarriedAlert) -> bool:
    return not alert.subject.startswith(URGENT) and alert.thread_id is not None


def batch(config: Config, due: Sequence[CarriedAlert]) -> AlertBatch | None:
    """One text for the first of ``due`` that fit; None when fewer than two do."""
    items = [a for a in due if batchable(a)][:MAX_ITEMS]
    while len(items) >= 2:
        body = _words(config, items, left=len([a for a in due if batchable(a)]) - len(items))
        size = templates.sms_size(body)
        if size.parts <= MAX_PARTS:
            return AlertBatch(body, size.parts, tuple(a.text_id for a in items))
        items.pop()
    return None


def _words(config: Config, items: Sequence[CarriedAlert], *, left: int) -> str:
    counts = Counter(a.kind for a in items)
    heads = [f"{n} {_NOUNS.get(kind, (kind, kind))[n > 1]}" for kind, n in sorted(counts.items())]
    zone = ZoneInfo(config.business.timezone)
    lines = "; ".join(_item(config, a, zone) for a in items)
    more = f" +{left} more to follow." if left else ""
    first = items[0].thread_id
    return (
        f"textback: {', '.join(heads)}: {lines}.{more}"
        f" Reply '{first} your text' to text one, 'CALLED {first}' when handled."
    )


def _item(config: Config, alert: CarriedAlert, zone: ZoneInfo) -> str:
    who = display(alert.caller or "", config.business.region) if alert.caller else "unknown"
    when = local_time(alert.at, zone, "%I:%M %p").lstrip("0")
    line = f"#{alert.thread_id} {who}"
    if alert.kind == "reply":
        said = _shortened(alert.subject.partition(REPLIED)[2], 40)
        return f"{line} replied {when}" + (f": {said}" if said else "")
    if alert.kind == "reminder":
        return f"{line} waiting since before {when}"
    return f"{line} {when}"


def _shortened(words: str, limit: int) -> str:
    """Cut at a word, with "..." (an ellipsis character would make it UCS-2: half the room)."""
    words = words.rstrip("…")
    if len(words) <= limit:
        return words
    return words[:limit].rsplit(" ", 1)[0] + "..."
