"""The worker that sends what the outbox holds, through the SMS transports
(bridge.transports picks one per text and attempt).

A text is marked ``sending`` with the transport that has it (committed, by the
transport's ``on_handover``) just before it can leave, and ``sent``
(committed) as soon as the transport confirms. So after a crash only a text
never confirmed is tried again, through that same transport only, told that
it may have gone out already and where it keeps it: the modem settles it
from its storage slot or resends it so that the SMSC drops a copy (TP-RD,
same TP-MR). A send that failed after the handover without an answer
(``SendError.maybe_sent``: it timed out) is retried the same way; one that
certainly never left may go through the line's next transport. A retryable
failure backs off and stays queued; a permanent one, or a text no longer worth sending (the
caller rang too long ago), is final and logged. Opt-outs are checked again
just before sending, and a STOP that lands while the text is on its way to
the transport still holds it back. Once a text is settled - sent, failed,
or free to go through any transport - its transport is told to release what it
kept of it (the modem's storage slots).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

from bridge.bus import Bus
from bridge.core.alerts import AlertBatch, CarriedAlert
from bridge.core.events import TextFailed, TextRetried, TextSent
from bridge.core.numbers import display
from bridge.core.texts import QueuedText
from bridge.store import OutboxStore
from bridge.texting.transports import Transports
from bridge.waiting import woken_or_after
from sms_gateway.base import BatchSending, BatchText, SendError, SendResult, SmsTransport

log = logging.getLogger(__name__)

_DUE_AT_ONCE = 20  # texts read from the queue at a time (a batch is at most this many)


class _Withdrawn(Exception):
    """Raised into the transport from ``on_handover``: the text was cancelled
    (STOP) after it was picked, so the transport must not send it."""


class OutboxWorker:
    def __init__(
        self,
        store: OutboxStore,
        transports: Transports,
        *,
        clock: Callable[[], datetime],
        poll_every: float = 1.0,
        retry_min: timedelta = timedelta(seconds=5),
        retry_max: timedelta = timedelta(minutes=5),
        max_attempts: int = 8,
        home: str,
        bus: Bus,
        batch: Callable[[Sequence[CarriedAlert]], AlertBatch | None] | None = None,
    ):
        self.store = store
        self.transports = transports
        self.clock = clock
        self.home = home  # the business's country: its numbers show in national form
        self._poll_every = poll_every
        self._retry = (retry_min, retry_max)
        self._max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._bus = bus
        self._batch = batch  # owner alerts due together, as one text (bridge.alerts.batch)
        self._stopping = False
        self._regrouped = False  # an owners' batch replaced texts of the list read
        # Transports holding slots of batches sent in this burst, released for
        # later: they are released once the queue is drained.
        self._releasing: dict[str, BatchSending] = {}
        self.sent = 0

    def wake(self) -> None:
        """Something was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the text being sent, then return (the supervisor's graceful stop)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        interrupted = await self.store.recover_interrupted()
        if interrupted:
            log.warning(
                "%d text(s) were being sent when textback stopped: trying again", interrupted
            )
        for transport in self.transports:
            transport.holds(await self.store.held_slots(transport.name))
        while not self._stopping:
            self._wake.clear()
            due = await self.store.due_texts(self.clock(), _DUE_AT_ONCE)
            # A wake while the queue was read is taken as answered by the read:
            # what it announces was committed before it was announced, and the
            # read, waiting its turn behind that commit (SQLite's one
            # connection), saw it; breaking off for it cost a second read on
            # every lone text-back. Where a commit could race the read (a
            # PostgreSQL pool), nothing is lost: the queue is read again at
            # once after this list, or now if nothing here was tried.
            raced = self._wake.is_set()
            self._wake.clear()
            # While its transports are down a text waits, unspent: only expiry
            # goes on, so a text that is too late is reported when it becomes so.
            # The texts read are tried in turn, one read for them all (a store
            # trip per text cost more than the read): the queue is read again
            # only when something was queued meanwhile (a text-back queued while
            # the modem was busy goes before whatever was due already) or an
            # owners' batch changed it. A STOP meanwhile cancels what is queued,
            # and mark_sending refuses a cancelled text.
            tried = False
            for step in self._steps(due):
                if self._stopping:
                    break
                if self._wake.is_set() or self._regrouped:
                    break
                if isinstance(step, QueuedText):
                    tried = await self._take(step) or tried
                else:
                    await self._send_batch(*step)
                    tried = True
            # Read again at once only if there may be more than this read
            # held (it stopped at its limit, or a batch of owners' alerts
            # replaced some): anything queued meanwhile woke us, and a text
            # held back for a retry is due by the poll at the earliest.
            more = (tried and len(due) >= _DUE_AT_ONCE) or self._regrouped
            self._regrouped = False
            drained = not (raced or more)
            if drained or self._stopping:
                await self._release_batches()
            if drained and not self._stopping:
                await woken_or_after(self._wake, self._poll_every)

    def _steps(
        self, due: Sequence[QueuedText]
    ) -> Iterator[QueuedText | tuple[list[QueuedText], BatchSending]]:
        """The due texts in order, as one-text steps and batches: each run of
        fresh texts for one transport that sends batches goes as one."""
        batch: list[QueuedText] = []
        batch_by: BatchSending | None = None
        for text in due:
            transport = self._batch_transport(text)
            if batch and transport is not batch_by:
                assert batch_by is not None
                yield batch, batch_by
                batch = []
            batch_by = transport
            if transport is None:
                yield text
            else:
                batch.append(text)
        if batch:
            assert batch_by is not None
            yield batch, batch_by

    def _batch_transport(self, text: QueuedText) -> BatchSending | None:
        """The transport that may send ``text`` in a batch; None: it goes alone
        (it went to a transport before, is too late, opted out, is an owner's
        alert others may join, or its transport sends one at a time)."""
        fresh = text.transport is None and not text.maybe_sent and not text.slots
        opted_out = text.opted_out and text.kind != "confirmation"
        joinable = text.kind == "owner_alert" and self._batch is not None
        if not fresh or opted_out or joinable or self.clock() >= text.expires_at:
            return None
        transport = self.transports.choose(text.from_line, text.attempts)
        return None if transport is None else self.transports.batching.get(transport.name)

    async def _take(self, text: QueuedText) -> bool:
        """Send, expire or give up on one due text; whether a transport was tried."""
        who = display(text.to_number, self.home)
        transport = self.transports.choose(text.from_line, text.attempts, pinned=text.pinned)
        if text.pinned is not None and text.pinned not in self.transports.available:
            why = (
                f"it may have gone out through {text.pinned}, which is no longer configured;"
                " not sent again through another transport"
            )
            await self._give_up(text, why, who, text.pinned)
        elif self.clock() >= text.expires_at:
            await self.store.mark_final(text.id, "expired", "too late to be worth sending")
            self._bus.publish(
                TextFailed(text.id, text.kind, "expired", "too late", text.transport, text.linkedid)
            )
            log.warning("text to %s expired unsent: too long after the call", who)
            await self._release(text.transport, text.slots)
        elif transport is not None:
            await self._attempt(await self._batched(text), transport)
            return True
        return False

    async def _batched(self, text: QueuedText) -> QueuedText:
        """An owner's alert with others due for them too: one text carrying
        them all (as many as fit), queued in their place. Only alerts nothing
        of which can have gone out: a batch never re-words a sent text."""
        if self._batch is None or text.kind != "owner_alert" or text.transport is not None:
            return text
        due = await self.store.owner_alerts_due(text.to_number, self.clock())
        due = [a for a in due if a.from_line == text.from_line]
        found = self._batch(due) if len(due) > 1 else None
        if found is None or text.id not in found.carried:
            return text  # alone (or urgent: never batched)
        carried = [a for a in due if a.text_id in found.carried]
        batch = await self.store.queue_batch(text.to_number, carried, found.body, found.parts)
        self._regrouped = True  # the alerts it carries are no longer due
        if batch is not None:
            log.info(
                "%d owner alerts to %s go as one text",
                len(carried),
                display(text.to_number, self.home),
            )
        return batch or text

    async def _attempt(self, text: QueuedText, transport: SmsTransport) -> None:
        now = self.clock()
        who = display(text.to_number, self.home)
        if text.kind != "confirmation" and text.opted_out:
            await self.store.mark_final(text.id, "cancelled", "opted out")
            self._bus.publish(
                TextFailed(
                    text.id, text.kind, "cancelled", "opted out", transport.name, text.linkedid
                )
            )
            return

        kept: list[int] = list(text.slots)  # what the transport keeps of it, if anything

        async def handed_over(slots: Sequence[int]) -> None:
            kept[:] = slots
            if not await self.store.mark_sending(text.id, transport.name, slots):
                raise _Withdrawn

        settled = True  # as far as the transport goes: what it kept of the text is free
        try:
            result = await transport.send(
                text.to_number,
                text.body,
                key=text.id,
                maybe_sent_before=text.maybe_sent,
                slots=text.slots,
                on_handover=handed_over,
                from_line=text.from_line,
            )
        except _Withdrawn:
            log.info("text to %s withdrawn before it went: cancelled meanwhile", who)
        except SendError as exc:
            settled = await self._not_sent(text, transport, exc, now, who)
        except Exception as exc:
            # A transport's own bug on one text must not stop every text behind it
            # (the supervisor would restart the outbox into the same text for ever).
            log.exception("%s failed on the text to %s; not retried", transport.name, who)
            why = f"{transport.name} failed: {type(exc).__name__}"
            await self._give_up(text, why, who, transport.name)
        else:
            sent_at = self.clock()
            await self.store.mark_sent(text.id, result.references, sent_at)
            self._announce_sent(text, transport.name, result, sent_at, who)
        if settled:
            await transport.release(kept)

    def _announce_sent(
        self, text: QueuedText, transport: str, result: SendResult, at: datetime, who: str
    ) -> None:
        """A sent mark committed: told on the bus, counted, logged."""
        self._bus.publish(TextSent(text.id, text.kind, transport, text.linkedid, at))
        if result.already_sent:
            log.info("text to %s had gone out before the restart; not sent again", who)
        else:
            self.sent += 1
            log.info("texted %s (%s, %d part(s), by %s)", who, text.kind, result.parts,
                     transport)  # fmt: skip

    async def _send_batch(self, texts: list[QueuedText], transport: BatchSending) -> None:
        """Fresh texts through one transport as one run: claimed together (one
        commit) before any can leave, marked sent together (one commit), and
        what the transport kept of them released once the queue is drained -
        so no commit or release comes between two sends, nor a burst's
        deletions between two of its batches. A crash between leaves each claimed
        text to be settled where it is kept, as for one. Texts the transport
        leaves out go one at a time."""
        kept: dict[int, Sequence[int]] = {}
        claimed: frozenset[int] = frozenset()

        async def handed_over(slots: Mapping[int, Sequence[int]]) -> Collection[int]:
            nonlocal claimed
            kept.update(slots)
            claimed = await self.store.claim_batch(transport.name, slots)
            return claimed

        now = self.clock()
        batch = [BatchText(t.id, t.to_number, t.body) for t in texts]
        try:
            results = await transport.send_batch(batch, on_handover=handed_over)
        except Exception as exc:
            # As for one text: a transport's bug must not stop the texts behind.
            log.exception("%s failed on a batch of %d texts; not retried", transport.name,
                          len(texts))  # fmt: skip
            for text in texts:
                why = f"{transport.name} failed: {type(exc).__name__}"
                await self._give_up(text, why, display(text.to_number, self.home), transport.name)
            return
        sent = {i: r for i, r in results.items() if isinstance(r, SendResult)}
        if sent:
            sent_at = self.clock()
            await self.store.mark_batch_sent({i: r.references for i, r in sent.items()}, sent_at)
        settled = [slot for i in sent for slot in kept.get(i, ())]
        for text in texts:
            who = display(text.to_number, self.home)
            result = results.get(text.id)
            if isinstance(result, SendResult):
                self._announce_sent(text, transport.name, result, sent_at, who)
            elif isinstance(result, SendError):
                if await self._not_sent(text, transport, result, now, who):
                    settled.extend(kept.get(text.id, ()))
            elif text.id in kept and text.id not in claimed:
                log.info("text to %s withdrawn before it went: cancelled meanwhile", who)
        # Released once the queue is drained (or when the storage needs the
        # room): no AT+CMGD comes between this batch and the next.
        transport.release_later(settled)
        self._releasing[transport.name] = transport
        for text in texts:
            if text.id not in results and text.id not in kept:
                await self._take(text)  # left out: alone, as if it had not been batched

    async def _not_sent(
        self, text: QueuedText, transport: SmsTransport, exc: SendError, now: datetime, who: str
    ) -> bool:
        """Retried with backoff if it can help, else failed for good. Whether
        the text is settled as far as its transport goes: failed, or certainly
        never sent (not bound to that transport any more)."""
        attempts = text.attempts + 1
        if not exc.retryable or attempts >= self._max_attempts:
            await self._give_up(text, str(exc), who, transport.name)
            return True
        delay = min(self._retry[1], self._retry[0] * 2 ** (attempts - 1))
        await self.store.mark_retry(text.id, str(exc), now + delay, maybe_sent=exc.maybe_sent)
        self._bus.publish(TextRetried(text.id, text.kind, transport.name, exc.maybe_sent))
        log.warning(
            "text to %s not sent by %s (%s); trying again in %s", who, transport.name, exc, delay
        )
        return not (exc.maybe_sent or text.maybe_sent)

    async def _release_batches(self) -> None:
        """What the transports kept of the batches sent since the last drain, released."""
        releasing, self._releasing = self._releasing, {}
        for transport in releasing.values():
            await transport.release(())

    async def _release(self, transport: str | None, slots: Sequence[int]) -> None:
        """Tell ``transport`` (if still configured) that what it kept of a text is free."""
        held_by = self.transports.available.get(transport or "")
        if held_by is not None and slots:
            await held_by.release(slots)

    async def _give_up(self, text: QueuedText, why: str, who: str, transport: str | None) -> None:
        await self.store.mark_final(text.id, "failed", why)
        self._bus.publish(TextFailed(text.id, text.kind, "failed", why, transport, text.linkedid))
        log.error("text to %s failed for good: %s", who, why)
