"""What happens to an incoming text, against a real store: STOP recorded whole
or not at all, a copy of a text stored once, senders that are not phone
numbers kept but never taken for a lead."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.bus import Bus
from bridge.conversations.inbound import InboundHandler
from bridge.store import ConstraintViolation, Store
from sms_gateway.base import IncomingText
from tests.support.expected import CALLER
from tests.support.follow_through import MIKE, T0, Clock, settings, texted_back

SENT_BY_NETWORK = datetime(2026, 11, 25, 14, 59, 58, tzinfo=UTC)


@contextlib.asynccontextmanager
async def handler(tmp_path: Path) -> AsyncIterator[tuple[InboundHandler, Store, Clock]]:
    config = settings(tmp_path)
    clock = Clock()
    async with await Store.open(config.store.path, clock=clock) as store:
        yield InboundHandler(config, store, clock=clock, bus=Bus()), store, clock


def text(
    sender: str, body: str, *, network_time: datetime | None = SENT_BY_NETWORK
) -> IncomingText:
    return IncomingText(sender, body, T0, network_time=network_time)


def fail_on(db: Path, table: str, when: str = "1") -> None:
    """The disk gives out while this row is written (a trigger aborts it)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(
            f"CREATE TRIGGER fault BEFORE INSERT ON {table} WHEN {when}"
            " BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END"
        )
        conn.commit()


def heal(db: Path) -> None:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TRIGGER fault")
        conn.commit()


def confirmations(outbox: list[dict[str, object]]) -> list[object]:
    return [t["body"] for t in outbox if t["kind"] == "confirmation"]


@pytest.mark.parametrize(
    ("table", "when"),
    [("opt_outs", "1"), ("outbox", "NEW.kind = 'confirmation'")],
    ids=["opt-out row", "confirmation"],
)
async def test_stop_is_recorded_whole_or_not_at_all(tmp_path: Path, table: str, when: str) -> None:
    """Over SIP there is no SIM copy to read again: a STOP half-recorded (the
    thread closed, no opt-out) would let the next missed call be texted."""
    async with handler(tmp_path) as (inbound, store, clock):
        await texted_back(store, clock)
        fail_on(store.path, table, when)
        with pytest.raises(ConstraintViolation, match="injected"):
            await inbound.incoming_text(text(CALLER, "STOP", network_time=None))
        assert not await store.is_opted_out(CALLER)
        assert await store.inbox() == []
        summary = await store.thread_summary(1)
        assert summary is not None
        assert summary.status == "awaiting_reply"
        heal(store.path)
        await inbound.incoming_text(text(CALLER, "STOP", network_time=None))
        assert await store.is_opted_out(CALLER)
        assert len(confirmations(await store.outbox())) == 1
        summary = await store.thread_summary(1)
        assert summary is not None
        assert summary.status == "opted_out"


async def test_a_copy_of_a_text_from_the_sim_is_stored_once(tmp_path: Path) -> None:
    """After a crash between storing a text and deleting it from the SIM, the
    modem offers it again: the network's timestamp says it is the same one."""
    async with handler(tmp_path) as (inbound, store, clock):
        await texted_back(store, clock)
        for _ in range(2):
            await inbound.incoming_text(text(CALLER, "Need a roof repair quote"))
        for _ in range(2):
            await inbound.incoming_text(
                text(CALLER, "STOP", network_time=SENT_BY_NETWORK + timedelta(minutes=1))
            )
        assert [t["body"] for t in await store.inbox()] == ["STOP", "Need a roof repair quote"]
        assert len(confirmations(await store.outbox())) == 1
        # The same words sent again later are a new text.
        await inbound.incoming_text(
            text(CALLER, "START", network_time=SENT_BY_NETWORK + timedelta(minutes=2))
        )
        await inbound.incoming_text(
            text(CALLER, "STOP", network_time=SENT_BY_NETWORK + timedelta(minutes=3))
        )
        assert len(await store.inbox()) == 4
        assert len(confirmations(await store.outbox())) == 3


async def test_an_owners_command_seen_twice_acts_once(tmp_path: Path) -> None:
    async with handler(tmp_path) as (inbound, store, clock):
        await texted_back(store, clock)
        for _ in range(2):
            await inbound.incoming_text(text(MIKE, "1 On my way"))
        answers = [t for t in await store.outbox() if t["kind"] == "reply"]
        assert [a["body"] for a in answers] == ["On my way"]
        found = await store.thread(1)
        assert found is not None
        assert [e.what for e in found[1]].count("owner mike: reply") == 1


async def test_an_owner_command_fails_whole(tmp_path: Path) -> None:
    """Stored and carried out in one step: a failure leaves nothing behind, so
    the SIM copy read again is a fresh command, not a copy to ignore."""
    async with handler(tmp_path) as (inbound, store, clock):
        await texted_back(store, clock)
        fail_on(store.path, "owner_actions")
        with pytest.raises(ConstraintViolation, match="injected"):
            await inbound.incoming_text(text(MIKE, "DONE 1"))
        assert await store.inbox() == []
        heal(store.path)
        await inbound.incoming_text(text(MIKE, "DONE 1"))
        summary = await store.thread_summary(1)
        assert summary is not None
        assert summary.status == "handled"


@pytest.mark.parametrize("sender", ["AcmeBank", "72166", "VERIFY"])
async def test_a_sender_that_is_not_a_phone_number_is_kept_but_is_no_lead(
    tmp_path: Path, sender: str
) -> None:
    async with handler(tmp_path) as (inbound, store, _):
        await inbound.incoming_text(text(sender, "Your code is 1234. STOP to end"))
        await inbound.incoming_text(text(sender, "STOP", network_time=None))
        kept = await store.inbox()
        assert [(t["sender"], t["thread_id"]) for t in kept] == [(sender, None), (sender, None)]
        assert await store.threads() == []
        assert await store.unalerted() == []
        assert await store.outbox() == []  # no confirmation to a short code either


async def test_a_text_read_again_from_the_sim_is_filed_once(tmp_path: Path) -> None:
    """A crash between storing a text and deleting it from the SIM: the next
    run reads the very same PDU again. Over the pty, with the real transport."""
    from bridge.app_settings import modem_settings
    from bridge.config import ModemConfig
    from bridge.sim.modem import deliver_pdus
    from bridge.sim.modem_pty import SimulatedModem
    from sms_gateway.gsm_modem import GsmModemTransport
    from tests.support.polling import until

    (pdu,) = deliver_pdus(CALLER, "Need a roof repair quote", at=SENT_BY_NETWORK)
    async with (
        handler(tmp_path) as (inbound, store, clock),
        SimulatedModem(tmp_path / "tty") as sim,
    ):
        await texted_back(store, clock)
        settings = ModemConfig.model_validate(
            {"port": sim.path, "sweep_seconds": 3600, "command_timeout": 1},
            context={"region": "US"},
        )
        transport = GsmModemTransport(
            modem_settings(settings), reconnect_min=0.02, reconnect_max=0.1
        )
        task = asyncio.create_task(transport.run(inbound))
        try:
            async with asyncio.timeout(5):
                await transport.wait_ready()
            for copy in (1, 2):
                sim.engine.store[1] = (0, pdu)
                sim.send_raw(b'\r\n+CMTI: "ME",1\r\n')
                await until(lambda copy=copy: len(sim.engine.deleted) == copy)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        (filed,) = await store.inbox()
    assert (filed["body"], filed["thread_id"]) == ("Need a roof repair quote", 1)
