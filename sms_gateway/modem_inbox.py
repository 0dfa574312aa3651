"""What arrives from the modem: texts and delivery reports, handed to the sink,
then deleted from the modem - only then, once the sink has stored them.

Ways in, all ending in the same hand-over:

- notifications: ``+CMTI`` names a slot to read, ``+CDSI`` a status report
  kept in a storage (SR), ``+CMT`` and ``+CDS`` bring the PDU itself
  (python-gsmmodem ignores ``+CMT``);
- a sweep every ``sweep_seconds`` that lists what is stored, texts and
  reports: some modems (Huawei) announce texts on another port, some announce
  nothing, and what arrived while textback was down was never announced.

A long text's parts stay on the SIM until the last one is in, then go to the
sink as one text. A SIM slot being read or deleted, or holding a part that
waits for the others, is claimed: a ``+CMTI`` and a sweep can both find the
same slot before it is deleted. What the PDUs add up to is decided without
I/O (:class:`StoredMessages`); :class:`ModemInbox` moves the AT commands.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sms_gateway.at_answers import (
    STORED_SENT,
    STORED_UNSENT,
    listed,
    stored_at,
    stored_pdu,
    stored_status,
)
from sms_gateway.at_channel import AtChannel
from sms_gateway.at_session import Response
from sms_gateway.base import DeliveryReport, IncomingText, TransportSink
from sms_gateway.modem_startup import Storage
from sms_gateway.pdu_codec import (
    STATUS_REPORT,
    TextPart,
    UndecodablePdu,
    decode_report,
    decode_stored,
    pdu_type,
)
from sms_gateway.safe_text import printable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Arrival:
    """What to hand the sink, and the SIM slots to delete once it is stored."""

    message: IncomingText | DeliveryReport
    slots: tuple[int, ...]


class StoredMessages:
    """PDUs read off the modem in, what they add up to out; no I/O. A long
    text's parts wait here, their slots claimed, until the last one is in."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, int], dict[int, tuple[int | None, str]]] = {}
        self._first_sent: dict[tuple[str, int], datetime | None] = {}  # a long text's time

    def take(self, pdu_hex: str, slot: int | None, received_at: datetime) -> Arrival | None:
        """The message ``pdu_hex`` (read from ``slot``, None if it came straight
        over) completes; None while a long text waits for its other parts.
        Raises :class:`~sms_gateway.pdu_codec.UndecodablePdu`."""
        message = decode_stored(pdu_hex, received_at)
        if isinstance(message, TextPart):
            return self._add_part(message, slot, received_at)
        return Arrival(message, () if slot is None else (slot,))

    def waiting_slots(self) -> set[int]:
        """Slots holding a part whose other parts have not come yet."""
        return {i for parts in self._parts.values() for i, _ in parts.values() if i is not None}

    def clear(self) -> None:
        """A new connection: the sweep finds every part again on the SIM."""
        self._parts.clear()
        self._first_sent.clear()

    def _add_part(self, part: TextPart, slot: int | None, received_at: datetime) -> Arrival | None:
        key = (part.sender, part.reference)
        parts = self._parts.setdefault(key, {})
        parts[part.number] = (slot, part.body)
        if part.number == 1:
            self._first_sent[key] = part.network_time
        if len(parts) < part.total:
            return None  # the rest is on its way; the parts stay on the SIM until then
        del self._parts[key]
        body = "".join(parts[n][1] for n in sorted(parts))
        sent = self._first_sent.pop(key, None)  # the text's own time: its first part's
        text = IncomingText(part.sender, body, received_at, len(parts), network_time=sent)
        return Arrival(text, tuple(sorted(i for i, _ in parts.values() if i is not None)))


