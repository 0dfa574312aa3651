"""doctor and what the AMI user may read (a real Asterisk 22 with read=system
only passed every check, and then `textback run` decided no call), and the
FastAGI route's two ends."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from bridge.ops.doctor import Check, diagnose
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from tests.support.ami import SECRET
from tests.support.expected import trace


def config_file(tmp_path: Path, ami_port: int, agi_port: int | None = None) -> Path:
    text = f"""
lab: true
business: {{name: Acme Roofing}}
ami: {{port: {ami_port}, username: textback, secret: {SECRET}, connect_timeout: 2,
       reconnect_min: 0.05}}
lines: [{{did: "+15125550100", name: Main line}}]
store: {{path: {tmp_path / "textback.db"}}}
"""
    if agi_port is not None:
        text += f"agi: {{port: {agi_port}}}\n"
    path = tmp_path / "textback.yaml"
    path.write_text(text)
    return path


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def ringing() -> list[bytes]:
    """A call still ringing: its channels are up on the PBX."""
    events = recorded_events(trace("02_noanswer.ami"))
    return events[: next(i for i, e in enumerate(events) if b"Event: DialEnd" in e)]


async def test_a_user_blind_to_calls_fails_when_calls_are_up(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET, read_classes=frozenset({"system"})) as asterisk:
        await asterisk.play(ringing())  # nobody logged in yet: only the channel list grows
        found = by_name(await diagnose(str(config_file(tmp_path, asterisk.port))))
    check = found["AMI read classes"]
    assert not check.ok
    assert check.message.startswith("2 channel(s) are up but Asterisk sends this user no call")
    assert "no call is ever decided" in check.message
    assert check.fix.startswith("manager.conf: read = call,dialplan,agent,system,user")


async def test_an_idle_pbx_proves_nothing_and_says_how_to_prove_it(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET, read_classes=frozenset({"system"})) as asterisk:
        found = by_name(await diagnose(str(config_file(tmp_path, asterisk.port))))
    check = found["AMI read classes"]
    assert check.ok
    assert "--wait-for-call 60" in check.message


async def test_a_test_call_proves_each_class(tmp_path: Path) -> None:
    async def place_a_call(asterisk: FakeAsterisk) -> None:
        await asterisk.wait_for(lambda: asterisk.sessions == 1)
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))

    for classes, ok, said in [
        ({"call", "dialplan", "agent", "system", "user"}, True, "call events arriving"),
        ({"call", "system"}, False, "no dialplan events: reasons degrade"),
        ({"system"}, False, "a test call was placed but Asterisk sends this user no call"),
    ]:
        async with FakeAsterisk(secret=SECRET, read_classes=frozenset(classes)) as asterisk:
            config = str(config_file(tmp_path, asterisk.port))
            caller = asyncio.create_task(place_a_call(asterisk))
            found = by_name(await diagnose(config, wait_for_call=3))
            await caller
        check = found["AMI read classes"]
        assert (check.ok, check.message.startswith(said)) == (ok, True), check.message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_the_fastagi_listener_and_its_dialplan_context(tmp_path: Path) -> None:
    port = free_port()
    async with FakeAsterisk(
        secret=SECRET, write_classes=frozenset({"system", "reporting"})
    ) as asterisk:
        free = by_name(await diagnose(str(config_file(tmp_path, asterisk.port, port))))
        asterisk.dialplan_contexts = frozenset({"from-trunk"})
        busy = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
        async with busy:
            taken = by_name(await diagnose(str(config_file(tmp_path, asterisk.port, port))))
    assert (
        free["FastAGI"].line()
        == f"ok   FastAGI: 127.0.0.1:{port} is free: `textback run` will listen there"
    )
    assert (
        free["FastAGI dialplan"].line()
        == "ok   FastAGI dialplan: the [textback-report] context is loaded"
    )
    assert taken["FastAGI"].message == f"127.0.0.1:{port} answers (the running bridge)"
    assert not taken["FastAGI dialplan"].ok
    assert taken["FastAGI dialplan"].message == "Asterisk has no [textback-report] context"


async def test_the_dialplan_context_is_not_checked_without_the_right(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET) as asterisk:  # write = system,message
        found = by_name(await diagnose(str(config_file(tmp_path, asterisk.port, free_port()))))
    assert found["FastAGI dialplan"].ok
    assert found["FastAGI dialplan"].message.startswith("not checked: this AMI user may not")
