"""Owner alerts: a missed call, and every reply, reach a person.

The worker turns missed calls and replies that nobody has been told about
into queued alerts (store.queue_alerts marks the source in the same
transaction; SMS alerts go into the outbox there too, for the outbox worker
to send), then emails the queue with aiosmtplib. SMTP being down only delays
emails - they stay queued and are retried with backoff - and never touches
texting, which runs in its own task. The words are bridge.alert_text's.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from bridge.alerts import wording as alert_text
from bridge.alerts.wording import one_line
from bridge.bus import Bus
from bridge.config import Channel, Config, SmtpConfig
from bridge.core.alerts import QueuedAlert
from bridge.core.events import TextQueued
from bridge.core.threads import ThreadEvent
from bridge.store import AlertStore
from bridge.waiting import woken_or_after

log = logging.getLogger(__name__)


# Subjects stay on one line (RFC 5322 allows 998): the library's folding at
# 78 breaks some right after "Subject:", which shows as a leading space.
_POLICY = email.policy.default.clone(max_line_length=200)


def email_message(alert: QueuedAlert, smtp: SmtpConfig, now: datetime) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
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


@contextlib.asynccontextmanager
async def smtp_session(smtp: SmtpConfig) -> AsyncIterator[aiosmtplib.SMTP]:
    """A connection to the mail server, TLS and login done as the config says
    (the password is unwrapped here only); QUIT when all went well."""
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port,
        use_tls=smtp.security == "tls",
        start_tls=smtp.security == "starttls",
        cert_bundle=str(smtp.ca_file) if smtp.ca_file else None,
        timeout=smtp.timeout,
    )
    try:
        await client.connect()
        if smtp.username:
            password = smtp.password.get_secret_value() if smtp.password else ""
            await client.login(smtp.username, password)
        yield client
    except BaseException:
        client.close()  # no QUIT dialogue with a failing server, nor during a cancel
        raise
    with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
        await client.quit()


class AlertWorker:
    def __init__(
        self,
        config: Config,
        store: AlertStore,
        *,
        clock: Callable[[], datetime],
        bus: Bus,
        channels: frozenset[Channel],
        poll_every: float = 2.0,
        retry_min: timedelta = timedelta(seconds=30),
        retry_max: timedelta = timedelta(minutes=15),
    ):
        self.config = config
        self.store = store
        self.clock = clock
        self.channels = channels  # which of email and sms exist
        self._bus = bus
        self._poll_every = poll_every
        self._retry = (retry_min, retry_max)
        self._wake = asyncio.Event()
        self._smtp_down = False
        self._domain = alert_text.message_domain(config)
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
            drafts = alert_text.for_event(self.config, event, history, channels=self.channels)
            batch.append((event, drafts))
        if batch:  # one transaction for all of them: this runs after every decision
            await self.store.queue_alerts(batch, self._domain)
            if any(d.channel == "sms" for _, drafts in batch for d in drafts):
                self._bus.publish(TextQueued("owner_alert"))  # the outbox sends SMS alerts

    async def _send_due(self) -> None:
        """Everything due, over one connection: a server that fails takes the
        rest of the queue with it, so the rest waits for the next round."""
        smtp = self.config.smtp
        due = await self.store.due_alerts(self.clock(), "email") if smtp else []
        if smtp is None or not due:
            return
        sender = parseaddr(smtp.sender)[1]
        current = due[0]
        try:
            async with smtp_session(smtp) as client:
                for current in due:
                    message = email_message(current, smtp, self.clock())
                    # Flattened here: aiosmtplib would refold with the 78-column policy.
                    data = message.as_bytes(policy=_POLICY.clone(linesep="\r\n"))
                    await client.sendmail(sender, [current.recipient], data)
                    await self.store.mark_alert(current.id, "sent")
                    self.sent += 1
                    if self._smtp_down:
                        self._smtp_down = False
                        log.info("emailing owner alerts again")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from exc  # a cancel, reported as an error
            delay = min(self._retry[1], self._retry[0] * 2**current.attempts)
            await self.store.mark_alert(
                current.id, "queued", error=str(exc), retry_at=self.clock() + delay
            )
            if not self._smtp_down:
                self._smtp_down = True
                log.warning("cannot email owner alerts (they wait and retry): %s", exc)
