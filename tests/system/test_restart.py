"""The bridge stops (a crash, an upgrade) while calls are in progress: the
next run finishes every one of them - none is lost, none decided twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bridge.ami.framer import AmiFramer
from bridge.app import Bridge
from bridge.config import Config
from bridge.core.calls import CallDecision
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.mail import MailCatcher
from bridge.store import Store
from tests.support.ami import SECRET, fast_ami
from tests.support.expected import CALLER, trace
from tests.support.polling import until, until_true
from tests.support.running import running


def office_config(
    asterisk: FakeAsterisk,
    mail: MailCatcher,
    store: Path,
    *,
    records: Path | None = None,
    modem: Path | None = None,
) -> Config:
    extra: dict[str, object] = {}
    if records is not None:
        extra["cdr"] = {"csv": str(records)}
    if modem is not None:
        extra["modem"] = {"port": str(modem), "sweep_seconds": 3600, "delivery_reports": False}
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing"},
            "ami": fast_ami(asterisk.port).model_dump() | {"secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [
                {
                    "id": "mike", "name": "Mike", "email": "mike@acme.example",
                    "alerts": {"digest": False},  # only the alerts under test
                }
            ],
            "smtp": {
                "host": "127.0.0.1", "port": mail.port, "security": "none",
                "sender": "textback@acme.example",
            },
            "store": {"path": str(store)},
        }
        | extra,
        context={"region": "US"},
    )  # fmt: skip


@asynccontextmanager
async def bridge_on(
    config: Config, asterisk: FakeAsterisk
) -> AsyncIterator[tuple[Bridge, asyncio.Queue[CallDecision]]]:
    decided: asyncio.Queue[CallDecision] = asyncio.Queue()
    logins = asterisk.logins
    async with (
        await Store.open(config.store.path) as store,
        running(Bridge(config, store, on_decision=decided.put_nowait)) as bridge,
    ):
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.logins > logins)
        yield bridge, decided


def split_at_caller_hangup(data: bytes) -> tuple[list[bytes], list[bytes]]:
    """The events of a recording before the caller's channel hangs up, and from there."""
    events = recorded_events(data)
    for index, raw in enumerate(events):
        (message,) = AmiFramer(expect_banner=False).feed(raw)
        if message.event == "Hangup" and message.get("Uniqueid") == message.get("Linkedid"):
            return events[:index], events[index:]
    raise AssertionError("no caller hang-up in the recording")


async def test_a_call_that_ended_while_the_bridge_was_down_is_recorded_and_told(
    tmp_path: Path,
) -> None:
    ringing, ended = split_at_caller_hangup(trace("02_noanswer.ami"))
    mail = MailCatcher()
    await mail.start()
    try:
        async with FakeAsterisk(secret=SECRET) as asterisk:
            config = office_config(asterisk, mail, tmp_path / "textback.db")
            async with bridge_on(config, asterisk) as (bridge, _):
                await asterisk.play(ringing)
                await until_true(lambda: _open_calls(bridge.store, 1))
            # The bridge is gone; the caller gives up and hangs up meanwhile.
            await asterisk.play(ended)
            async with bridge_on(config, asterisk) as (bridge, decided):
                async with asyncio.timeout(5):
                    decision = await decided.get()
                bridge.alerts.wake()
                await until(lambda: len(mail.mailbox.messages) == 1)
                assert await bridge.store.open_calls() == []
                stored = await bridge.store.call(decision.linkedid)
    finally:
        await mail.stop()
    assert stored is not None
    assert (stored.outcome, stored.reason, stored.caller) == ("unknown", "LINK_LOST", CALLER)
    assert stored.detail == "ended while textback was down; it may have been missed"
    assert stored.thread_id == 1
    (email,) = mail.mailbox.messages
    assert email["Subject"] == (
        "Possibly missed call from (512) 555-9876 - textback could not see how it ended"
    )


