"""What happens to a text that comes in: stored first, then STOP, START and
HELP answered as carriers require; every other text is a reply for a person
(conversation threads and owner alerts build on it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bridge import templates
from bridge.config import Config
from bridge.numbers import display, to_e164
from bridge.optout import Keyword, classify
from bridge.safe_text import printable
from bridge.store import OutgoingText, Store
from sms_gateway.base import DeliveryReport, IncomingText

log = logging.getLogger(__name__)

_CONFIRM_TTL = timedelta(hours=1)


class InboundHandler:
    """The bridge's TransportSink."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None] = lambda: None,
    ):
        self.config = config
        self.store = store
        self.clock = clock
        self._on_queued = on_queued

    async def incoming_text(self, text: IncomingText) -> None:
        number = to_e164(text.sender, self.config.business.region) or text.sender
        keyword = classify(text.body)
        _, thread_id = await self.store.store_incoming(
            number, text.body, text.parts, keyword.value if keyword else None, text.received_at
        )
        who = display(number) if number.startswith("+") else printable(number)
        self._on_queued()  # a reply means an owner alert to send
        if keyword is Keyword.STOP:
            if await self.store.is_opted_out(number):
                return  # one confirmation, nothing after it
            await self._record_choice(number, text, opted_out=True)
            log.info("%s opted out: no more texts will go to them", who)
            await self._answer(number, self._stop_confirmation(), thread_id)
        elif keyword is Keyword.START and await self.store.is_opted_out(number):
            await self._record_choice(number, text, opted_out=False)
            log.info("%s opted back in", who)
            await self._answer(
                number,
                f"{self.config.business.name}: you're subscribed again. Reply STOP to opt out.",
                thread_id,
            )
        elif keyword is Keyword.HELP:
            await self._answer(number, self._help(), thread_id)
        else:
            log.info("reply from %s on thread #%d: %s", who, thread_id, printable(text.body, 80))

    async def delivery_report(self, report: DeliveryReport) -> None:
        recipient = to_e164(report.recipient, self.config.business.region) or report.recipient
        text_id = await self.store.record_delivery(report.reference, recipient, report.delivered)
        if text_id is None:
            log.debug("delivery report %d for %s matches no sent text", report.reference, recipient)

    async def _record_choice(self, number: str, text: IncomingText, *, opted_out: bool) -> None:
        await self.store.set_opt_out(
            number,
            opted_out=opted_out,
            keyword=text.body.strip()[:20],
            source="sms",
            at=self.clock(),
        )

    async def _answer(self, number: str, body: str, thread_id: int) -> None:
        size = templates.sms_size(body)
        await self.store.queue_text(
            OutgoingText(
                number, body, size.parts, self.clock() + _CONFIRM_TTL, kind="confirmation"
            ),
            thread_id=thread_id,
        )
        self._on_queued()

    def _stop_confirmation(self) -> str:
        return (
            f"{self.config.business.name}: you're unsubscribed and will get no more texts from us."
            " Reply START to resubscribe."
        )

    def _help(self) -> str:
        line = display(self.config.lines[0].did)
        return (
            f"{self.config.business.name}: reply here and a person will get back to you, or call"
            f" {line}. Reply STOP to opt out."
        )
