"""The words of owner alerts: emails (plain text and HTML) and short texts.

Pure. Caller-supplied text reaches every alert: it is kept out of email
headers (one line, control characters removed; the email library also refuses
line breaks in headers), HTML-escaped in the HTML part, and flattened to
printable text in SMS alerts.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bridge.alerts.audience import News, Route, routes
from bridge.config import Channel, Config, OwnerConfig
from bridge.core import templates
from bridge.core.alerts import AlertDraft, AlertEvent
from bridge.core.callbacks import clock_time
from bridge.core.ledger import LOST, LeadState, format_amount, recovered, value
from bridge.core.numbers import display
from bridge.core.threads import ThreadEvent, ThreadSummary
from bridge.core.urgency import is_urgent

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]+")
_QUOTE_LIMIT = 2000  # a homeowner's reply quoted in an email body
REPLIED = " - replied: "  # in a reply's subject, before its words (bridge.alerts.batch reads them)
URGENT = "URGENT - "  # an urgent reply's subject starts so


def message_domain(config: Config) -> str:
    """The domain of alert emails' Message-IDs: the sender's."""
    sender = config.smtp.sender if config.smtp else "textback@localhost"
    return sender.rsplit("@", 1)[-1].strip("> ") or "localhost"


def one_line(text: str, limit: int) -> str:
    """Untrusted text made fit for a header, a subject or a text: one line, bounded."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def quoted(text: str, limit: int = _QUOTE_LIMIT) -> str:
    """Untrusted text for an email body: its line breaks kept (indented under
    the quote), every other control character - ESC, BEL, a lone CR - gone."""
    lines = _CONTROL_BUT_LINE_BREAKS.sub(" ", text.replace("\r\n", "\n")).strip()
    if len(lines) > limit:
        lines = lines[: limit - 1].rstrip() + "…"
    return '"' + "\n   ".join(line.rstrip() for line in lines.split("\n")) + '"'


def for_event(
    config: Config,
    event: AlertEvent,
    history: Sequence[ThreadEvent],
    *,
    channels: frozenset[Channel],
) -> list[AlertDraft]:
    """The alerts a missed call or a reply calls for, one per owner and channel."""
    urgent = event.kind == "reply" and is_urgent(event.text, config.follow_up.urgent_words)
    news: News = "missed_call" if event.kind == "missed_call" else "reply"
    chosen = routes(config, news, event.line, _moment(event.at), channels=channels, urgent=urgent)
    who = display(event.caller, config.business.region)
    t = event.thread_id
    zone = ZoneInfo(config.business.timezone)
    when = local_time(event.at, zone)
    if event.kind == "missed_call" and event.unsure:
        subject = f"Possibly missed call from {who} - textback could not see how it ended"
        reason = event.text.strip(" -")
        on = _line_name(config, event.line)
        lines = [
            f"{who} called {on} at {when}, and textback could not see how the call ended"
            f" ({reason}).",
            "Nobody was texted. Call them back to be sure nobody is left waiting.",
        ]
        text = (
            f"#{t} Possibly missed call from {who} at {when} (textback could not see it end)."
            f" Call them: {event.caller}. 'CALLED {t}' when done."
        )
    elif event.kind == "missed_call":
        outcome = "texted back" if event.texted else f"not texted: {event.skip or 'no text'}"
        again = _repeats(event, zone)
        subject = f"Missed call from {who}{again} - {outcome}"
        reason = event.text.strip(" -")
        on = _line_name(config, event.line)
        lines = [f"Missed call from {who} on {on} at {when} ({reason}){again}."]
        if event.texted:
            lines.append(f"We texted them: {quoted(event.texted)}")
        else:
            lines.append(f"No text went out ({event.skip or 'texting is off'}).")
        said = "texted them" if event.texted else "no text went out"
        text = (
            f"#{t} Missed call from {who} at {when}{again}, {said}."
            f" Reply '{t} your text' to text them, 'CALLED {t}' when handled."
        )
    else:
        subject = f"Missed call from {who}{REPLIED}{one_line(event.text, 60)}"
        if urgent:
            subject = URGENT + subject
        lines = [f"{who} replied (thread #{t}) at {when}:", f"  {quoted(event.text)}"]
        # What the homeowner and the business said; alerts about it are noise.
        history = [e for e in history if e.kind != "alert"]
        if history:
            lines += ["", "The conversation so far:"]
            lines += [
                f"  {local_time(e.at, zone)}  {e.what}: {one_line(e.text, 200)}" for e in history
            ]
        text = f"#{t} {who}: {one_line(event.text, 200)} - reply '{t} your text' to answer"
        if urgent:
            text = f"URGENT {text}. Call them: {event.caller}"
    return _drafts(chosen, subject, lines, who, event.caller, t, text)


