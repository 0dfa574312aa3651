"""The outbox's batches (issue 14 item 6): fresh texts due together go through
the modem as one run - each written to its storage, all claimed in one
commit, each sent, all marked sent in one commit, and only then their slots
deleted - with every guarantee of one text at a time: a STOP meanwhile still
holds a text back, and a crash between the steps leaves each text to be
settled from its slot, sent exactly once.

The real store, outbox worker and modem transport against the simulated modem.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.app_settings import modem_settings
from bridge.bus import Bus
from bridge.config import ModemConfig
from bridge.core.texts import OutgoingText
from bridge.sim.modem import ModemEngine
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.base import DeliveryReport, IncomingText
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.polling import until, until_true

LATER = datetime.now(UTC) + timedelta(minutes=30)
CALLERS = [f"+1512555{n:04d}" for n in range(2000, 2005)]


class _Sink:
    async def incoming_text(self, text: IncomingText) -> None:
        return None

    async def delivery_report(self, report: DeliveryReport) -> None:
        return None


def transport_for(sim: SimulatedModem, texts_per_minute: int = 60) -> GsmModemTransport:
    """``texts_per_minute`` above the config's 60: a burst without the rate limit."""
    config = ModemConfig.model_validate(
        {"port": sim.path, "sweep_seconds": 3600, "texts_per_minute": 60},
        context={"region": "US"},
    ).model_copy(update={"texts_per_minute": texts_per_minute})
    return GsmModemTransport(modem_settings(config), reconnect_min=0.02)


@asynccontextmanager
async def running(store: Store, transport: GsmModemTransport) -> AsyncIterator[OutboxWorker]:
    """The transport and an outbox worker over it, running until the block ends."""
    worker = OutboxWorker(
        store, Transports.only(transport), clock=lambda: datetime.now(UTC),
        poll_every=0.05, home="US", bus=Bus(),
    )  # fmt: skip
    link = asyncio.create_task(transport.run(_Sink()))
    async with asyncio.timeout(5):
        await transport.wait_ready()
    outbox = asyncio.create_task(worker.run())
    try:
        yield worker
    finally:
        for task in (outbox, link):
            task.cancel()
        await asyncio.gather(outbox, link, return_exceptions=True)


async def queue(store: Store, numbers: Sequence[str], kind: str = "textback") -> None:
    for number in numbers:
        await store.queue_text(
            OutgoingText(number, f"Sorry we missed you, {number}", 1, LATER, kind)
        )


async def states(store: Store) -> dict[str, str]:
    return {str(r["to_number"]): str(r["state"]) for r in await store.outbox()}


def all_settled(store: Store, count: int) -> object:
    async def settled() -> bool:
        found = await states(store)
        return len(found) == count and not {"queued", "sending"} & set(found.values())

    return settled


def modem_steps(engine: ModemEngine) -> list[str]:
    wanted = ("AT+CMGW=", "AT+CMSS=", "AT+CMGD=")
    return [c.split("=")[0] for c in engine.commands if c.startswith(wanted) and "=?" not in c]


def transactions(statements: list[str]) -> list[list[str]]:
    """The statements run between each BEGIN and its COMMIT."""
    found: list[list[str]] = []
    open_ = False
    for sql in statements:
        if sql.startswith("BEGIN"):
            found.append([])
            open_ = True
        elif sql.startswith(("COMMIT", "ROLLBACK")):
            open_ = False
        elif open_:
            found[-1].append(sql)
    return found


async def test_texts_due_together_are_claimed_and_marked_sent_in_one_commit_each(
    tmp_path: Path,
) -> None:
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        await queue(store, CALLERS)
        seen: list[str] = []
        store._db.probe = lambda sql, params: seen.append(" ".join(sql.split()))  # type: ignore[attr-defined]
        async with running(store, transport_for(sim)):
            await until_true(all_settled(store, len(CALLERS)))
            await until(lambda: modem_steps(sim.engine).count("AT+CMGD") == len(CALLERS))
        found = await states(store)

    assert set(found.values()) == {"sent"}
    assert sorted(s.number for s in sim.engine.sent) == CALLERS
    # Every text stored, then every one sent, then the slots deleted: nothing between sends.
    assert modem_steps(sim.engine) == ["AT+CMGW"] * 5 + ["AT+CMSS"] * 5 + ["AT+CMGD"] * 5
    claims = [t for t in transactions(seen) if any("state = 'sending'" in s for s in t)]
    marks = [t for t in transactions(seen) if any("state = 'sent'" in s for s in t)]
    assert [len(t) for t in claims] == [5]  # one commit claims them all
    assert len(marks) == 1  # and one marks them all sent
    assert not [s for s in seen if s.startswith("SELECT opted_out")]  # read with the due texts


async def test_a_text_to_a_number_that_opted_out_is_cancelled_and_the_rest_go(
    tmp_path: Path,
) -> None:
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        now = datetime.now(UTC)
        await store.set_opt_out(CALLERS[1], opted_out=True, keyword="STOP", source="sms", at=now)
        await queue(store, CALLERS[:3], kind="owner_notice")  # queued after the STOP
        async with running(store, transport_for(sim)):
            await until_true(all_settled(store, 3))
        found = await states(store)

    assert found == {CALLERS[0]: "sent", CALLERS[1]: "cancelled", CALLERS[2]: "sent"}
    assert sorted(s.number for s in sim.engine.sent) == [CALLERS[0], CALLERS[2]]


