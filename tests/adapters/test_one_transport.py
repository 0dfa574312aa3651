"""A text that may have gone out stays with the transport that had it (issue 15, item 1).

A line texting over SIP with the modem as fallback (``transports: [sip,
modem]``): a text only moves to the next transport when it certainly never
left; one that may have gone out is settled or resent where it went, after a
failure or a restart, and fails visibly if that transport is no longer
configured. The transports here are scripted doubles behind the real outbox
and a real store, so each outcome is chosen exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.bus import Bus
from bridge.core.texts import OutgoingText
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.base import Handover, SendError, SendResult, TransportStatus
from tests.support.expected import CALLER
from tests.support.polling import until, until_true

LINE = "+15125550100"


@dataclass
class Attempt:
    maybe_sent_before: bool
    slots: tuple[int, ...]


@dataclass
class Scripted:
    """A transport whose sends go as scripted: each entry an exception to raise
    after the handover (or before it, ``early``), None for a sent text."""

    name: str
    script: list[SendError | None] = field(default_factory=list)
    early: bool = False  # fail before the handover: certainly never left
    slots: tuple[int, ...] = ()
    connected: bool = True
    attempts: list[Attempt] = field(default_factory=list)
    held: set[int] = field(default_factory=set)
    released: list[list[int]] = field(default_factory=list)
    on_state: None = None
    before_handover: list[object] = field(default_factory=list)  # awaitables to run first

    async def run(self, sink: object) -> None:
        await asyncio.Event().wait()

    async def send(
        self,
        to: str,
        body: str,
        *,
        key: int = 0,
        maybe_sent_before: bool = False,
        slots: Sequence[int] = (),
        on_handover: Handover | None = None,
        from_line: str | None = None,
    ) -> SendResult:
        self.attempts.append(Attempt(maybe_sent_before, tuple(slots)))
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None and self.early:
            raise outcome
        for step in self.before_handover:
            await step  # type: ignore[misc]
        self.before_handover.clear()
        if on_handover is not None:
            await on_handover(self.slots)
        if outcome is not None:
            raise outcome
        return SendResult((key % 256,), 1)

    def holds(self, slots: Collection[int]) -> None:
        self.held = set(slots)

    async def release(self, slots: Sequence[int]) -> None:
        self.released.append(list(slots))

    def status(self) -> TransportStatus:
        return TransportStatus(self.name, connected=self.connected)

    async def wait_ready(self) -> None:
        return None


def maybe_sent() -> SendError:
    return SendError("no answer in time; it may have gone out", retryable=True, maybe_sent=True)


def refused() -> SendError:
    return SendError("MessageSend refused: Message failed to send.", retryable=True)


@asynccontextmanager
async def outbox_with(
    tmp_path: Path, *transports: Scripted, store: Store | None = None
) -> AsyncIterator[tuple[Store, int]]:
    """The outbox running over ``transports`` (the line's order), one text queued."""
    async with await Store.open(tmp_path / "t.db") as opened:
        later = datetime.now(UTC) + timedelta(minutes=30)
        text_id = await opened.queue_text(OutgoingText(CALLER, "Sorry we missed you", 1, later))
        async with running(opened, *transports):
            yield opened, text_id


@asynccontextmanager
async def running(store: Store, *transports: Scripted) -> AsyncIterator[None]:
    names = [t.name for t in transports]
    worker = OutboxWorker(
        store,
        Transports({t.name: t for t in transports}, lambda line: names),
        clock=lambda: datetime.now(UTC),
        poll_every=0.02,
        retry_min=timedelta(milliseconds=10),
        home="US",
        bus=Bus(),
    )
    task = asyncio.create_task(worker.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def state_of(store: Store, text_id: int) -> dict[str, object]:
    return next(r for r in await store.outbox() if r["id"] == text_id)


async def settled(store: Store, text_id: int, state: str) -> None:
    async def reached() -> bool:
        return (await state_of(store, text_id))["state"] == state

    await until_true(reached)


async def test_a_text_that_may_have_gone_out_over_sip_is_retried_over_sip_only(
    tmp_path: Path,
) -> None:
    sip, modem = Scripted("sip", [maybe_sent(), maybe_sent()]), Scripted("modem")
    async with outbox_with(tmp_path, sip, modem) as (store, text_id):
        await settled(store, text_id, "sent")
    assert [a.maybe_sent_before for a in sip.attempts] == [False, True, True]
    assert modem.attempts == []


async def test_a_text_that_certainly_never_left_falls_back_to_the_next_transport(
    tmp_path: Path,
) -> None:
    sip, modem = Scripted("sip", [refused()], early=True), Scripted("modem")
    async with outbox_with(tmp_path, sip, modem) as (store, text_id):
        await settled(store, text_id, "sent")
        row = await state_of(store, text_id)
    assert len(sip.attempts) == 1
    assert len(modem.attempts) == 1
    assert not modem.attempts[0].maybe_sent_before
    assert row["transport"] == "modem"


async def test_a_refusal_after_the_handover_is_definite_and_may_fall_back(tmp_path: Path) -> None:
    """Asterisk answered Error to MessageSend: it never left, though it was handed over."""
    sip, modem = Scripted("sip", [refused()]), Scripted("modem")
    async with outbox_with(tmp_path, sip, modem) as (store, text_id):
        await settled(store, text_id, "sent")
    assert len(modem.attempts) == 1
    assert not modem.attempts[0].maybe_sent_before


async def test_after_a_restart_a_text_left_sending_waits_for_its_own_transport(
    tmp_path: Path,
) -> None:
    """The lab case, by its store: the modem had it when the bridge died; SIP is up."""
    async with await Store.open(tmp_path / "t.db") as store:
        later = datetime.now(UTC) + timedelta(minutes=30)
        text_id = await store.queue_text(OutgoingText(CALLER, "Sorry we missed you", 1, later))
        assert await store.mark_sending(text_id, "modem", [4])
    sip, modem = Scripted("sip"), Scripted("modem", connected=False, slots=(4,))
    async with await Store.open(tmp_path / "t.db") as store, running(store, sip, modem):
        await until(lambda: modem.held == {4})  # told at start what it still holds
        row = await state_of(store, text_id)
        assert (row["state"], row["maybe_sent"], row["transport"]) == ("queued", 1, "modem")
        modem.connected = True
        await settled(store, text_id, "sent")
    assert sip.attempts == []
    assert modem.attempts == [Attempt(True, (4,))]
    assert modem.released == [[4]]


async def test_a_maybe_sent_text_whose_transport_was_removed_fails_saying_why(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "t.db") as store:
        later = datetime.now(UTC) + timedelta(minutes=30)
        text_id = await store.queue_text(OutgoingText(CALLER, "Sorry we missed you", 1, later))
        assert await store.mark_sending(text_id, "sip")
    modem = Scripted("modem")  # sip taken out of the config since
    async with await Store.open(tmp_path / "t.db") as store, running(store, modem):
        await settled(store, text_id, "failed")
        row = await state_of(store, text_id)
    assert modem.attempts == []
    assert "sip, which is no longer configured" in str(row["last_error"])


async def test_a_stop_that_lands_before_the_handover_withdraws_the_text(tmp_path: Path) -> None:
    modem = Scripted("modem", slots=(2, 3))
    async with await Store.open(tmp_path / "t.db") as store:
        later = datetime.now(UTC) + timedelta(minutes=30)
        text_id = await store.queue_text(OutgoingText(CALLER, "Sorry we missed you", 1, later))
        # The caller's STOP is stored while the modem is busy writing the parts.
        modem.before_handover.append(store.mark_final(text_id, "cancelled", "opted out"))
        async with running(store, modem):
            await until_true(lambda: _released(modem))
        row = await state_of(store, text_id)
    assert row["state"] == "cancelled"
    assert modem.released == [[2, 3]]  # nothing of it left in the modem


async def _released(transport: Scripted) -> bool:
    return bool(transport.released)
