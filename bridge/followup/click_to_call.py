"""Click-to-call: an owner asks (``CALL 12`` by text, the inbox's Call
button) and Asterisk rings the owner's phone first - their extension, else
their mobile through the trunk - and once they answer dials the thread's
caller with the line's caller ID, so the homeowner sees the number they
called. The call carries ``TEXTBACK_THREAD`` and is linked to the thread by
detection like any call-back (docs/detection.md, "Click-to-call").

:meth:`ClickToCall.call_back` answers at once in words: ringing, or why not.
How the owner's leg ended comes later (``OriginateResponse``); the
``click-to-call`` job awaits it and texts the owner if their phone was not
reached, so the wait never holds up whoever asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bridge.ami import actions
from bridge.ami.bookkeeping import AmiReply, Fields
from bridge.ami.errors import AmiError
from bridge.ami.link import FollowUp
from bridge.bus import Bus
from bridge.config import Config, OwnerConfig
from bridge.core import templates
from bridge.core.events import TextQueued
from bridge.core.numbers import display
from bridge.core.safe_text import printable
from bridge.core.texts import Cap, OutgoingText
from bridge.core.threads import ThreadSummary
from bridge.store import ClickToCallStore, StoreError

log = logging.getLogger(__name__)

THEN = "OriginateResponse"
THREAD_VARIABLE, OWNER_VARIABLE = "TEXTBACK_THREAD", "TEXTBACK_OWNER"
_NOTICE_TTL = timedelta(hours=1)
_NOTICES = Cap(3, timedelta(minutes=10))  # as every note back to an owner


class Originator(Protocol):
    """The AMI link as click-to-call needs it (bridge.ami.link.AmiLink)."""

    def is_connected(self) -> bool: ...

    async def send_action_then(self, fields: Fields, then: str) -> tuple[AmiReply, FollowUp]: ...


@dataclass(frozen=True, slots=True)
class _Placed:
    thread: ThreadSummary
    owner: OwnerConfig
    channel: str
    follow: FollowUp


class ClickToCall:
    def __init__(
        self,
        config: Config,
        store: ClickToCallStore,
        link: Originator,
        *,
        clock: Callable[[], datetime],
        bus: Bus,
        enabled: bool = True,
    ):
        self.config = config
        self.store = store
        self.link = link
        self.clock = clock
        self._bus = bus
        self._enabled = enabled  # a dry run rings nobody
        self._placed: asyncio.Queue[_Placed] = asyncio.Queue()

    async def call_back(self, thread_id: int, owner_id: str) -> str:
        """Ring ``owner_id``'s phone, then thread ``thread_id``'s caller; the
        words to show them (never raises for anything the office can fix)."""
        owner = next((o for o in self.config.owners if o.id == owner_id), None)
        thread = await self.store.thread_summary(thread_id)
        if thread is None or owner is None:
            return f"textback: there is no thread #{thread_id}." if owner else "unknown owner"
        t, them = thread.id, f"Call them: {thread.caller}"
        channel = self._channel(owner)
        if channel is None:
            return f"#{t}: textback has no extension or mobile to ring for you. {them}"
        if not self._enabled:
            return f"#{t}: a dry run rings nobody. {them}"
        if not self.link.is_connected():
            return f"#{t}: the phone system is not connected, nothing was dialled. {them}"
        action = self._action(thread, owner, channel)
        try:
            reply, follow = await self.link.send_action_then(action, THEN)
        except (AmiError, TimeoutError, ConnectionError) as exc:
            log.warning("click-to-call #%d: Originate not sent: %s", t, printable(str(exc)))
            return f"#{t}: the phone system did not answer, nothing was dialled. {them}"
        if not reply.success:
            why = printable(reply.message, 80) or "no reason given"
            hint = " (the AMI user needs write = originate)" if "permission" in why.lower() else ""
            log.warning("click-to-call #%d: Asterisk refused the Originate: %s", t, why)
            return f"#{t}: the phone system refused the call: {why}{hint}. {them}"
        self._placed.put_nowait(_Placed(thread, owner, channel, follow))
        log.info("click-to-call #%d: ringing %s for %s", t, printable(channel), owner.id)
        who = display(thread.caller, self.config.business.region)
        return f"#{t}: ringing your phone, then {who} - pick up and textback puts you through."

    def _channel(self, owner: OwnerConfig) -> str | None:
        if owner.extension is not None:
            return owner.extension
        if owner.mobile is not None:
            return self.config.pbx.click_to_call.mobile_channel.replace("{number}", owner.mobile)
        return None

    def _action(self, thread: ThreadSummary, owner: OwnerConfig, channel: str) -> Fields:
        settings = self.config.pbx.click_to_call
        line = self.config.line_for(thread.line) or self.config.lines[0]
        # The name goes between quotes in the header: no quote may end it early.
        name = printable(line.name, 40).replace('"', "'")
        return actions.originate(
            channel,
            context=settings.context,
            exten=thread.caller,
            caller_id=f'"{name}" <{line.did}>',
            ring_seconds=settings.ring_seconds,
            variables={THREAD_VARIABLE: str(thread.id), OWNER_VARIABLE: owner.id},
        )

    # ------------------------------------------------------------ the job

    async def run(self) -> None:
        """Await each placed call's OriginateResponse; tell the owner when
        their phone was not reached. Until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            while True:
                placed = await self._placed.get()
                tasks.create_task(self._settle(placed))

    async def _settle(self, placed: _Placed) -> None:
        within = self.config.pbx.click_to_call.ring_seconds + 15
        t = placed.thread.id
        try:
            outcome = await placed.follow.wait(within)
        except (AmiError, ConnectionError):
            words = "the link to the phone system dropped while your phone rang"
        except TimeoutError:
            words = "the phone system never said whether your phone answered"
        else:
            if outcome.success:
                log.info("click-to-call #%d: %s answered, dialling the caller", t, placed.owner.id)
                return
            reason = outcome.get("Reason")
            said = actions.ORIGINATE_REASONS.get(reason, f"reason {printable(reason, 8)}")
            words = f"your phone ({printable(placed.channel, 40)}) was not reached: {said}"
        log.warning("click-to-call #%d: %s", t, words)
        note = f"#{t}: {words}. Nobody was called. CALL {t} to try again."
        await self._tell(placed.owner, note, t)

    async def _tell(self, owner: OwnerConfig, body: str, thread_id: int) -> None:
        if owner.mobile is None:
            return
        text = OutgoingText(owner.mobile, body, templates.sms_size(body).parts,
                            self.clock() + _NOTICE_TTL, "owner_notice")  # fmt: skip
        try:
            queued = await self.store.queue_text(text, thread_id=thread_id, cap=_NOTICES)
        except StoreError as exc:  # the other calls' watches go on; this one was logged
            log.warning("click-to-call #%d: the note to %s was not queued: %s", thread_id,
                        owner.id, exc)  # fmt: skip
            return
        if queued is not None:
            self._bus.publish(TextQueued("owner_notice"))