def _repeats(event: AlertEvent, zone: ZoneInfo) -> str:
    """`` - called 3 times since 2:04 pm`` when the caller has rung before."""
    if event.calls < 2 or event.first_call_at is None:
        return ""
    try:
        first = datetime.fromisoformat(event.first_call_at).astimezone(zone)
        last = datetime.fromisoformat(event.at).astimezone(zone)
    except ValueError:
        return f" - called {event.calls} times"
    day = "" if first.date() == last.date() else f"{first:%a} "
    return f" - called {event.calls} times since {day}{clock_time(first, zone)}"


def reminder(
    config: Config,
    thread: ThreadSummary,
    waiting_since: str,
    now: datetime,
    *,
    channels: frozenset[Channel],
) -> list[AlertDraft]:
    """One call-back task for a thread nobody has moved on."""
    chosen = routes(config, "reminder", thread.line, now, channels=channels)
    who = display(thread.caller, config.business.region)
    t = thread.id
    since = local_time(waiting_since, ZoneInfo(config.business.timezone))
    # A call-back nobody took (docs/detection.md): the reminder says it was tried.
    attempt = one_line(thread.last_call_back, 120) if thread.last_call_back else ""
    already, tried = ([f"Already {attempt}."], f"; {attempt}") if attempt else ([], "")
    if thread.status == "replied":
        subject = f"Reminder: {who} replied and is waiting for an answer"
        lines = [
            f"{who} replied at {since} and nobody has answered yet (thread #{t}):",
            f"  {quoted(thread.last_reply or '')}",
            *already,
        ]
        text = (
            f"#{t} Reminder: {who} is waiting for an answer since {since}{tried}."
            f" Call them: {thread.caller}. Reply '{t} your text', or 'CALLED {t}'."
        )
    else:
        subject = f"Reminder: call back {who} - no reply since {since}"
        if thread.status == "new":  # no text went out: only a call-back reaches them
            first = f"{who} called at {since} and no text went out (thread #{t})."
        else:
            first = f"{who} has not answered our text sent at {since} (thread #{t})."
        lines = [first, *already, "Call them back before they call someone else."]
        text = (
            f"#{t} Reminder: call back {who} (no reply since {since}{tried}): {thread.caller}."
            f" 'CALLED {t}' when done."
        )
    return _drafts(chosen, subject, lines, who, thread.caller, t, text)


def _drafts(
    chosen: Sequence[Route],
    subject: str,
    lines: list[str],
    who: str,
    caller: str,
    thread: int,
    text: str,
) -> list[AlertDraft]:
    tel = f"tel:{caller}"
    body_text = "\n".join([*lines, "", f"Call them back: {tel}", f"Thread #{thread} - textback"])
    body_html = (
        "<html><body>"
        + "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
        + f'<p><a href="{html.escape(tel)}">Call {html.escape(who)} back</a></p>'
        + f"<p>Thread #{thread} - textback</p></body></html>"
    )
    parts = templates.sms_size(text).parts
    short = one_line(subject, 120)
    drafts = []
    for route in chosen:
        owner = route.owner
        if route.channel == "email" and owner.email:
            drafts.append(AlertDraft(owner.id, "email", owner.email, short, body_text, body_html))
        elif route.channel == "sms" and owner.mobile:
            drafts.append(AlertDraft(owner.id, "sms", owner.mobile, short, text, None, parts))
    return drafts


