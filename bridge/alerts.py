"""Owner alerts by email: a missed call, and every reply, reach a person.

The worker turns missed calls and replies that nobody has been told about
into queued alerts (store.queue_alerts marks the source in the same
transaction), then sends the queue with aiosmtplib. SMTP being down only
delays alerts - they stay queued and are retried with backoff - and never
touches texting, which runs in its own task.

Caller-supplied text reaches an email: it is kept out of headers (one line,
control characters removed; the email library also refuses line breaks in
headers) and HTML-escaped in the HTML part.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import aiosmtplib

from bridge.config import Config, OwnerConfig, SmtpConfig
from bridge.numbers import display
from bridge.store import AlertDraft, AlertEvent, QueuedAlert, Store, ThreadEvent
from bridge.waiting import woken_or_after

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str, limit: int) -> str:
    """Untrusted text made fit for a header or a subject: one line, bounded."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def recipients(config: Config, line: str | None) -> list[OwnerConfig]:
    """The line's owners; every owner when the line has none."""
    configured = config.line_for(line)
    owners = {owner.id: owner for owner in config.owners}
    chosen = [owners[i] for i in configured.owners] if configured and configured.owners else []
    return chosen or list(config.owners)


def compose(config: Config, event: AlertEvent, history: list[ThreadEvent]) -> list[AlertDraft]:
    """The email for each owner who should hear about ``event``."""
    if config.smtp is None:
        return []
    zone = ZoneInfo(config.business.timezone)
    who = display(event.caller)
    line = config.line_for(event.line)
    line_name = line.name if line else (display(event.line) if event.line else "your number")
    tel = f"tel:{event.caller}"
    when = _local(event.at, zone)
    if event.kind == "missed_call":
        outcome = "texted back" if event.texted else f"not texted: {event.skip or 'no text'}"
        subject = f"Missed call from {who} - {outcome}"
        reason = event.text.strip(" -")
        lines = [f"Missed call from {who} on {line_name} at {when} ({reason})."]
        if event.texted:
            lines.append(f'We texted them: "{event.texted}"')
        else:
            lines.append(f"No text went out ({event.skip or 'texting is off'}).")
    else:
        subject = f"Missed call from {who} - replied: {one_line(event.text, 60)}"
        lines = [f"{who} replied (thread #{event.thread_id}) at {when}:", f'  "{event.text}"']
        if history:
            lines.append("")
            lines.append("The conversation so far:")
            lines.extend(
                f"  {_local(e.at, zone)}  {e.what}: {one_line(e.text, 200)}" for e in history
            )
    lines += ["", f"Call them back: {tel}", f"Thread #{event.thread_id} - textback"]
    body_text = "\n".join(lines)
    body_html = (
        "<html><body>"
        + "".join(f"<p>{html.escape(text)}</p>" for text in lines[:-3] if text)
        + f'<p><a href="{html.escape(tel)}">Call {html.escape(who)} back</a></p>'
        + f"<p>Thread #{event.thread_id} - textback</p></body></html>"
    )
    return [
        AlertDraft(owner.id, "email", owner.email, one_line(subject, 120), body_text, body_html)
        for owner in recipients(config, event.line)
        if owner.email
    ]


def _local(iso: str, zone: ZoneInfo) -> str:
    try:
        moment = datetime.fromisoformat(iso).astimezone(zone)
    except ValueError:
        return iso
    return moment.strftime("%a %b %d %I:%M %p").replace(" 0", " ")


def email_message(alert: QueuedAlert, smtp: SmtpConfig, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = alert.recipient
    message["Subject"] = one_line(alert.subject, 200)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = alert.message_id
    if alert.in_reply_to:
        message["In-Reply-To"] = alert.in_reply_to
        message["References"] = alert.in_reply_to
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
    message["X-Textback-Thread"] = str(alert.thread_id)
    message.set_content(alert.body_text)
    if alert.body_html:
        message.add_alternative(alert.body_html, subtype="html")
    return message


class AlertWorker:
    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Callable[[], datetime],
        poll_every: float = 2.0,
        retry_min: timedelta = timedelta(seconds=30),
        retry_max: timedelta = timedelta(minutes=15),
    ):
        self.config = config
        self.store = store
        self.clock = clock
        self._poll_every = poll_every
        self._retry = (retry_min, retry_max)
        self._wake = asyncio.Event()
        self._smtp_down = False
        sender = config.smtp.sender if config.smtp else "textback@localhost"
        self._domain = sender.rsplit("@", 1)[-1].strip("> ") or "localhost"
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self._queue_new_alerts()
            await self._send_due()
            await woken_or_after(self._wake, self._poll_every)

    async def _queue_new_alerts(self) -> None:
        batch = []
        for event in await self.store.unalerted():
            history: list[ThreadEvent] = []
            if event.kind == "reply" and self.config.smtp is not None:
                found = await self.store.thread(event.thread_id)
                history = found[1] if found else []
            batch.append((event, compose(self.config, event, history)))
        if batch:  # one transaction for all of them: this runs after every decision
            await self.store.queue_alerts(batch, self._domain)

    async def _send_due(self) -> None:
        smtp = self.config.smtp
        if smtp is None:
            return
        for alert in await self.store.due_alerts(self.clock(), "email"):
            message = email_message(alert, smtp, self.clock())
            try:
                await aiosmtplib.send(
                    message,
                    hostname=smtp.host,
                    port=smtp.port,
                    username=smtp.username,
                    password=smtp.password.get_secret_value() if smtp.password else None,
                    use_tls=smtp.security == "tls",
                    start_tls=smtp.security == "starttls",
                    timeout=smtp.timeout,
                )
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc  # a cancel, reported as an error
                delay = min(self._retry[1], self._retry[0] * 2**alert.attempts)
                await self.store.mark_alert(
                    alert.id, "queued", error=str(exc), retry_at=self.clock() + delay
                )
                if not self._smtp_down:
                    self._smtp_down = True
                    log.warning("cannot email owner alerts (they wait and retry): %s", exc)
                return  # the server is down for the rest of the queue too
            await self.store.mark_alert(alert.id, "sent")
            self.sent += 1
            if self._smtp_down:
                self._smtp_down = False
                log.info("emailing owner alerts again")
