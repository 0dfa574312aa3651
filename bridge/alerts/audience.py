"""Who hears about what, and how: the line's owners, the line's business
hours at the moment it happened, and each owner's own rules. Pure."""

from __future__ import annotations

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
    channels: frozenset[Channel],
    urgent: bool = False,
) -> list[Route]:
    """Every (owner, channel) that should carry ``news`` about a call to ``line_did``.

    ``channels`` are those that exist: email with an ``smtp`` section, sms
    with a transport to text through. An urgent reply adds an SMS page to
    whoever is on call, whatever the hours and rules.
    """
    line = config.line_for(line_did)
    is_open = config.opening_hours(line).is_open(at)
    chosen: list[Route] = []
    for owner in config.owners_of(line):
        rules = owner.alerts.business_hours if is_open else owner.alerts.after_hours
        chosen += [
            Route(owner, channel)
            for channel in getattr(rules, news)
            if channel in channels and _reachable(owner, channel)
        ]
    if urgent and "sms" in channels:
        chosen += [
            Route(owner, "sms")
            for owner in on_call(config, line)
            if owner.mobile and Route(owner, "sms") not in chosen
        ]
    return chosen


def on_call(config: Config, line: LineConfig | None) -> list[OwnerConfig]:
    """Owners marked on call; when none is, the line's owners."""
    return [o for o in config.owners if o.on_call] or config.owners_of(line)


def _reachable(owner: OwnerConfig, channel: Channel) -> bool:
    return (owner.email if channel == "email" else owner.mobile) is not None