async def test_a_call_still_ringing_across_a_restart_is_decided_once_when_it_ends(
    tmp_path: Path,
) -> None:
    ringing, ended = split_at_caller_hangup(trace("02_noanswer.ami"))
    mail = MailCatcher()
    await mail.start()
    try:
        async with FakeAsterisk(secret=SECRET) as asterisk:
            config = office_config(asterisk, mail, tmp_path / "textback.db")
            async with bridge_on(config, asterisk) as (bridge, _):
                await asterisk.play(ringing)
                await until_true(lambda: _open_calls(bridge.store, 1))
            async with bridge_on(config, asterisk) as (bridge, decided):
                await asterisk.wait_for(
                    lambda: (
                        sum(a.get("Action") == "CoreShowChannels" for a in asterisk.actions) == 2
                    )
                )
                await asterisk.play(ended)
                async with asyncio.timeout(5):
                    decision = await decided.get()
                calls = await bridge.store.recent_calls()
    finally:
        await mail.stop()
    assert (decision.outcome.value, decision.reason.value if decision.reason else None) == (
        "missed", "NOANSWER",
    )  # fmt: skip
    assert decision.dial_status == "NOANSWER"  # known from before the restart
    assert [c.linkedid for c in calls] == [decision.linkedid]


async def _open_calls(store: Store, count: int) -> bool:
    return len(await store.open_calls()) == count


async def test_with_call_records_a_call_that_ended_unseen_is_decided_from_them(
    tmp_path: Path,
) -> None:
    """The same restart as above, with Asterisk's Master.csv to read: the call
    was missed (nobody answered), not merely unknown."""
    ringing, ended = split_at_caller_hangup(trace("02_noanswer.ami"))
    master = tmp_path / "Master.csv"
    mail = MailCatcher()
    await mail.start()
    try:
        async with FakeAsterisk(secret=SECRET, cdr_csv=master) as asterisk:
            config = office_config(asterisk, mail, tmp_path / "textback.db", records=master)
            async with bridge_on(config, asterisk) as (bridge, _):
                await asterisk.play(ringing)
                await until_true(lambda: _open_calls(bridge.store, 1))
            await asterisk.play(ended)
            async with bridge_on(config, asterisk) as (bridge, decided):
                async with asyncio.timeout(5):
                    decision = await decided.get()
                stored = await bridge.store.call(decision.linkedid)
                assert await bridge.store.open_calls() == []
    finally:
        await mail.stop()
    assert stored is not None
    assert (stored.outcome, stored.reason, stored.source) == ("missed", "NOANSWER", "cdr")
    assert stored.detail.endswith("(from the call records)")


async def test_a_call_wholly_inside_an_outage_is_read_from_the_records_and_texted(
    tmp_path: Path,
) -> None:
    """Begun and ended while the bridge was down: AMI never shows it. The
    call records do; it is still inside its text window, so the caller is
    texted and the owner told, exactly once however often the bridge restarts."""
    from bridge.sim.modem_pty import SimulatedModem

    master = tmp_path / "Master.csv"
    mail = MailCatcher()
    await mail.start()
    try:
        async with (
            FakeAsterisk(secret=SECRET, cdr_csv=master) as asterisk,
            SimulatedModem(tmp_path / "ttyUSB0") as sim,
        ):
            config = office_config(
                asterisk, mail, tmp_path / "textback.db", records=master, modem=sim.path
            )
            async with bridge_on(config, asterisk) as (bridge, _):
                await until_true(lambda: _seen(bridge.store))  # it ran, and saw until now
            await asterisk.play(recorded_events(trace("05_ringgroup_noanswer.ami")))
            for _ in range(2):  # a second restart reads the same records again
                async with bridge_on(config, asterisk) as (bridge, _):
                    bridge.alerts.wake()
                    await until(lambda: len(sim.engine.sent) >= 1 and mail.mailbox.messages)
                    calls = await bridge.store.recent_calls()
    finally:
        await mail.stop()
    (call,) = calls
    assert (call.outcome, call.reason, call.source, call.text_state) == (
        "missed", "NOANSWER", "cdr", "sent",
    )  # fmt: skip
    assert [s.number for s in sim.engine.sent] == [CALLER]
    (email,) = mail.mailbox.messages
    assert email["Subject"].startswith("Missed call from (512) 555-9876 - texted back")