def digest(
    config: Config,
    owner: OwnerConfig,
    day: date,
    open_threads: Sequence[ThreadSummary],
    handled: Sequence[ThreadSummary],
    ledger: Mapping[int, LeadState] | None = None,
) -> AlertDraft | None:
    """The morning email: every open thread, and yesterday's handled leads -
    recovered (with their worth, as `textback report` counts it:
    bridge.core.ledger) or lost. None when there is nothing (a new install, a
    quiet week): no empty email."""
    if owner.email is None or config.smtp is None or not (open_threads or handled):
        return None
    states = ledger or {}
    won = [t for t in handled if recovered(states.get(t.id, LeadState()), True)]
    lost = [t for t in handled if t not in won]
    zone = ZoneInfo(config.business.timezone)
    subject = f"textback {day:%a %b %d}: {len(open_threads)} open, {len(won)} recovered yesterday"
    home = config.business.region
    worth = _worth(config, [states.get(t.id, LeadState()) for t in won])
    lines = [f"Open conversations ({len(open_threads)}):"]
    lines += [_digest_line(t, zone, home) for t in open_threads] or ["  none - all caught up"]
    lines += ["", f"Recovered yesterday ({len(won)}{worth}):"]
    lines += [_step_line(t, states, config, home) for t in won] or ["  none"]
    if lost:
        lines += ["", f"Lost yesterday ({len(lost)}):"]
        lines += [_step_line(t, states, config, home) for t in lost]
    items = "".join(
        f'<li>#{t.id} <a href="tel:{html.escape(t.caller)}">'
        f"{html.escape(display(t.caller, home))}</a>"
        f" - {html.escape(t.status.replace('_', ' '))}"
        + (f": {html.escape(one_line(t.last_reply, 120))}" if t.last_reply else "")
        + "</li>"
        for t in open_threads
    )
    done = "".join(
        f"<li>{html.escape(_step_line(t, states, config, home).strip())}</li>" for t in won
    )
    gone = "".join(
        f"<li>{html.escape(_step_line(t, states, config, home).strip())}</li>" for t in lost
    )
    body_html = (
        f"<html><body><h3>Open conversations ({len(open_threads)})</h3><ul>{items}</ul>"
        f"<h3>Recovered yesterday ({len(won)}{html.escape(worth)})</h3><ul>{done}</ul>"
        + (f"<h3>Lost yesterday ({len(lost)})</h3><ul>{gone}</ul>" if lost else "")
        + "</body></html>"
    )
    return AlertDraft(owner.id, "email", owner.email, subject, "\n".join(lines), body_html)


def _worth(config: Config, states: Sequence[LeadState]) -> str:
    """``, $1,300``: what they are worth - the amounts entered, else the average."""
    business = config.business
    if not states or (business.average_job_value == 0 and all(s.cents is None for s in states)):
        return ""
    total = sum(value(state, business.average_job_value)[0] for state in states)
    return f", {business.currency}{total:,.0f}"


def _step_line(
    thread: ThreadSummary, states: Mapping[int, LeadState], config: Config, home: str
) -> str:
    """``  #12 (512) 555-0142 - booked $450``."""
    state = states.get(thread.id, LeadState())
    line = f"  #{thread.id} {display(thread.caller, home)}"
    if state.step is None:
        return line
    said = state.reason
    if state.cents is not None and state.step != LOST:
        said = format_amount(state.cents, config.business.currency)
    return f"{line} - {state.step}" + (f" {one_line(said, 60)}" if said else "")


def _digest_line(thread: ThreadSummary, zone: ZoneInfo, home: str) -> str:
    urgent = "URGENT " if thread.urgent else ""
    said = f': "{one_line(thread.last_reply, 80)}"' if thread.last_reply else ""
    status = thread.status.replace("_", " ")
    since = local_time(thread.last_activity_at, zone)
    who = display(thread.caller, home)
    return f"  {urgent}#{thread.id} {who} ({status} since {since}){said} tel:{thread.caller}"


def _line_name(config: Config, did: str | None) -> str:
    line = config.line_for(did)
    return line.name if line else (display(did, config.business.region) if did else "your number")


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def local_time(iso: str, zone: ZoneInfo, layout: str = "%a %b %d %I:%M %p") -> str:
    """A stored (UTC) timestamp as the office reads it: in the business's zone."""
    try:
        moment = datetime.fromisoformat(iso).astimezone(zone)
    except ValueError:
        return iso
    return moment.strftime(layout).replace(" 0", " ")


class OwnerWording:
    """The reminder and digest words for follow-up (bridge.followup), with the
    config and the channels that exist bound in."""

    def __init__(self, config: Config, channels: frozenset[Channel]):
        self._config = config
        self._channels = channels
        self.domain = message_domain(config)

    def reminder(self, thread: ThreadSummary, since: str, now: datetime) -> list[AlertDraft]:
        return reminder(self._config, thread, since, now, channels=self._channels)

    def digest(
        self,
        owner: OwnerConfig,
        day: date,
        open_threads: Sequence[ThreadSummary],
        handled: Sequence[ThreadSummary],
        ledger: Mapping[int, LeadState] | None = None,
    ) -> AlertDraft | None:
        return digest(self._config, owner, day, open_threads, handled, ledger)
