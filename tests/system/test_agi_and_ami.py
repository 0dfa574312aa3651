"""The dialplan's FastAGI report and AMI seeing the same call, as a real
Asterisk 22 orders them: the h extension's report arrives just before the
caller's Hangup reaches AMI. AMI's fuller view wins; the report decides only
what AMI cannot."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.ami.framer import AmiFramer
from bridge.app import Bridge
from bridge.config import Config
from bridge.core.calls import CallReport, Outcome, Reason
from bridge.detection.rules import DetectionRules
from bridge.detection.tracker import CallTracker
from bridge.sim import callgen
from bridge.sim.agi_client import AgiCall, run_agi
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.store import Store
from tests.support.ami import SECRET, fast_ami
from tests.support.polling import until, until_true
from tests.support.running import running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def before_and_from_hangup(scenario: str) -> tuple[str, list[bytes], list[bytes]]:
    """A generated call's events before the caller's Hangup, and from it on."""
    events = recorded_events(callgen.render(scenario, banner=False))
    messages = [AmiFramer(expect_banner=False).feed(raw)[0] for raw in events]
    linkedid = messages[0].get("Linkedid")
    cut = next(
        i for i, m in enumerate(messages) if m.event == "Hangup" and m.get("Uniqueid") == linkedid
    )
    return linkedid, events[:cut], events[cut:]


def h_extension_report(linkedid: str, **statuses: str) -> AgiCall:
    """What the shipped textback-report context sends from the h extension;
    for a queue or an IVR call every status is empty."""
    values = {
        "linkedid": linkedid, "did": "+15125550100", "dialstatus": "", "answeredtime": "",
        "peer": "", "vmstatus": "", "vmfile": "", "queuestatus": "", "abandoned": "",
        "member": "", "state": "Up",
    } | statuses  # fmt: skip
    return AgiCall(
        uniqueid=linkedid,
        callerid="+15125559876",
        arguments=[f"{k}={v}" for k, v in values.items()],
    )


@pytest.mark.parametrize(
    ("scenario", "outcome", "reason"),
    [
        ("queue_answered", "answered", None),
        ("queue_abandon", "missed", "QUEUE_ABANDON"),
        ("ivr_hangup", "missed", "IVR_HANGUP"),
        ("followme_no_answer", "missed", "NOANSWER"),
    ],
)
async def test_amis_view_wins_over_the_h_extensions_earlier_report(
    tmp_path: Path, scenario: str, outcome: str, reason: str | None
) -> None:
    agi_port = free_port()
    linkedid, before, rest = before_and_from_hangup(scenario)
    async with FakeAsterisk(secret=SECRET) as asterisk:
        config = office(asterisk, tmp_path, agi_port)
        async with (
            await Store.open(config.store.path) as store,
            running(Bridge(config, store, agi_grace=30)) as bridge,
        ):
            async with asyncio.timeout(5):
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
                assert bridge.agi is not None
                await bridge.agi.ready.wait()
            await asterisk.play(before)
            await until(lambda: bridge.tracker.is_tracking(linkedid))
            await run_agi("127.0.0.1", agi_port, h_extension_report(linkedid))
            await asterisk.play(rest)  # the caller's Hangup, a moment after the h extension

            async def decided() -> bool:
                return await store.call(linkedid) is not None

            await until_true(decided)
            stored = await store.call(linkedid)
    assert stored is not None
    assert (stored.source, stored.outcome, stored.reason) == ("ami", outcome, reason)
    if outcome == "answered":
        assert asterisk.messages == []  # the agent's caller is never texted


async def test_a_report_ami_does_not_back_up_in_time_is_decided_from_the_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """AMI saw the call begin, then fell silent (an eventfilter, a stall): the
    dialplan's report still decides it, after the grace, with a log line."""
    caplog.set_level(logging.WARNING)
    agi_port = free_port()
    linkedid, before, _ = before_and_from_hangup("no_answer")
    async with FakeAsterisk(secret=SECRET) as asterisk:
        config = office(asterisk, tmp_path, agi_port)
        async with (
            await Store.open(config.store.path) as store,
            running(Bridge(config, store, agi_grace=0.05)) as bridge,
        ):
            async with asyncio.timeout(5):
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
                assert bridge.agi is not None
                await bridge.agi.ready.wait()
            await asterisk.play(before)
            await until(lambda: bridge.tracker.is_tracking(linkedid))
            report = h_extension_report(linkedid, dialstatus="NOANSWER", state="Ringing")
            await run_agi("127.0.0.1", agi_port, report)

            async def decided() -> bool:
                return await store.call(linkedid) is not None

            await until_true(decided)
            stored = await store.call(linkedid)
    assert stored is not None
    assert (stored.source, stored.outcome, stored.reason) == ("agi", "missed", "NOANSWER")
    assert any("decided from the report" in r.getMessage() for r in caplog.records)


RULES = DetectionRules(
    inbound_contexts=frozenset({"from-trunk"}),
    internal_contexts=frozenset({"from-internal"}),
    lines={"+15125550100": "Main line"},
)
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def report(**fields: object) -> CallReport:
    base: dict[str, object] = {
        "linkedid": "1.1", "channel": "PJSIP/trunk-1", "context": "from-trunk",
        "exten": "+15125550100", "caller_raw": "+15125559876", "caller_name": "Jane",
    }  # fmt: skip
    return CallReport(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "outcome", "reason"),
    [
        ({}, Outcome.MISSED, Reason.NOANSWER),  # says nothing: never "the caller gave up"
        ({"pbx_answered": True}, Outcome.MISSED, Reason.IVR_HANGUP),
        ({"pbx_answered": True, "queue_abandoned": True}, Outcome.MISSED, Reason.QUEUE_ABANDON),
        ({"queue_status": "TIMEOUT"}, Outcome.MISSED, Reason.NOANSWER),
        ({"dial_status": "CANCEL"}, Outcome.MISSED, Reason.CANCEL),
        ({"answered_by": "PJSIP/202"}, Outcome.ANSWERED, None),
        ({"dial_status": "ANSWER"}, Outcome.ANSWERED, None),
    ],
)
def test_a_report_is_read_for_what_it_says_and_no_more(
    fields: dict[str, object], outcome: Outcome, reason: Reason | None
) -> None:
    decision = CallTracker(RULES).decide_report(report(**fields), NOW)
    assert (decision.outcome, decision.reason) == (outcome, reason)
