"""Store-and-send: each part written to the modem's storage, then sent from there.

``AT+CMGW`` keeps a part in a storage slot with status 2, "stored unsent";
``AT+CMSS`` sends it from there, and the modem marks the slot 3, "stored
sent", once the network took it. The slots go to the caller (the transport's
``on_handover``, which records them durably) before the first ``AT+CMSS``,
so after a crash or a lost answer the modem's own record settles each part
on its own (:meth:`StoredSends.send` with the slots it was told):

- stored sent: it went out; never again;
- stored unsent: it never left; sent now;
- the slot empty, or holding another text: written again with TP-RD set and
  sent, as a modem without store-and-send resends - which only an SMSC that
  honours TP-RD, and a modem that keeps the TP-MR, can drop (docs/texting.md).

A slot is deleted once the caller has settled its text (:meth:`release`), or
- for a burst's batches - marked for deletion (:meth:`release_later`) and
deleted at the next :meth:`release` or when a write finds the storage full,
so no AT+CMGD comes between two batches; a slot of ours the caller no longer
holds - a crash between settling a text and releasing it - is deleted when
the modem is next connected (:meth:`tidy`).
Where ``AT+CMGW`` fails (the storage is full) a fresh text goes by plain
``AT+CMGS``, which is no worse than a modem without store-and-send.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sms_gateway import cms_errors
from sms_gateway.at_answers import (
    STORED_SENT,
    STORED_UNSENT,
    listed,
    sent_reference,
    stored_pdu,
    stored_status,
    written_slot,
)
from sms_gateway.at_channel import AtChannel
from sms_gateway.at_session import Response
from sms_gateway.base import BatchHandover, BatchResults, Handover, SendError, SendResult
from sms_gateway.pdu_codec import same_submit, submit_reference
from sms_gateway.serial_port import ModemLost

log = logging.getLogger(__name__)

NO_SLOT = -1  # a part sent without a slot (written nowhere): settled by TP-RD only


class NotStored(Exception):
    """AT+CMGW did not take the part (storage full, or refused): nothing left."""


@dataclass(frozen=True, slots=True)
class _Part:
    """One part of a text to settle: sent already (with its reference), or in
    ``slot`` waiting for AT+CMSS (NO_SLOT: for AT+CMGS)."""

    pdu: Any
    slot: int
    reference: int | None = None  # set: it went out before

    @property
    def done(self) -> bool:
        """It went out before: the modem's record says so."""
        return self.reference is not None