class ModemInbox:
    """Reads what the modem holds and announces, over ``channel``, into a sink."""

    def __init__(self, channel: AtChannel, sweep_seconds: float):
        self._channel = channel
        self._sweep_seconds = sweep_seconds
        self._stored = StoredMessages()
        self._reading: set[int] = set()  # SIM slots being read or deleted right now
        self._reports_lock = asyncio.Lock()  # one reader of stored reports at a time
        self._storage = Storage()

    def restart(self, storage: Storage) -> None:
        """A new connection, reading from where its start-up found texts and reports."""
        self._reading.clear()
        self._stored.clear()
        self._storage = storage

    async def handle_notifications(self, sink: TransportSink) -> None:
        while True:
            note = await self._channel.notification()
            kind = note.kind
            stored = stored_at(note.line)
            if kind == "CMTI" and stored:
                await self._read_slot(stored[1], sink)
            elif kind == "CDSI" and stored:
                await self._stored_report(*stored, sink)
            elif kind == "CMT" and note.pdu:
                await self._deliver(note.pdu, None, sink)  # +CMT: the library ignores these
            elif kind == "CDS" and note.pdu:
                await self._report(note.pdu, sink)
            elif kind == "CMGS":
                log.info("modem: a text it had not confirmed in time went out after all (%s)",
                         printable(note.line))  # fmt: skip
            else:
                log.debug("modem said %s", printable(note.line))

    async def sweep(self, sink: TransportSink) -> None:
        """Read every stored text and report now and then: some modems (Huawei)
        announce texts on another port, some announce nothing, and what arrived
        while we were down was never announced to us at all."""
        while True:
            if self._storage.can_read:
                async with self._channel.lock:
                    reply = await self._channel.command("AT+CMGL=4")
                for entry in listed(reply):
                    if not entry.outgoing:  # texts written to be sent are not the inbox's
                        await self._deliver(entry.pdu, entry.slot, sink)
            await self._sweep_reports(sink)
            await asyncio.sleep(self._sweep_seconds)

    # ------------------------------------------------------------ texts

    async def _read_slot(self, index: int, sink: TransportSink) -> Arrival | None:
        """Read the text (or report) in ``index``; what it was, if handed over."""
        if index in self._claimed():
            return None  # being read already, or a part waiting for the others
        async with self._channel.lock:
            reply = await self._channel.command(f"AT+CMGR={index}")
        if stored_status(reply) in (STORED_UNSENT, STORED_SENT):
            return None  # a text written to be sent: the transport's, not the inbox's
        pdu_hex = stored_pdu(reply)
        return None if pdu_hex is None else await self._deliver(pdu_hex, index, sink)

    def _claimed(self) -> set[int]:
        """SIM slots a +CMTI or a sweep must leave alone: being read or
        deleted, or holding a part whose other parts have not come yet. Derived,
        never kept: a slot is free again the moment its text is gone."""
        return self._reading | self._stored.waiting_slots()

    async def _deliver(
        self, pdu_hex: str, index: int | None, sink: TransportSink
    ) -> Arrival | None:
        # A +CMTI and a sweep can both find the same SIM slot before it is deleted.
        if index is not None:
            if index in self._claimed():
                return None
            self._reading.add(index)
        try:
            arrival = self._take(pdu_hex, index)
            if arrival is not None:
                await self._hand_over(arrival, sink)
            return arrival
        finally:
            if index is not None:
                self._reading.discard(index)

    def _take(self, pdu_hex: str, index: int | None) -> Arrival | None:
        try:
            return self._stored.take(pdu_hex, index, datetime.now(UTC))
        except UndecodablePdu as exc:
            log.warning("modem: skipped an undecodable stored message %s: %s", index, exc)
            return None

    async def _hand_over(self, arrival: Arrival, sink: TransportSink) -> None:
        slots = set(arrival.slots)
        self._reading |= slots  # still claimed until deleted: a sweep must not start over
        try:
            if isinstance(arrival.message, DeliveryReport):
                await sink.delivery_report(arrival.message)
            else:
                await sink.incoming_text(arrival.message)
            for slot in arrival.slots:
                async with self._channel.lock:
                    await self._channel.command(f"AT+CMGD={slot}")  # only now: the store has it
        finally:
            self._reading -= slots

    # ------------------------------------------------------------ status reports

    async def _stored_report(self, mem: str, index: int, sink: TransportSink) -> None:
        """+CDSI: a status report kept in ``mem``: read it there, then delete it."""
        if not mem or mem == self._storage.texts_in:
            found = await self._read_slot(index, sink)  # kept among the texts
            is_report = found is not None and isinstance(found.message, DeliveryReport)
        else:
            is_report = await self._read_report(mem, index, sink)
        if not is_report:
            await self._sweep_reports(sink)  # Quectel EC25 names SM but keeps it in SR

    async def _read_report(self, mem: str, index: int, sink: TransportSink) -> bool:
        async with self._reports_lock:
            replies = await self._in_storage(mem, f"AT+CMGR={index}")
            pdu_hex = stored_pdu(replies[0]) if replies else None
            if pdu_hex is None or pdu_type(pdu_hex) != STATUS_REPORT:
                return False
            await self._report(pdu_hex, sink)
            await self._in_storage(mem, f"AT+CMGD={index}")  # only now: the store has it
            return True

    async def _sweep_reports(self, sink: TransportSink) -> None:
        """Status reports kept in SR: with <ds>=0, or when a +CDSI was missed or wrong."""
        mem = self._storage.reports_in
        if mem is None:
            return
        async with self._reports_lock:
            replies = await self._in_storage(mem, "AT+CMGL=4")
            handled = []
            for entry in listed(replies[0]) if replies else []:
                if pdu_type(entry.pdu) == STATUS_REPORT:
                    await self._report(entry.pdu, sink)
                    handled.append(entry.slot)
            if handled:
                await self._in_storage(mem, *(f"AT+CMGD={i}" for i in handled))

    async def _in_storage(self, mem: str, *commands: str) -> list[Response] | None:
        return await self._channel.in_storage(mem, self._storage.texts_in, *commands)

    async def _report(self, pdu_hex: str, sink: TransportSink) -> None:
        try:
            report = decode_report(pdu_hex, datetime.now(UTC))
        except UndecodablePdu as exc:
            log.warning("modem: skipped an undecodable status report: %s", exc)
            return
        await sink.delivery_report(report)
