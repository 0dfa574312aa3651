"""For a decided call: text the caller back or not, and with what words.

Joins the pure pieces - the policy (bridge.policy) and the templates
(bridge.templates) - with what the config says about the line, its owner and
its opening hours. The daemon stores the result together with the decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.config import Config
from bridge.core import templates
from bridge.core.calls import CallDecision, Outcome
from bridge.core.numbers import display
from bridge.core.texts import History, OutgoingText
from bridge.texting import policy

TOO_LATE = "too-late"  # the call ended longer ago than texting.expire_after_minutes


@dataclass(frozen=True, slots=True)
class Plan:
    """Either a text to queue, or the reason there is none."""

    text: OutgoingText | None
    skip: str | None


def text_policy(config: Config) -> policy.TextPolicy:
    texting = config.texting
    return policy.TextPolicy(
        region=config.business.region,
        own_numbers=policy.own_numbers(
            [line.did for line in config.lines], [owner.mobile for owner in config.owners]
        ),
        blocklist=frozenset(texting.blocklist),
        allowlist=frozenset(texting.allowlist),
        text_voicemail_callers=texting.text_voicemail_callers,
        cooldown=timedelta(hours=texting.cooldown_hours),
        max_per_hour=texting.max_per_hour,
        max_per_minute=texting.max_per_minute,
    )


def compose(config: Config, line_did: str | None, now: datetime, *, first_text: bool) -> str:
    """The text-back for a call to ``line_did`` at ``now``."""
    line = config.line_for(line_did)
    texting = config.texting
    is_open = config.opening_hours(line).is_open(now)
    template = texting.business_hours_template if is_open else texting.after_hours_template
    return fill(config, template, line_did, first_text=first_text)


def fill(config: Config, template: str, line_did: str | None, *, first_text: bool) -> str:
    """``template`` for a call to ``line_did``, with the footer on a first text."""
    line = config.line_for(line_did)
    owner = config.owner_of(line)
    body = templates.render(
        template,
        business=config.business.name,
        owner=owner.name if owner else "the team",
        line=line.name if line else display(line_did, config.business.region),
    )
    if first_text and config.texting.footer:
        body = f"{body} {config.texting.footer}"
    return body


def plan(
    config: Config,
    rules: policy.TextPolicy,
    decision: CallDecision,
    history: History,
    now: datetime,
    *,
    can_send: str | None,
) -> Plan:
    """``can_send`` is None when texts can go out, else why not (dry run, no transport)."""
    if decision.outcome is not Outcome.MISSED:
        return Plan(None, None)
    if not config.texting.enabled:
        return Plan(None, "texting-disabled")
    skip = policy.check(decision, rules, history, now)
    if skip is not None:
        return Plan(None, skip.value)
    if can_send is not None:
        return Plan(None, can_send)
    expires = decision.ended_at + timedelta(minutes=config.texting.expire_after_minutes)
    if now >= expires:
        # A call learnt of late (the PBX's call records, after an outage): a
        # text this long after it would only puzzle the caller.
        return Plan(None, TOO_LATE)
    assert decision.caller is not None  # policy.check refuses withheld callers
    body = compose(config, decision.line, now, first_text=not history.ever_texted)
    return Plan(OutgoingText(decision.caller, body, templates.sms_size(body).parts, expires), None)