class _StopDuringTheBatch:
    """The store, with a STOP from ``number`` landing just before the batch's claim."""

    def __init__(self, store: Store, number: str):
        self._store = store
        self._number = number

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def claim_batch(
        self, transport: str, slots: Mapping[int, Sequence[int]]
    ) -> frozenset[int]:
        now = datetime.now(UTC)
        await self._store.set_opt_out(self._number, opted_out=True, keyword="STOP",
                                      source="sms", at=now)  # fmt: skip
        return await self._store.claim_batch(transport, slots)


async def test_a_stop_while_a_batch_is_stored_holds_its_text_back(tmp_path: Path) -> None:
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        await queue(store, CALLERS[:3])
        stopping = _StopDuringTheBatch(store, CALLERS[1])
        async with running(stopping, transport_for(sim)):  # type: ignore[arg-type]
            await until_true(all_settled(store, 3))
            await until(lambda: not sim.engine.store)  # the withdrawn text's slot too
        found = await states(store)

    assert found == {CALLERS[0]: "sent", CALLERS[1]: "cancelled", CALLERS[2]: "sent"}
    assert sorted(s.number for s in sim.engine.sent) == [CALLERS[0], CALLERS[2]]


async def test_a_crash_in_the_middle_of_a_batch_sends_each_text_exactly_once(
    tmp_path: Path,
) -> None:
    """Stopped dead after the second AT+CMSS, before the sent mark: the restart
    settles each text from its slot (an SMSC that ignores TP-RD: only the
    modem's record can keep it to one)."""
    engine = ModemEngine(smsc_honours_rd=False)
    async with (
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        await queue(store, CALLERS[:4])
        crashed = asyncio.Event()
        feed = engine.feed

        def feeding(data: bytes) -> bytes:
            reply = feed(data)
            if modem_steps(engine).count("AT+CMSS") == 2:
                crashed.set()
                return b""  # dead: the answer never reaches the bridge
            return reply

        engine.feed = feeding  # type: ignore[method-assign]
        async with running(store, transport_for(sim)):
            await crashed.wait()
        vars(engine).pop("feed")
        assert set((await states(store)).values()) == {"sending"}  # no sent mark yet

        # The restart: a new process's transport, told what the store holds.
        transport = transport_for(sim)
        transport.holds(await store.held_slots("modem"))
        async with running(store, transport):
            await until_true(all_settled(store, 4))
            await until(lambda: not engine.store)
        found = await states(store)

    assert set(found.values()) == {"sent"}
    assert sorted(s.number for s in engine.sent) == CALLERS[:4]  # each exactly once


async def test_texts_a_full_storage_leaves_out_of_a_batch_go_one_at_a_time(
    tmp_path: Path,
) -> None:
    engine = ModemEngine(capacity=2)  # room for two of the batch's four
    async with (
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        await queue(store, CALLERS[:4])
        async with running(store, transport_for(sim)):
            await until_true(all_settled(store, 4))
        found = await states(store)

    assert set(found.values()) == {"sent"}
    assert sorted(s.number for s in engine.sent) == CALLERS[:4]  # each exactly once


async def test_a_burst_deletes_its_slots_once_every_batch_has_gone(tmp_path: Path) -> None:
    callers = [f"+1512555{n:04d}" for n in range(3000, 3045)]  # three reads: 20, 20 and 5
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        await queue(store, callers)
        async with running(store, transport_for(sim, texts_per_minute=1000)):
            await until_true(all_settled(store, len(callers)))
            await until(lambda: not sim.engine.store)  # deleted once the queue is drained
        found = await states(store)

    assert set(found.values()) == {"sent"}
    assert sorted(s.number for s in sim.engine.sent) == callers  # each exactly once
    steps = modem_steps(sim.engine)
    last_send = len(steps) - steps[::-1].index("AT+CMSS")
    assert "AT+CMGD" not in steps[:last_send]  # no deletion between two batches
    assert steps[last_send:] == ["AT+CMGD"] * len(callers)


async def test_a_burst_larger_than_the_storage_still_goes_through_it(tmp_path: Path) -> None:
    engine = ModemEngine(capacity=25)  # a SIM's storage: a batch and a bit
    callers = [f"+1512555{n:04d}" for n in range(3000, 3045)]
    async with (
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
        await Store.open(tmp_path / "t.db") as store,
    ):
        await queue(store, callers)
        async with running(store, transport_for(sim, texts_per_minute=1000)):
            await until_true(all_settled(store, len(callers)))
            await until(lambda: not engine.store)
        found = await states(store)

    assert set(found.values()) == {"sent"}
    assert sorted(s.number for s in engine.sent) == callers  # each exactly once
    # Room was made from the settled texts: every text was stored before it was sent.
    assert not [c for c in engine.commands if c.startswith("AT+CMGS=")]
    assert modem_steps(engine).count("AT+CMSS") == len(callers)
