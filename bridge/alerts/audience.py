"""Who hears about what, and how: the line's owners, the line's business
hours at the moment it happened, and each owner's own rules. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bridge.config import Channel, Config, LineConfig, OwnerConfig

News = Literal["missed_call", "reply", "reminder"]


@dataclass(frozen=True, slots=True)
class Route:
    owner: OwnerConfig
    channel: Channel


def routes(
    config: Config,
    news: News,
    line_did: str | None,
    at: datetime,
    *,
    sms: bool,
    urgent: bool = False,
) -> list[Route]:
    """Every (owner, channel) that should carry ``news`` about a call to ``line_did``.

    ``sms`` says whether texts can go out at all; email needs ``smtp`` in the
    config. An urgent reply adds an SMS page to whoever is on call, whatever
    the hours and rules.
    """
    line = config.line_for(line_did)
    is_open = config.opening_hours(line).is_open(at)
    chosen: list[Route] = []
    for owner in config.owners_of(line):
        rules = owner.alerts.business_hours if is_open else owner.alerts.after_hours
        chosen += [
            Route(owner, channel)
            for channel in getattr(rules, news)
            if _reachable(config, owner, channel, sms=sms)
        ]
    if urgent and sms:
        chosen += [
            Route(owner, "sms")
            for owner in on_call(config, line)
            if owner.mobile and Route(owner, "sms") not in chosen
        ]
    return chosen


def on_call(config: Config, line: LineConfig | None) -> list[OwnerConfig]:
    """Owners marked on call; when none is, the line's owners."""
    return [o for o in config.owners if o.on_call] or config.owners_of(line)


def _reachable(config: Config, owner: OwnerConfig, channel: Channel, *, sms: bool) -> bool:
    if channel == "email":
        return owner.email is not None and config.smtp is not None
    return owner.mobile is not None and sms


def is_urgent(text: str, words: Iterable[str]) -> bool:
    """Whether a reply reads as an emergency: any configured word or phrase,
    as whole words, in any case ("Burst pipe!" yes; "gasket" no)."""
    flat = " ".join(re.findall(r"[^\W_]+", text.casefold()))
    return any(
        re.search(rf"(?<!\w){re.escape(' '.join(word.casefold().split()))}(?!\w)", flat)
        for word in words
    )
