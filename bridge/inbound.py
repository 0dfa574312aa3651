"""What happens to a text that comes in: stored first, then

- from an owner's mobile: a command (bridge.owner_commands) - an answer for a
  homeowner, or a thread marked handled;
- STOP, START and HELP: answered as carriers require;
- anything else: a homeowner's reply, for a person (the alert worker tells
  the owners; an urgent one wakes it at once to page whoever is on call)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bridge import owner_commands, templates
from bridge.config import Config, OwnerConfig
from bridge.numbers import display, to_e164
from bridge.optout import Keyword, classify
from bridge.routing import is_urgent
from bridge.safe_text import printable
from bridge.store import Cap, OutgoingText, Store
from sms_gateway.base import DeliveryReport, IncomingText

log = logging.getLogger(__name__)

_CONFIRM_TTL = timedelta(hours=1)
_ANSWER_TTL = timedelta(hours=24)  # an owner's answer is still worth sending late
# Notes to an owner (usage, "marked handled") and HELP answers at most this
# often: an auto-reply at the other end must not ping-pong with the bridge.
_AUTOMATIC_ANSWERS = Cap(3, timedelta(minutes=10))


class InboundHandler:
    """The bridge's TransportSink."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Callable[[], datetime],
        on_queued: Callable[[], None] = lambda: None,
        on_urgent: Callable[[], None] = lambda: None,
    ):
        self.config = config
        self.store = store
        self.clock = clock
        self._on_queued = on_queued
        self._on_urgent = on_urgent

    async def incoming_text(self, text: IncomingText) -> None:
        number = to_e164(text.sender, self.config.business.region) or text.sender
        keyword = classify(text.body)
        owner = self.config.owner_by_mobile(number)
        if owner is not None and keyword not in (Keyword.STOP, Keyword.START):
            await self._owner_text(owner, number, text)
            return
        urgent = keyword is None and is_urgent(text.body, self.config.follow_up.urgent_words)
        _, thread_id = await self.store.store_incoming(
            number,
            text.body,
            text.parts,
            keyword.value if keyword else None,
            text.received_at,
            urgent=urgent,
        )
        who = display(number) if number.startswith("+") else printable(number)
        self._on_queued()
        if urgent:
            log.warning("URGENT reply from %s on thread #%d: paging on-call", who, thread_id)
            self._on_urgent()
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
            # Capped like owner notices: HELP from an auto-responder must not loop.
            await self._answer(number, self._help(), thread_id, capped=True)
        else:
            log.info("reply from %s on thread #%d: %s", who, thread_id, printable(text.body, 80))

    async def _owner_text(self, owner: OwnerConfig, number: str, text: IncomingText) -> None:
        inbox_id = await self.store.store_owner_text(
            owner.id, number, text.body, text.parts, text.received_at
        )
        command = owner_commands.parse(text.body)
        if isinstance(command, owner_commands.Unknown):
            await self._notify_owner(number, owner_commands.USAGE, None)
            return
        thread = await self.store.thread_summary(command.thread)
        if thread is None:
            await self._notify_owner(
                number, f"textback: there is no thread #{command.thread}. {owner_commands.USAGE}"
            )
            return
        who = display(thread.caller)
        if isinstance(command, owner_commands.Handled):
            await self.store.owner_action(thread.id, owner.id, command.how, inbox_id=inbox_id)
            log.info("thread #%d (%s) handled by %s (%s)", thread.id, who, owner.id, command.how)
            await self._notify_owner(number, f"#{thread.id} {who} marked handled.", thread.id)
            return
        if thread.status == "opted_out" or await self.store.is_opted_out(thread.caller):
            await self._notify_owner(
                number,
                f"#{thread.id} {who} opted out of texts, so nothing was sent."
                f" Call them: {thread.caller}",
                thread.id,
            )
            return
        size = templates.sms_size(command.text)
        answer = OutgoingText(
            thread.caller, command.text, size.parts, self.clock() + _ANSWER_TTL, kind="reply"
        )
        await self.store.owner_action(thread.id, owner.id, "reply", inbox_id=inbox_id, reply=answer)
        log.info("%s answered thread #%d (%s)", owner.id, thread.id, who)
        self._on_queued()

    async def _notify_owner(self, number: str, body: str, thread_id: int | None = None) -> None:
        await self._answer(number, body, thread_id, kind="owner_notice", capped=True)

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

    async def _answer(
        self,
        number: str,
        body: str,
        thread_id: int | None,
        *,
        kind: str = "confirmation",
        capped: bool = False,
    ) -> None:
        """An automatic answer; ``capped``: unless the number had its fill lately."""
        size = templates.sms_size(body)
        queued = await self.store.queue_text(
            OutgoingText(number, body, size.parts, self.clock() + _CONFIRM_TTL, kind),
            thread_id=thread_id,
            cap=_AUTOMATIC_ANSWERS if capped else None,
        )
        if queued is None:
            log.warning("not answering %s again so soon (an auto-reply?)", display(number))
            return
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
