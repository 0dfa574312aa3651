"""What happens to a text that comes in: stored first, then

- from an owner's mobile: a command (bridge.owner_commands) - an answer for a
  homeowner, a thread marked handled, or click-to-call (the app hands in
  ``call_back``, bridge.followup.click_to_call);
- STOP, START and HELP: answered as carriers require;
- anything else: a homeowner's reply, for a person (the alert worker tells
  the owners; an urgent one wakes it at once to page whoever is on call)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bridge.bus import Bus
from bridge.config import Config, OwnerConfig
from bridge.conversations import owner_commands
from bridge.conversations.optout import Keyword, classify
from bridge.core import templates
from bridge.core.events import DeliveryReported, OwnerActed, ReplyStored, TextQueued
from bridge.core.ledger import LeadStep, confirmation
from bridge.core.numbers import display, to_e164
from bridge.core.safe_text import printable
from bridge.core.texts import (
    Cap,
    OptOutChange,
    OutgoingText,
    OwnerAction,
    ReceivedText,
    owner_answer,
)
from bridge.core.urgency import is_urgent
from bridge.store import InboundStore
from sms_gateway.base import DeliveryReport, IncomingText

log = logging.getLogger(__name__)

_CONFIRM_TTL = timedelta(hours=1)
# Notes to an owner (usage, "marked handled") and HELP answers at most this
# often: an auto-reply at the other end must not ping-pong with the bridge.
_AUTOMATIC_ANSWERS = Cap(3, timedelta(minutes=10))
# Click-to-call, as the app hands it in: (thread id, owner id) -> words for the owner.
CallBack = Callable[[int, str], Awaitable[str]]


class InboundHandler:
    """The bridge's TransportSink."""

    def __init__(
        self,
        config: Config,
        store: InboundStore,
        *,
        clock: Callable[[], datetime],
        bus: Bus,
        call_back: CallBack | None = None,
    ):
        self.config = config
        self.store = store
        self.clock = clock
        self._bus = bus
        self._call_back = call_back

    async def incoming_text(self, text: IncomingText) -> None:
        region = self.config.business.region
        number = to_e164(text.sender, region)
        # Sent to one of the business's lines (SIP's To): a new texter's thread is that line's.
        line = self.config.line_for(to_e164(text.to, region) if text.to else None)
        received = ReceivedText(
            number or text.sender, text.body, text.parts, text.received_at, text.network_time,
            line.did if line else None,
        )  # fmt: skip
        if number is None:
            # A bank's "AcmeBank", a short code: nobody to call back or text.
            if await self.store.store_incoming(received, None, lead=False) is not None:
                log.info(
                    "text from %s (not a phone number): kept, not a lead",
                    _who(text.sender, self.config.business.region),
                )
            return
        keyword = classify(text.body)
        owner = self.config.owner_by_mobile(number)
        if owner is not None and keyword not in (Keyword.STOP, Keyword.START):
            await self._owner_text(owner, received)
            return
        await self._caller_text(received, keyword)

    async def _caller_text(self, received: ReceivedText, keyword: Keyword | None) -> None:
        number, who = received.sender, _who(received.sender, self.config.business.region)
        urgent = keyword is None and is_urgent(received.body, self.config.follow_up.urgent_words)
        filed = await self.store.store_incoming(
            received,
            keyword.value if keyword else None,
            urgent=urgent,
            opt_out=self._choice(keyword, received),
        )
        if filed is None:
            log.info("a text from %s was stored before (a copy from the SIM); ignored", who)
            return
        if filed.choice_changed:
            self._bus.publish(TextQueued("confirmation"))
        if keyword is None and filed.thread_id is not None:
            self._bus.publish(ReplyStored(filed.thread_id, urgent))
        if urgent:
            log.warning("URGENT reply from %s on thread #%d: paging on-call", who, filed.thread_id)
        if keyword is Keyword.STOP and filed.choice_changed:
            log.info("%s opted out: no more texts will go to them", who)
        elif keyword is Keyword.START and filed.choice_changed:
            log.info("%s opted back in", who)
        elif keyword is Keyword.HELP:
            # Capped like owner notices: HELP from an auto-responder must not loop.
            await self._answer(number, self._help(), filed.thread_id, capped=True)
        elif keyword is None:
            log.info(
                "reply from %s on thread #%d: %s", who, filed.thread_id,
                printable(received.body, 80),
            )  # fmt: skip

    def _choice(self, keyword: Keyword | None, received: ReceivedText) -> OptOutChange | None:
        """STOP or START, with the one confirmation that goes if the choice changes."""
        if keyword is Keyword.STOP:
            opted_out, answer = True, self._stop_confirmation()
        elif keyword is Keyword.START:
            opted_out = False
            answer = f"{self.config.business.name}: you're subscribed again. Reply STOP to opt out."
        else:
            return None
        confirmation = OutgoingText(
            received.sender, answer, templates.sms_size(answer).parts,
            self.clock() + _CONFIRM_TTL, "confirmation",
        )  # fmt: skip
        return OptOutChange(opted_out, received.body.strip()[:20], "sms", confirmation)

    async def _owner_text(self, owner: OwnerConfig, received: ReceivedText) -> None:
        """An owner's command: stored and carried out in one step, then the note back."""
        step = owner_commands.parse_step(received.body)
        if step is not None:
            await self._lead_step(owner, received, step)
            return
        action, notice, thread_id = await self._owner_command(owner, received.body)
        if await self.store.store_owner_text(owner.id, received, action) is None:
            log.info("a text from %s was handled before (a copy from the SIM); ignored", owner.id)
            return
        if action is not None and action.reply is not None:
            log.info("%s answered thread #%d", owner.id, action.thread_id)
            self._bus.publish(TextQueued("reply"))
        elif action is not None:
            log.info("thread #%d handled by %s (%s)", action.thread_id, owner.id, action.action)
        if action is not None:
            self._bus.publish(OwnerActed(action.thread_id, owner.id, action.action))
        if notice is not None:
            await self._notify_owner(received.sender, notice, thread_id)

    async def _owner_command(
        self, owner: OwnerConfig, body: str
    ) -> tuple[OwnerAction | None, str | None, int | None]:
        """What an owner's text does, the note back to them, and the thread."""
        command = owner_commands.parse(body)
        if isinstance(command, owner_commands.Unknown):
            return None, owner_commands.USAGE, None
        thread = await self.store.thread_summary(command.thread)
        if thread is None:
            usage = f"textback: there is no thread #{command.thread}. {owner_commands.USAGE}"
            return None, usage, None
        who = display(thread.caller, self.config.business.region)
        if isinstance(command, owner_commands.CallBack):
            # Calling is fine after STOP: it is about texts (the owner may call anyone back).
            if self._call_back is None:
                return (
                    None,
                    f"#{thread.id}: click-to-call is not set up. Call them: {thread.caller}",
                    thread.id,
                )
            return None, await self._call_back(thread.id, owner.id), thread.id
        if isinstance(command, owner_commands.Handled):
            done = OwnerAction(thread.id, command.how)
            return done, f"#{thread.id} {who} marked handled.", thread.id
        if thread.status == "opted_out" or await self.store.is_opted_out(thread.caller):
            refused = (
                f"#{thread.id} {who} opted out of texts, so nothing was sent."
                f" Call them: {thread.caller}"
            )
            return None, refused, thread.id
        parts = templates.sms_size(command.text).parts
        return (
            owner_answer(thread.id, thread.caller, command.text, parts, self.clock()),
            None,
            thread.id,
        )

    async def _lead_step(
        self, owner: OwnerConfig, received: ReceivedText, step: LeadStep | owner_commands.BadStep
    ) -> None:
        """BOOKED / WON / LOST: the step with the owner's text, in one transaction
        (taken or not by the ledger's rules), then the words back to them."""
        thread = await self.store.thread_summary(step.thread_id)
        if thread is None:
            notice = f"textback: there is no thread #{step.thread_id}. {owner_commands.USAGE}"
        elif isinstance(step, owner_commands.BadStep):
            notice = f"textback: {step.problem}"
        if thread is None or isinstance(step, owner_commands.BadStep):
            # Kept like any owner's text, nothing recorded; the note says why.
            if await self.store.store_owner_text(owner.id, received) is not None:
                await self._notify_owner(received.sender, notice, thread.id if thread else None)
            return
        transition = await self.store.store_owner_step(owner.id, received, step)
        if transition is None:
            log.info("a text from %s was handled before (a copy from the SIM); ignored", owner.id)
            return
        log.info("thread #%d: %s by %s (%s)", thread.id, step.step, owner.id, transition.outcome)
        if transition.outcome == "recorded":
            self._bus.publish(OwnerActed(thread.id, owner.id, step.step))
        who = display(thread.caller, self.config.business.region)
        words = confirmation(transition, thread.id, who, self.config.business.currency)
        await self._notify_owner(received.sender, words, thread.id)

    async def _notify_owner(self, number: str, body: str, thread_id: int | None = None) -> None:
        await self._answer(number, body, thread_id, kind="owner_notice", capped=True)

    async def delivery_report(self, report: DeliveryReport) -> None:
        recipient = to_e164(report.recipient, self.config.business.region) or report.recipient
        text_id = await self.store.record_delivery(report.reference, recipient, report.delivered)
        if text_id is None:
            log.debug("delivery report %d for %s matches no sent text", report.reference, recipient)
            return
        self._bus.publish(DeliveryReported(text_id, report.delivered))

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
            log.warning(
                "not answering %s again so soon (an auto-reply?)",
                display(number, self.config.business.region),
            )
            return
        self._bus.publish(TextQueued(kind))

    def _stop_confirmation(self) -> str:
        return (
            f"{self.config.business.name}: you're unsubscribed and will get no more texts from us."
            " Reply START to resubscribe."
        )

    def _help(self) -> str:
        line = display(self.config.lines[0].did, self.config.business.region)
        return (
            f"{self.config.business.name}: reply here and a person will get back to you, or call"
            f" {line}. Reply STOP to opt out."
        )


def _who(number: str, home: str) -> str:
    """A sender as a log line shows it: a phone number readably, anything else escaped."""
    return display(number, home) if number.startswith("+") else printable(number, 40)
