"""The real bridge against the AMI double, over a loopback socket."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bridge.ami import actions
from bridge.ami.framer import AmiFramer, AmiMessage
from bridge.ami.link import AmiLink, LinkState, NotConnected
from bridge.app import Bridge
from bridge.config import Config
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.store import Store
from tests.support.ami import SECRET, fast_ami
from tests.support.expected import CALLER, REAL_TRACES, trace
from tests.support.polling import until
from tests.support.running import running


class States:
    """Link states as they are reported, awaitable."""

    def __init__(self) -> None:
        self.seen: list[tuple[LinkState, str]] = []
        self._changed = asyncio.Event()

    def __call__(self, state: LinkState, detail: str) -> None:
        self.seen.append((state, detail))
        self._changed.set()

    async def wait(self, state: LinkState, count: int = 1, within: float = 5.0) -> None:
        async with asyncio.timeout(within):
            while sum(1 for s, _ in self.seen if s is state) < count:
                self._changed.clear()
                await self._changed.wait()


def bridge_config(port: int, store: Path, **ami: object) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing"},
            "ami": fast_ami(port, **ami).model_dump() | {"secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line"}],
            "store": {"path": str(store)},
        },
        context={"region": "US"},
    )


@asynccontextmanager
async def running_bridge(
    asterisk: FakeAsterisk, tmp_path: Path, **ami: object
) -> AsyncIterator[tuple[Bridge, asyncio.Queue[CallDecision]]]:
    decisions: asyncio.Queue[CallDecision] = asyncio.Queue()
    config = bridge_config(asterisk.port, tmp_path / "textback.db", **ami)
    async with (
        await Store.open(config.store.path) as store,
        running(Bridge(config, store, on_decision=decisions.put_nowait)) as bridge,
    ):
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
            await asterisk.wait_for(lambda: _count(asterisk, "CoreShowChannels") == 1)
        yield bridge, decisions


def _count(asterisk: FakeAsterisk, action: str) -> int:
    return sum(1 for a in asterisk.actions if a.get("Action") == action)


async def next_decision(decisions: asyncio.Queue[CallDecision]) -> CallDecision:
    async with asyncio.timeout(5):
        return await decisions.get()


# --- every real recording, live ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REAL_TRACES))
async def test_each_real_trace_over_the_socket(
    asterisk: FakeAsterisk, tmp_path: Path, name: str
) -> None:
    outcome, reason, extra = REAL_TRACES[name]
    async with running_bridge(asterisk, tmp_path) as (bridge, decisions):
        await asterisk.play(recorded_events(trace(name)))
        decision = await next_decision(decisions)
        stored = await bridge.store.call(decision.linkedid)
    assert decision.outcome.value == outcome
    assert (decision.reason.value if decision.reason else None) == reason
    for key, value in extra.items():
        assert getattr(decision, key) == value
    assert stored is not None
    assert stored.outcome == outcome
    assert decisions.empty()


async def test_latin1_caller_name_arrives_intact_over_the_socket(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    data = trace("02_noanswer.ami").replace(b"Jane Caller", b"J\xfcrgen M\xfcller")
    async with running_bridge(asterisk, tmp_path) as (_, decisions):
        await asterisk.play(recorded_events(data))
        decision = await next_decision(decisions)
    assert decision.caller_name == "Jürgen Müller"


# --- login --------------------------------------------------------------------------


async def test_refused_login_is_reported_once_backs_off_and_never_logs_the_secret(
    asterisk: FakeAsterisk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    asterisk.refuse_logins = True
    states = States()
    link = AmiLink(fast_ami(asterisk.port), lambda m: None, on_state=states)
    task = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.failed_logins >= 4)
        assert link.state is LinkState.BAD_CREDENTIALS
        assert "Authentication failed" in link.state_detail
        asterisk.refuse_logins = False
        await states.wait(LinkState.CONNECTED)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    refused = [r for r in caplog.records if "bad_credentials" in r.getMessage()]
    assert len(refused) == 1
    assert refused[0].levelno == logging.WARNING
    assert [s for s, _ in states.seen] == [
        LinkState.CONNECTING,
        LinkState.BAD_CREDENTIALS,
        LinkState.CONNECTED,
        LinkState.STOPPED,
    ]
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert all(SECRET not in str(r.args) for r in caplog.records)


def test_backoff_grows_to_its_cap_and_is_slower_after_a_refused_login() -> None:
    link = AmiLink(
        fast_ami(1, reconnect_min=1, reconnect_max=60), lambda m: None, rng=random.Random(7)
    )
    link.state = LinkState.DISCONNECTED
    ceilings = [link._backoff(n) for n in range(1, 10)]
    for n, delay in enumerate(ceilings[:6], start=1):
        assert 0.5 * 2 ** (n - 1) <= delay <= 2 ** (n - 1)
    assert all(30 <= d <= 60 for d in ceilings[6:])
    link.state = LinkState.BAD_CREDENTIALS
    assert link._backoff(1) >= 4


# --- a link that breaks ---------------------------------------------------------------


async def test_stalled_asterisk_is_detected_by_ping_and_the_link_comes_back(
    asterisk: FakeAsterisk,
) -> None:
    states = States()
    link = AmiLink(fast_ami(asterisk.port), lambda m: None, on_state=states)
    task = asyncio.create_task(link.run())
    try:
        await states.wait(LinkState.CONNECTED)
        asterisk.stall()
        await states.wait(LinkState.DISCONNECTED)
        assert "no answer to Ping" in states.seen[-1][1]
        asterisk.resume()
        await states.wait(LinkState.CONNECTED, count=2)
        assert link.connections == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_drop_mid_call_then_reconnect_decides_the_call_once(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    events = recorded_events(trace("05_ringgroup_noanswer.ami"))
    half = len(events) // 2
    async with running_bridge(asterisk, tmp_path) as (bridge, decisions):
        await asterisk.play(events[:half])
        await asterisk.drop_connections()
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: _count(asterisk, "CoreShowChannels") == 2)
        assert bridge.tracker.open_calls == 1  # still up on the PBX: kept
        await asterisk.play(events[half:])
        decision = await next_decision(decisions)
        assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.NOANSWER)
        assert decisions.empty()
        assert len(await bridge.store.recent_calls()) == 1


async def test_call_that_ends_while_the_link_is_down_is_closed_as_unknown(
    asterisk: FakeAsterisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    events = recorded_events(trace("02_noanswer.ami"))
    async with running_bridge(asterisk, tmp_path) as (_, decisions):
        await asterisk.play(events[:12])  # ringing
        asterisk.refuse_logins = True  # keep the bridge out while the call ends
        await asterisk.drop_connections()
        await asterisk.play(events[12:])
        asterisk.refuse_logins = False
        decision = await next_decision(decisions)
    assert (decision.outcome, decision.reason) == (Outcome.UNKNOWN, Reason.LINK_LOST)
    assert decision.caller == CALLER
    assert any("unknown (LINK_LOST)" in r.getMessage() for r in caplog.records)


async def test_a_call_that_starts_while_the_link_is_down_is_adopted(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    events = recorded_events(trace("02_noanswer.ami"))
    async with running_bridge(asterisk, tmp_path) as (_, decisions):
        asterisk.refuse_logins = True
        await asterisk.drop_connections()
        await asterisk.play(events[:12])  # the call starts unseen
        asterisk.refuse_logins = False
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: _count(asterisk, "CoreShowChannels") == 2)
        await asterisk.play(events[12:])
        decision = await next_decision(decisions)
    assert decision.outcome is Outcome.MISSED
    assert decision.caller == CALLER
    assert "already up" in decision.detail


async def test_a_refused_catch_up_says_what_to_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        FakeAsterisk(secret=SECRET, write_classes=frozenset({"message"})) as asterisk,
        running_bridge(asterisk, tmp_path),
    ):
        await until(lambda: "refused CoreShowChannels" in caplog.text)
    assert "(Permission denied): add 'system' to this user's write=" in caplog.text


async def test_asterisk_restart(asterisk: FakeAsterisk, tmp_path: Path) -> None:
    events = recorded_events(trace("07_voicemail_left.ami"))
    async with running_bridge(asterisk, tmp_path) as (bridge, decisions):
        await asterisk.play(events[:10])
        await asterisk.restart(version="11.1.0")  # the call dies with the PBX
        decision = await next_decision(decisions)
        assert bridge.link.banner == "Asterisk Call Manager/11.1.0"
        assert bridge.link.connections == 2
    # The Shutdown event said why it ended: the PBX dropped it (issue 15), no longer unknown.
    assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.PBX_DROPPED)


# --- bad input on the wire ------------------------------------------------------------


async def test_bad_messages_are_skipped_with_one_log_line_each(
    asterisk: FakeAsterisk, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bridge.ami.link")
    async with running_bridge(asterisk, tmp_path) as (bridge, decisions):
        await asterisk.broadcast_raw(b"Event: Newchannel\r\nno colon on this line\r\n\r\n")
        await asterisk.broadcast_raw(b"Foo: no event or response\r\n\r\n")
        await asterisk.broadcast_raw(b"Event: Huge\r\nData: " + b"x" * 200_000 + b"\r\n\r\n")
        await asterisk.broadcast_raw(b"Event: BrandNewEvent\r\nX: 1\r\n\r\n")
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))
        decision = await next_decision(decisions)
        assert bridge.link.connections == 1
        await asterisk.broadcast_raw(b"Event: Hangup\r\nUniqueid: 17956")  # then the line drops
        await asterisk.drop_connections()
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: _count(asterisk, "CoreShowChannels") == 2)
    assert decision.outcome is Outcome.MISSED
    skipped = [r.getMessage() for r in caplog.records if "skipped a" in r.getMessage()]
    assert [s.split()[3] for s in skipped] == [
        "malformed",
        "no-event-or-response",
        "oversized",
        "truncated",
    ]


async def test_a_failing_handler_costs_one_event_not_the_connection(
    asterisk: FakeAsterisk, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    all_hung_up = asyncio.Event()

    def handler(message: AmiMessage) -> None:
        if message.event == "DialBegin":
            raise RuntimeError("bug in a handler")
        seen.append(message.event or "")
        if seen.count("Hangup") == 4:  # the caller and the three desks
            all_hung_up.set()

    states = States()
    link = AmiLink(fast_ami(asterisk.port), handler, on_state=states)
    task = asyncio.create_task(link.run())
    try:
        await states.wait(LinkState.CONNECTED)
        await asterisk.play(recorded_events(trace("05_ringgroup_noanswer.ami")))
        async with asyncio.timeout(5):
            await all_hung_up.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert link.connections == 1
    assert sum("handler failed" in r.getMessage() for r in caplog.records) == 1


# --- actions and shutdown ---------------------------------------------------------------


async def test_actions_refuse_line_breaks_and_fail_fast_when_down(asterisk: FakeAsterisk) -> None:
    states = States()
    link = AmiLink(fast_ami(asterisk.port), lambda m: None, on_state=states)
    with pytest.raises(NotConnected):
        await link.send_action({"Action": "Ping"})
    task = asyncio.create_task(link.run())
    try:
        await states.wait(LinkState.CONNECTED)
        pong = await link.send_action({"Action": "Ping"})
        assert pong.get("Ping") == "Pong"
        with pytest.raises(ValueError, match="line break"):
            await link.send_action({"Action": "UserEvent", "Body": "hi\r\nAction: Originate"})
        assert not any(a.get("Action") == "Originate" for a in asterisk.actions)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_an_event_list_comes_back_as_one_typed_reply(asterisk: FakeAsterisk) -> None:
    states = States()
    link = AmiLink(fast_ami(asterisk.port), lambda m: None, on_state=states)
    task = asyncio.create_task(link.run())
    try:
        await states.wait(LinkState.CONNECTED)
        await asterisk.play(recorded_events(trace("02_noanswer.ami"))[:12])  # ringing
        reply = await link.send_action(actions.core_show_channels())
        endpoint = await link.send_action(actions.pjsip_show_endpoint("no-such-trunk"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert reply.success
    assert reply.message == "Channels will follow"
    listed = [e for e in reply.events if e.event == "CoreShowChannel"]
    assert [e.get("Linkedid") for e in listed] == ["1795617278.10"] * len(listed)
    assert listed
    assert reply.events[-1].event == "CoreShowChannelsComplete"
    assert not endpoint.success
    assert endpoint.message == "Unable to retrieve endpoint no-such-trunk"


async def test_cancelling_the_link_closes_it_and_nothing_reconnects(
    asterisk: FakeAsterisk,
) -> None:
    states = States()
    link = AmiLink(fast_ami(asterisk.port), lambda m: None, on_state=states)
    task = asyncio.create_task(link.run())
    await states.wait(LinkState.CONNECTED)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with asyncio.timeout(5):
        await asterisk.wait_for(lambda: asterisk.sessions == 0)
    assert link.state is LinkState.STOPPED
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_many_calls_at_once_are_all_decided_and_stored(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    names = ["no_answer", "answered", "voicemail_left", "queue_abandon", "internal"] * 4
    async with running_bridge(asterisk, tmp_path) as (bridge, decisions):
        await asterisk.play(recorded_events(callgen.render(*names)))
        async with asyncio.timeout(5):
            got = [await decisions.get() for _ in names]
        assert len(await bridge.store.recent_calls(100)) == len(names)
    assert sorted(d.outcome.value for d in got) == sorted(callgen.SCENARIOS[n][1] for n in names)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_stopping_the_bridge_commits_queued_decisions_first(tmp_path: Path) -> None:
    config = bridge_config(1, tmp_path / "t.db")
    pbx = callgen.Pbx()
    async with await Store.open(config.store.path) as store:
        bridge = Bridge(config, store)
        for message in AmiFramer().feed(callgen.render(*["no_answer"] * 30, pbx=pbx)):
            bridge.intake.on_event(message)  # decided, queued, not yet written
        recorder = asyncio.create_task(bridge.recorder.run())
        await asyncio.sleep(0)  # let it start, then stop it at once
        recorder.cancel()
        await asyncio.gather(recorder, return_exceptions=True)
        assert len(await store.recent_calls(100)) == 30


async def test_a_failed_store_write_keeps_the_decision_and_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = bridge_config(1, tmp_path / "t.db")
    decided: asyncio.Queue[CallDecision] = asyncio.Queue()
    async with await Store.open(config.store.path) as store:
        bridge = Bridge(config, store, on_decision=decided.put_nowait, store_retry_min=0.01)
        await store._db.execute("PRAGMA query_only = ON")  # every write now fails
        for message in AmiFramer().feed(trace("02_noanswer.ami")):
            bridge.intake.on_event(message)
        recorder = asyncio.create_task(bridge.recorder.run())
        try:
            await until(lambda: any("cannot store" in r.getMessage() for r in caplog.records))
            assert await store.recent_calls() == []
            await store._db.execute("PRAGMA query_only = OFF")
            decision = await next_decision(decided)
        finally:
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)
        assert [c.linkedid for c in await store.recent_calls()] == [decision.linkedid]
    assert sum("cannot store" in r.getMessage() for r in caplog.records) == 1
