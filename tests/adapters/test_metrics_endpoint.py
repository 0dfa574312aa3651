"""/metrics over a real socket from a running bridge, after real events (the
AMI double playing a recorded missed call, the text-back sent), read back with
prometheus-client's own parser - what a Prometheus server would ingest."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from bridge.app import Bridge
from bridge.config import Config
from bridge.core.calls import CallDecision
from bridge.ops.metrics import MetricsServer
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.store import Store
from sms_gateway.base import SendResult
from tests.support.ami import SECRET, fast_ami
from tests.support.expected import CALLER, trace
from tests.support.polling import until_true
from tests.support.ports import free_port
from tests.support.running import running
from tests.support.transports import AlwaysUp


class Sender(AlwaysUp):
    name = "modem"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, to: str, body: str, **_: object) -> SendResult:
        self.sent.append(to)
        return SendResult((len(self.sent),), 1)


def office_config(asterisk: FakeAsterisk, tmp_path: Path, metrics: dict[str, object]) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
            "ami": fast_ami(asterisk.port).model_dump() | {"secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line"}],
            "metrics": metrics,
            "store": {"path": str(tmp_path / "t.db")},
        },
        context={"region": "US"},
    )


@dataclass
class Scraped:
    samples: list[Sample]
    types: dict[str, str]

    def value(self, name: str, **labels: str) -> float | None:
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        return found[0] if found else None


@dataclass
class Running:
    bridge: Bridge
    server: MetricsServer
    sender: Sender
    decisions: asyncio.Queue[CallDecision]

    async def scrape(self) -> Scraped:
        assert self.server.address is not None
        host, port = self.server.address
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://{host}:{port}/metrics") as response,
        ):
            assert response.status == 200
            assert response.content_type == "text/plain"
            text = await response.text()
        families = list(text_string_to_metric_families(text))
        return Scraped([s for f in families for s in f.samples], {f.name: f.type for f in families})


@asynccontextmanager
async def office(
    asterisk: FakeAsterisk, tmp_path: Path, metrics: dict[str, object]
) -> AsyncIterator[Running]:
    config = office_config(asterisk, tmp_path, metrics)
    decisions: asyncio.Queue[CallDecision] = asyncio.Queue()
    sender = Sender()
    async with await Store.open(config.store.path) as store:
        bridge = Bridge(config, store, transport=sender, on_decision=decisions.put_nowait)
        assert bridge.metrics is not None
        async with running(bridge):
            async with asyncio.timeout(5):
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
                await bridge.metrics.ready.wait()
            yield Running(bridge, bridge.metrics, sender, decisions)


async def test_a_missed_call_texted_back_shows_in_the_scrape(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    async with office(asterisk, tmp_path, {"port": free_port()}) as o:
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))
        async with asyncio.timeout(5):
            await o.decisions.get()

        async def texted() -> bool:
            scraped = await o.scrape()
            sent = {"kind": "textback", "state": "sent", "transport": "modem"}
            return scraped.value("textback_texts_total", **sent) == 1

        await until_true(texted)
        scraped = await o.scrape()
        assert o.sender.sent == [CALLER]
        assert scraped.value("textback_decisions_total", outcome="missed", reason="NOANSWER") == 1
        assert scraped.value("textback_hangup_to_sent_seconds_count") == 1
        assert (scraped.value("textback_hangup_to_sent_seconds_sum") or -1) >= 0
        assert scraped.types["textback_hangup_to_sent_seconds"] == "histogram"
        assert scraped.value("textback_ami_up") == 1
        assert scraped.value("textback_ami_link_state", state="connected") == 1
        assert scraped.value("textback_transport_up", transport="modem") == 1
        assert scraped.value("textback_outbox_queued") == 0
        assert scraped.value("textback_outbox_oldest_queued_age_seconds") == 0
        assert scraped.value("textback_store_up") == 1
        assert scraped.value("textback_info", business="Acme Roofing", version="0.1.0") == 1
        # AMI drops; the link logs in again, and the scrape counts it.
        await asterisk.drop_connections()

        async def reconnected() -> bool:
            return (await o.scrape()).value("textback_ami_reconnects_total") == 1

        await until_true(reconnected)


async def test_the_listener_is_loopback_by_default_and_goes_with_the_bridge(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    port = free_port()
    async with office(asterisk, tmp_path, {"port": port}) as o:
        assert o.server.address == ("127.0.0.1", port)
        jobs = {s.name: s.state.value for s in o.bridge.supervisor.statuses()}
        assert jobs["metrics"] == "running"
        scraped = await o.scrape()
        assert scraped.value("textback_task_degraded", task="metrics") == 0
        assert scraped.value("textback_task_restarts_total", task="metrics") == 0
    # Stopped with the bridge: nothing is left listening.
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_no_metrics_section_no_listener(asterisk: FakeAsterisk, tmp_path: Path) -> None:
    config = office_config(asterisk, tmp_path, {}).model_copy(update={"metrics": None})
    async with await Store.open(config.store.path) as store:
        bridge = Bridge(config, store, transport=Sender())
        assert bridge.metrics is None
        assert "metrics" not in {s.name for s in bridge.supervisor.statuses()}