async def _seen(store: Store) -> bool:
    return await store.seen_until() is not None


async def test_a_pbx_restart_during_a_call_records_it_missed_because_the_pbx_dropped_it(
    tmp_path: Path,
) -> None:
    ringing, _ = split_at_caller_hangup(trace("02_noanswer.ami"))
    mail = MailCatcher()
    await mail.start()
    try:
        async with FakeAsterisk(secret=SECRET) as asterisk:
            config = office_config(asterisk, mail, tmp_path / "textback.db")
            async with bridge_on(config, asterisk) as (bridge, decided):
                await asterisk.play(ringing)
                await until_true(lambda: _open_calls(bridge.store, 1))
                logins = asterisk.logins
                await asterisk.restart(version="22.10.2")  # Shutdown, then every socket closes
                await asterisk.wait_for(lambda: asterisk.logins > logins)
                async with asyncio.timeout(5):
                    decision = await decided.get()
                stored = await bridge.store.call(decision.linkedid)
    finally:
        await mail.stop()
    assert stored is not None
    assert (stored.outcome, stored.reason) == ("missed", "PBX_DROPPED")
    assert (
        stored.text_skip == "no-sms-transport"
    )  # a missed call like any other: texted if it can be
    assert stored.thread_id == 1


def split_answered_call_across_an_outage() -> tuple[list[bytes], list[bytes], list[bytes]]:
    """An answered call in three: ringing while the bridge runs; answered, talked
    and the desk hung up while it is down; the caller's hang-up after it is back."""
    events = recorded_events(callgen.render("answered", banner=False))
    messages = [AmiFramer(expect_banner=False).feed(raw)[0] for raw in events]
    answered = next(i for i, m in enumerate(messages) if m.event == "DialEnd")
    caller_gone = next(
        i for i, m in enumerate(messages)
        if m.event == "Hangup" and m.get("Uniqueid") == m.get("Linkedid")
    )  # fmt: skip
    return events[:answered], events[answered:caller_gone], events[caller_gone:]


@pytest.mark.parametrize("records", [True, False], ids=["with-call-records", "without"])
async def test_a_call_answered_while_the_bridge_was_down_is_never_texted(
    tmp_path: Path, records: bool
) -> None:
    """Back up to find the caller's channel up and nobody in its bridge: a person
    may have talked to them. The call records say they did; without records the
    call is unknown - the owner hears of it, the caller is not texted."""
    ringing, unseen, hang_up = split_answered_call_across_an_outage()
    master = tmp_path / "Master.csv"
    mail = MailCatcher()
    await mail.start()
    try:
        async with FakeAsterisk(secret=SECRET, cdr_csv=master) as asterisk:
            config = office_config(
                asterisk, mail, tmp_path / "textback.db", records=master if records else None
            )
            async with bridge_on(config, asterisk) as (bridge, _):
                await asterisk.play(ringing)
                await until_true(lambda: _open_calls(bridge.store, 1))
            await asterisk.play(unseen)
            asked = _snapshots(asterisk)
            async with bridge_on(config, asterisk) as (bridge, decided):
                await asterisk.wait_for(lambda: _snapshots(asterisk) > asked)
                await asterisk.play(hang_up)
                async with asyncio.timeout(10):
                    decision = await decided.get()
                stored = await bridge.store.call(decision.linkedid)
    finally:
        await mail.stop()
    assert stored is not None
    assert stored.text_state is None  # nobody texted
    if records:
        assert (stored.outcome, stored.source) == ("answered", "cdr")
        assert "from the call records" in stored.detail
    else:
        assert (stored.outcome, stored.reason) == ("unknown", "ANSWER_UNSEEN")


def _snapshots(asterisk: FakeAsterisk) -> int:
    return sum(a.get("Action") == "CoreShowChannels" for a in asterisk.actions)
