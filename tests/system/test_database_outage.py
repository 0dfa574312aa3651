"""A bridge whose PostgreSQL server goes away mid-run (issue 14 item 3): the
real server is stopped while calls ring out. The bridge says so (the log
once, its heartbeat), keeps deciding calls and holds the decisions; when the
server is started again it writes them in order and texts each caller once -
nothing lost, nothing doubled."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bridge.app import Bridge, utc_now
from bridge.app_settings import modem_settings
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem
from bridge.store.postgres import PostgresStore
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.ami import SECRET
from tests.support.calls import ShiftedClock
from tests.support.office import config_for
from tests.support.polling import until, until_true
from tests.support.postgres_server import PostgresServer, serve
from tests.support.running import running

CALLERS = ("+15125550141", "+15125550142", "+15125550143")


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own: it is stopped mid-test, and no other test
    may find the shared one away."""
    yield from serve()


def missed_call(n: int) -> bytes:
    pbx = callgen.Pbx(epoch=1_795_620_000 + 100 * n, caller=CALLERS[n])
    return callgen.render("no_answer", pbx=pbx, banner=False)


@contextlib.asynccontextmanager
async def on_postgres(
    tmp_path: Path, server: PostgresServer, clock: ShiftedClock | None = None
) -> AsyncIterator[tuple[FakeAsterisk, SimulatedModem, Bridge]]:
    """One bridge on its own database of ``server``, logged in to the AMI
    double, its simulated modem ready."""
    url = await server.fresh("outage")
    async with contextlib.AsyncExitStack() as stack:
        asterisk = await stack.enter_async_context(FakeAsterisk(secret=SECRET))
        modem = await stack.enter_async_context(SimulatedModem(tmp_path / "ttyUSB0"))
        config = config_for(asterisk, modem.path, tmp_path / "textback.db")
        assert config.modem is not None
        store = await stack.enter_async_context(await PostgresStore.open(url))
        transport = GsmModemTransport(modem_settings(config.modem), reconnect_min=0.02)
        bridge = Bridge(
            config, store, transport=transport, clock=clock or utc_now, store_retry_min=0.05
        )
        await stack.enter_async_context(running(bridge))
        await transport.wait_ready()
        await until(lambda: asterisk.sessions == 1)
        yield asterisk, modem, bridge


@pytest.mark.slow
async def test_calls_while_the_database_is_away_are_texted_once_when_it_is_back(
    tmp_path: Path, own_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.detection.recorder")
    async with on_postgres(tmp_path, own_server) as (asterisk, modem, bridge):
        store = bridge.store

        await asterisk.play(recorded_events(missed_call(0)))
        await until(lambda: len(modem.engine.sent) == 1)

        own_server.stop()  # the database goes away; the PBX does not
        for n in (1, 2):
            await asterisk.play(recorded_events(missed_call(n)))
        recorder = bridge.recorder
        await until(lambda: recorder.held == 2 and recorder.away_since is not None, within=10)
        words = bridge._snapshot().store_words
        assert words is not None
        assert "the store is unreachable since" in words
        assert words.endswith("2 decisions held")
        going = [r for r in caplog.records if "cannot store" in r.getMessage()]
        assert len(going) == 1  # said once, however many retries

        own_server.start()
        await until(lambda: len(modem.engine.sent) == 3, within=20)
        assert bridge.recorder.away_since is None
        assert any("accepts writes again" in r.getMessage() for r in caplog.records)
        sent_to = sorted(s.number for s in modem.engine.sent)
        assert sent_to == sorted(CALLERS)  # each caller texted once
        calls = await store.recent_calls()
        assert sorted(c.caller for c in calls) == sorted(CALLERS)  # each call decided once

        async def all_marked_sent() -> bool:  # the modem has them; the store's mark follows
            return {c.text_state for c in await store.recent_calls()} == {"sent"}

        await until_true(all_marked_sent)
        # The workers that read the store waited for it: none crashed meanwhile.
        assert [job.name for job in bridge.supervisor.degraded()] == []


@pytest.mark.slow
async def test_a_call_held_past_its_window_is_stored_with_why_and_never_texted(
    tmp_path: Path, own_server: PostgresServer
) -> None:
    clock = ShiftedClock()
    async with on_postgres(tmp_path, own_server, clock) as (asterisk, modem, bridge):
        store = bridge.store

        recorder = bridge.recorder
        own_server.stop()
        try:
            await asterisk.play(recorded_events(missed_call(1)))
            await until(lambda: recorder.held == 1 and recorder.away_since is not None)
            clock.advance(minutes=20)
            await asterisk.play(recorded_events(missed_call(2)))
            await until(lambda: recorder.held == 2)
            # The first call is now past texting.expire_after_minutes (30) after it ended.
            clock.advance(minutes=15)
        finally:
            own_server.start()

        await until(lambda: bridge.outbox is not None and bridge.outbox.sent == 1, within=20)
        calls = sorted(await store.recent_calls(), key=lambda c: c.id)  # committed in order
        assert [c.caller for c in calls] == [CALLERS[1], CALLERS[2]]
        assert [(c.text_skip, c.text_state) for c in calls] == [("too-late", None), (None, "sent")]
        assert [t["to_number"] for t in await store.outbox()] == [CALLERS[2]]
        assert [s.number for s in modem.engine.sent] == [CALLERS[2]]