class StoredSends:
    """Store-and-send over ``channel``; every method runs under the channel's
    lock, which the caller holds (a send is one run of commands)."""

    def __init__(self, channel: AtChannel, send_timeout: float, on_part_sent: Callable[[], None]):
        self._channel = channel
        self._send_timeout = send_timeout
        self._on_part_sent = on_part_sent  # the transport's rate limit counts every part
        self.available = False  # found at each connection by the start-up
        self._ours: set[int] = set()  # slots written or held, not yet released
        self._settled: list[int] = []  # released for later (release_later): deleted next
        self._told = asyncio.Event()  # the caller said which slots it still holds

    # ------------------------------------------------------------ the caller's records

    def holds(self, slots: Collection[int]) -> None:
        """The slots the caller's records hold for texts not yet settled: ours
        to keep. Any other text of ours in storage is a leftover (:meth:`tidy`)."""
        self._ours |= {s for s in slots if s >= 0}
        self._told.set()

    async def release(self, slots: Sequence[int]) -> None:
        """The caller settled the texts kept in ``slots``: delete them, and
        those released for later, in one hold of the lock. A slot that cannot
        be deleted now (the modem is away) goes at the next tidy."""
        self.release_later(slots)
        if self._settled:
            async with self._channel.lock:
                await self._delete_settled()

    def release_later(self, slots: Sequence[int]) -> None:
        """The caller settled the texts kept in ``slots`` while more texts wait
        to go: deleted at the next :meth:`release`, or sooner if a write finds
        the storage full - not now, between two sends of a burst."""
        self._settled += [slot for slot in slots if slot >= 0 and slot in self._ours]

    async def _delete_settled(self) -> None:
        doomed, self._settled = self._settled, []
        await self._forget_or_disown(doomed)

    def disown(self, slots: Sequence[int]) -> None:
        """Settled, but not deleted yet: no longer ours, so the next tidy deletes them."""
        self._ours -= set(slots)

    def leave_to_tidy(self, slots: Sequence[int]) -> None:
        """:meth:`release` while the modem is away: ``slots``, and those
        released for later, are deleted by the next connection's tidy."""
        doomed, self._settled = [*slots, *self._settled], []
        self.disown(doomed)

    async def tidy(self) -> None:
        """Once per connection, after the caller said what it holds: delete the
        texts of ours left in storage that no unsettled text holds."""
        if not self.available:
            return
        await self._told.wait()
        async with self._channel.lock:
            reply = await self._channel.command("AT+CMGL=4")
            leftovers = [e.slot for e in listed(reply) if e.outgoing and e.slot not in self._ours]
            for slot in leftovers:
                await self._channel.command(f"AT+CMGD={slot}")
        if leftovers:
            log.info("modem: deleted %d settled text(s) left in its storage", len(leftovers))

    # ------------------------------------------------------------ sending

    async def send(
        self,
        pdus: Sequence[Any],
        *,
        slots: Sequence[int],
        resend: bool,
        on_handover: Handover | None,
        send_plain: Callable[[Any], Awaitable[int]],
    ) -> SendResult | None:
        """Send ``pdus`` through storage; None if a fresh text could not be
        stored (nothing left: the caller sends it plainly). ``slots``, with
        ``resend``, are where an earlier attempt kept the parts."""
        try:
            parts = await self._prepare(pdus, slots if resend else ())
        except NotStored:
            return None
        kept = [part.slot for part in parts]
        if on_handover is not None:
            try:
                await on_handover(kept)
            except BaseException:
                await self._forget([p.slot for p in parts if not p.done])
                raise
        return await self._send_parts(parts, resend, send_plain)

    async def send_batch(
        self,
        texts: Mapping[int, Sequence[Any]],
        *,
        on_handover: BatchHandover,
        send_plain: Callable[[Any], Awaitable[int]],
    ) -> BatchResults:
        """Fresh texts (their parts by key): each written to storage, all the
        slots told to ``on_handover`` at once, then each text that may go sent
        from its slots - so a crash anywhere leaves each part settled from the
        modem's record, as :meth:`send` does for one. A text the storage
        cannot take, and every one after it, is left out of the answer, as is
        one withdrawn: nothing of them is kept here."""
        stored: dict[int, list[_Part]] = {}
        try:
            for key, pdus in texts.items():
                stored[key] = await self._prepare(pdus, ())
        except NotStored:
            pass  # storage full: what is stored goes; the rest is the caller's
        except SendError as exc:  # the link went: nothing was sent
            self.disown([part.slot for parts in stored.values() for part in parts])
            return dict.fromkeys(texts, exc)
        if not stored:
            return {}
        slots = {key: [part.slot for part in parts] for key, parts in stored.items()}
        try:
            going = set(await on_handover(slots))
        except BaseException:
            await self._forget_or_disown([slot for kept in slots.values() for slot in kept])
            raise
        withdrawn = [slot for key, kept in slots.items() if key not in going for slot in kept]
        await self._forget_or_disown(withdrawn)
        results: BatchResults = {}
        for key, parts in stored.items():
            if key in going:
                try:
                    results[key] = await self._send_parts(parts, False, send_plain)
                except SendError as exc:
                    results[key] = exc
        return results

    async def send_plainly(
        self, pdus: Sequence[Any], *, resend: bool, send_plain: Callable[[Any], Awaitable[int]]
    ) -> SendResult:
        """Every part by AT+CMGS (a modem without store-and-send), settled the
        same way: a resend the SMSC rejects as a duplicate (TP-RD) went before."""
        return await self._send_parts([_Part(pdu, NO_SLOT) for pdu in pdus], resend, send_plain)

    async def _prepare(self, pdus: Sequence[Any], slots: Sequence[int]) -> list[_Part]:
        """Each part settled from its slot where it has one, else written anew."""
        parts: list[_Part] = []
        written: list[int] = []  # slots this attempt wrote: nobody holds them yet
        try:
            for number, pdu in enumerate(pdus):
                slot = slots[number] if number < len(slots) else NO_SLOT
                part = await self._settle(pdu, slot) if slot >= 0 else None
                if part is None:
                    part = _Part(pdu, await self._write(pdu))
                    written.append(part.slot)
                parts.append(part)
        except NotStored:
            if not slots:  # a fresh text: nothing of it is anywhere yet
                await self._forget(written)
                raise
            # A resend: the parts left without a slot go by AT+CMGS, with TP-RD.
            parts += [_Part(pdu, NO_SLOT) for pdu in pdus[len(parts) :]]
        except SendError:
            self._ours -= set(written)  # the link went: the next tidy deletes them
            raise
        return parts

    async def _settle(self, pdu: Any, slot: int) -> _Part | None:
        """What the modem's record says of the part an earlier attempt kept in
        ``slot``; None if the slot is gone or holds another text."""
        reply = await self._channel.command(f"AT+CMGR={slot}")
        stored, status = stored_pdu(reply), stored_status(reply)
        if stored is not None and same_submit(stored, str(pdu)):
            if status == STORED_SENT:
                return _Part(pdu, slot, submit_reference(stored))
            if status == STORED_UNSENT:
                return _Part(pdu, slot)
        self._ours.discard(slot)  # not ours any more: another text's, or nothing
        return None

    async def _write(self, pdu: Any) -> int:
        """AT+CMGW: the part kept in storage, status "stored unsent"; its slot.
        A storage full while settled slots wait for deletion is emptied of
        them and written to again."""
        try:
            return await self._write_once(pdu)
        except NotStored:
            if not self._settled:
                raise
        await self._delete_settled()
        return await self._write_once(pdu)

    async def _write_once(self, pdu: Any) -> int:
        try:
            prompt = await self._channel.open_pdu_entry(pdu.tpduLength, "AT+CMGW")
            if isinstance(prompt, Response):
                raise NotStored(prompt.final)
            reply = await self._channel.enter_pdu(str(pdu), self._channel.command_timeout)
        except ModemLost as exc:
            raise SendError(str(exc), retryable=True) from None  # nothing was sent
        slot = written_slot(reply) if isinstance(reply, Response) else None
        if slot is None:
            raise NotStored(reply.final if isinstance(reply, Response) else "a second prompt")
        self._ours.add(slot)
        return slot

    async def _send_parts(
        self, parts: Sequence[_Part], resend: bool, send_plain: Callable[[Any], Awaitable[int]]
    ) -> SendResult:
        references: list[int] = []
        repeats = 0
        for part in parts:
            if part.reference is not None:  # done: the modem's record says it went out
                repeats += 1
                references.append(part.reference)
                continue
            try:
                if part.slot == NO_SLOT:
                    references.append(await send_plain(part.pdu))
                else:
                    references.append(await self._send_stored(part.slot))
            except SendError as exc:
                if not (resend and exc.code == cms_errors.DUPLICATE):
                    # Parts before this one went out: the retry must not send them twice.
                    exc.maybe_sent = exc.maybe_sent or bool(references)
                    raise
                repeats += 1  # the SMSC had it: it went out before
                references.append(submit_reference(str(part.pdu)))
        return SendResult(tuple(references), len(parts), already_sent=repeats == len(parts))

    async def _send_stored(self, slot: int) -> int:
        """AT+CMSS: the part in ``slot`` sent; its TP-MR (-1 if none given)."""
        try:
            reply = await self._channel.command(f"AT+CMSS={slot}", self._send_timeout)
        except ModemLost as exc:
            # The command reached the modem, so the network may have it: the
            # slot's status says which, after a reconnect.
            raise SendError(
                f"{exc}; it may have gone out", retryable=True, maybe_sent=True
            ) from None
        if not reply.ok:
            raise cms_errors.send_error(reply)
        self._on_part_sent()
        return sent_reference(reply)

    async def _forget(self, slots: Sequence[int]) -> None:
        """Delete ``slots``, which nobody holds any more: a settled text's, or
        one that never left (the caller holds the lock)."""
        for slot in slots:
            if slot >= 0:
                await self._channel.command(f"AT+CMGD={slot}")
                self._ours.discard(slot)

    async def _forget_or_disown(self, slots: Sequence[int]) -> None:
        """:meth:`_forget`, or - the link gone - left to the next tidy."""
        try:
            await self._forget(slots)
        except ModemLost:
            self.disown(slots)
