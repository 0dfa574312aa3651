"""The FastAGI route: panoramisk's two defects fixed here (each shown on the bare
library in tests/upstream/test_panoramisk.py), the allowlist, and one text
whichever of AGI and AMI reports a call first."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, fields, replace
from pathlib import Path

import pytest

from agi.report import DialplanReport
from agi.server import AgiServer, FixedApplication
from bridge.app import Bridge
from bridge.app_settings import agi_settings
from bridge.config import AgiConfig, Config
from bridge.core.calls import CallReport, Outcome, Reason
from bridge.detection.dialplan import call_report
from bridge.sim.agi_client import AgiCall, run_agi
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.store import Store
from tests.support.ami import SECRET, fast_ami
from tests.support.expected import CALLER, trace
from tests.support.polling import until, until_true
from tests.support.running import running

LINKEDID = "1795617278.10"  # the call in 02_noanswer.ami
SHIPPED_ARGS = (  # what config/asterisk/extensions.conf passes, as Asterisk expands it
    f"linkedid={LINKEDID}", "did=+15125550100", "dialstatus=NOANSWER", "vmstatus=",
    "vmfile=", "queuestatus=",
)  # fmt: skip


async def hang_up_early_then_ask_again(port: int) -> bool:
    """A client leaves half-way through its request; does the server still
    answer the next one (close it after its route ran)?"""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_network: yes\nagi_network_script: missed\n")  # no blank line
    await writer.drain()
    writer.close()
    try:
        await run_agi("127.0.0.1", port, AgiCall(arguments=SHIPPED_ARGS), within=2)
    except TimeoutError:
        return False
    return True


@asynccontextmanager
async def serving(config: AgiConfig, reports: list[DialplanReport]) -> AsyncIterator[AgiServer]:
    server = AgiServer(agi_settings(config), reports.append)
    task = asyncio.create_task(server.run())
    try:
        async with asyncio.timeout(5):
            await server.ready.wait()
        yield server
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_early_hang_up_is_logged_and_the_next_call_served(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reports: list[DialplanReport] = []
    async with serving(AgiConfig(port=free_port(), header_timeout=1), reports) as server:
        assert server.port is not None
        assert await hang_up_early_then_ask_again(server.port)
    assert [r.linkedid for r in reports] == [LINKEDID]
    assert "hung up before the end of its request" in caplog.text


async def test_a_plain_route_is_accepted_and_runs() -> None:
    seen: list[str] = []
    app = FixedApplication(header_timeout=1, allow=lambda address: True)
    app.add_route("hello", lambda request: seen.append(request.headers["agi_channel"]))
    server = await asyncio.start_server(app.handler, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        await run_agi("127.0.0.1", port, AgiCall(script="hello"))
    assert seen == ["PJSIP/trunk-00000007"]


async def test_a_peer_not_allowed_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    reports: list[DialplanReport] = []
    settings = AgiConfig(port=free_port(), allow=["192.0.2.10/32"])  # type: ignore[list-item]
    with caplog.at_level(logging.WARNING):
        async with serving(settings, reports) as server:
            assert server.port is not None
            for _ in range(2):
                commands = await run_agi("127.0.0.1", server.port, AgiCall(arguments=SHIPPED_ARGS))
                assert commands == []  # closed without a word
    assert reports == []
    assert caplog.text.count("FastAGI: refused 127.0.0.1 (not in agi.allow)") == 1


def test_listening_beyond_loopback_needs_an_allowlist() -> None:
    with pytest.raises(ValueError, match="list the PBX"):
        AgiConfig(host="0.0.0.0")
    with pytest.raises(ValueError, match="would let anyone"):
        AgiConfig(host="0.0.0.0", allow=["0.0.0.0/0"])  # type: ignore[list-item]
    assert AgiConfig().host == "127.0.0.1"


async def test_without_the_linkedid_argument_the_route_asks_the_channel() -> None:
    reports: list[DialplanReport] = []
    call = AgiCall(
        arguments=("dialstatus=BUSY",), uniqueid="999.1", variables={"CHANNEL(linkedid)": "555.2"}
    )
    async with serving(AgiConfig(port=free_port()), reports) as server:
        assert server.port is not None
        commands = await run_agi("127.0.0.1", server.port, call)
    assert commands == ['GET VARIABLE "CHANNEL(linkedid)"']
    assert [(r.linkedid, r.dial_status, r.exten) for r in reports] == [
        ("555.2", "BUSY", "+15125550100")
    ]


def office(asterisk: FakeAsterisk, tmp_path: Path, agi_port: int) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
            "ami": fast_ami(asterisk.port).model_dump() | {"secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line"}],
            "sip": {"endpoint": "provider-trunk", "host": "sip.provider.example"},
            "agi": {"port": agi_port},
            "store": {"path": str(tmp_path / "t.db")},
        },
        context={"region": "US"},
    )


@pytest.mark.parametrize("reports", [["agi"], ["ami"], ["agi", "ami"], ["ami", "agi"]])
async def test_one_text_whichever_reports_the_call(
    asterisk: FakeAsterisk, tmp_path: Path, reports: list[str]
) -> None:
    agi_port = free_port()
    config = office(asterisk, tmp_path, agi_port)
    async with (
        await Store.open(config.store.path) as store,
        running(Bridge(config, store)) as bridge,
    ):
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
            assert bridge.agi is not None
            await bridge.agi.ready.wait()
        for source in reports:
            if source == "agi":
                await run_agi("127.0.0.1", agi_port, AgiCall(arguments=SHIPPED_ARGS))
            else:
                await asterisk.play(recorded_events(trace("02_noanswer.ami")))

            async def decided() -> bool:
                return len(await store.recent_calls()) == 1

            await until_true(decided)
            await until(lambda: len(asterisk.messages) == 1)
        # Both reports are in: still one call, one text.
        (call,) = await store.recent_calls()
        assert (call.linkedid, call.outcome, call.reason) == (
            LINKEDID,
            Outcome.MISSED.value,
            Reason.NOANSWER.value,
        )
        assert call.source == reports[0]
        assert call.caller == CALLER
        assert len(asterisk.messages) == 1
    assert len(asterisk.messages) == 1


async def test_an_answered_or_internal_call_reported_over_agi_is_not_texted(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    agi_port = free_port()
    config = office(asterisk, tmp_path, agi_port)
    answered = AgiCall(uniqueid="1.1", arguments=("linkedid=1.1", "dialstatus=ANSWER"))
    internal = AgiCall(
        uniqueid="2.2", callerid="201", context="from-internal", extension="202", dnid="202",
        arguments=("linkedid=2.2", "dialstatus=NOANSWER"),
    )  # fmt: skip
    async with (
        await Store.open(config.store.path) as store,
        running(Bridge(config, store)) as bridge,
    ):
        async with asyncio.timeout(5):
            assert bridge.agi is not None
            await bridge.agi.ready.wait()
        await run_agi("127.0.0.1", agi_port, answered)
        await run_agi("127.0.0.1", agi_port, internal)

        async def both() -> bool:
            return len(await store.recent_calls()) == 2

        await until_true(both)
        outcomes = {c.linkedid: c.outcome for c in await store.recent_calls()}
    assert outcomes == {"1.1": "answered", "2.2": "internal"}
    assert asterisk.messages == []


def test_the_dialplans_report_maps_onto_the_call_detection_decides() -> None:
    """agi/ has its own report type; every field reaches bridge.core's, the
    statuses as they are, the answer, queue and state variables read."""
    report = DialplanReport(
        linkedid="1.1", channel="PJSIP/trunk-1", context="from-trunk", exten="+15125550100",
        caller_raw="+15125559876", caller_name="Jane", did="+15125550100",
        dial_status="NOANSWER", vm_status="SUCCESS", vm_message_file="/var/spool/m",
        queue_status="TIMEOUT",
    )  # fmt: skip
    plain = {f.name for f in fields(CallReport)} & {f.name for f in fields(DialplanReport)}
    mapped = asdict(call_report(report))
    assert {name: mapped[name] for name in plain} == {name: getattr(report, name) for name in plain}
    assert (mapped["answered_by"], mapped["queue_abandoned"], mapped["pbx_answered"]) == (
        "", False, False,
    )  # fmt: skip
    read = call_report(
        replace(report, answered_time="12", dialed_peer="PJSIP/201-0000001", abandoned="TRUE",
                channel_state="Up")
    )  # fmt: skip
    assert (read.answered_by, read.queue_abandoned, read.pbx_answered) == (
        "PJSIP/201-0000001", True, True,
    )  # fmt: skip
    member = call_report(replace(report, member="PJSIP/202"))
    assert member.answered_by == "PJSIP/202"
