"""Bus events -> Prometheus metrics (bridge.ops.metrics.fleet), and the levels
read at scrape time: the AMI link, the transports, the outbox backlog."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bridge.bus import Bus
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.events import (
    CallDecided,
    JobChanged,
    LinkChanged,
    StoreFailed,
    TextFailed,
    TextRetried,
    TextSent,
)
from bridge.core.texts import Backlog
from bridge.ops.metrics import FleetMetrics
from bridge.store import StoreUnavailable
from sms_gateway.base import TransportStatus
from tests.support.metrics import FakeOps, exported_sample_names

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


class Office:
    """One bridge's metrics with what they read handed in."""

    def __init__(self) -> None:
        self.now = T0
        self.ami = "connecting"
        self.store = FakeOps()
        self.transports = [TransportStatus("modem", connected=True, registered=True, signal=17)]
        self.bus = Bus()
        self.held = 0
        self.metrics = FleetMetrics(
            business="Acme Roofing",
            store=self.store,
            clock=lambda: self.now,
            ami_state=lambda: self.ami,
            transports=lambda: self.transports,
            held=lambda: self.held,
            read_timeout=0.05,
        )
        self.metrics.listen(self.bus)

    def value(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


def missed(linkedid: str = "1700000000.1", reason: Reason = Reason.NOANSWER) -> CallDecision:
    return CallDecision(
        linkedid=linkedid, outcome=Outcome.MISSED, reason=reason, caller="+15125559876",
        caller_raw="5125559876", caller_name="", line="+15125550100", line_name="Main line",
        started_at=T0 - timedelta(seconds=30), ended_at=T0,
    )  # fmt: skip


def test_decisions_are_counted_by_outcome_and_reason_and_skips_by_why() -> None:
    o = Office()
    o.bus.publish(CallDecided(missed("a"), None))
    o.bus.publish(CallDecided(missed("b", Reason.BUSY), "texted-recently"))
    answered = replace(missed("c"), outcome=Outcome.ANSWERED, reason=None)
    o.bus.publish(CallDecided(answered, None))
    assert o.value("textback_decisions_total", outcome="missed", reason="NOANSWER") == 1
    assert o.value("textback_decisions_total", outcome="missed", reason="BUSY") == 1
    assert o.value("textback_decisions_total", outcome="answered", reason="none") == 1
    assert o.value("textback_decisions_total", outcome="missed", reason="VOICEMAIL") == 0
    assert o.value("textback_textbacks_skipped_total", why="texted-recently") == 1


def test_each_texts_fate_is_counted_by_kind_state_and_transport() -> None:
    o = Office()
    o.bus.publish(TextRetried(1, "textback", "modem", maybe_sent=False))
    o.bus.publish(TextRetried(1, "textback", "modem", maybe_sent=True))
    o.bus.publish(TextSent(1, "textback", "modem"))
    o.bus.publish(TextFailed(2, "owner_alert", "failed", "no such number", "modem"))
    o.bus.publish(TextFailed(3, "textback", "expired", "too late"))
    o.bus.publish(TextFailed(4, "reply", "cancelled", "opted out", "sip"))
    expected = {
        ("textback", "retried", "modem"): 1, ("textback", "maybe_sent", "modem"): 1,
        ("textback", "sent", "modem"): 1, ("owner_alert", "failed", "modem"): 1,
        ("textback", "expired", "none"): 1, ("reply", "cancelled", "sip"): 1,
        ("textback", "failed", "modem"): 0,  # there from the start, so increase() sees a first one
    }  # fmt: skip
    for (kind, state, transport), count in expected.items():
        labels = {"kind": kind, "state": state, "transport": transport}
        assert o.value("textback_texts_total", **labels) == count, labels


def test_the_callers_wait_is_hang_up_to_sent_for_text_backs_only() -> None:
    o = Office()
    o.bus.publish(CallDecided(missed("a"), None))  # ended at T0
    o.bus.publish(CallDecided(missed("b"), None))
    o.bus.publish(CallDecided(missed("c"), "opted-out"))  # never texted: nothing to wait for
    o.bus.publish(TextSent(1, "textback", "modem", "a", T0 + timedelta(seconds=3)))
    o.bus.publish(TextFailed(2, "textback", "expired", "too late", None, "b"))
    o.bus.publish(TextSent(3, "textback", "modem", "b", T0 + timedelta(seconds=9)))
    # A text-back decided before a restart: its hang-up is not known here.
    o.bus.publish(TextSent(4, "textback", "modem", "elsewhere", T0 + timedelta(seconds=1)))
    o.bus.publish(TextSent(5, "owner_alert", "modem", None, T0))
    assert o.value("textback_hangup_to_sent_seconds_count") == 1
    assert o.value("textback_hangup_to_sent_seconds_sum") == 3
    assert o.value("textback_hangup_to_sent_seconds_bucket", le="2.0") == 0
    assert o.value("textback_hangup_to_sent_seconds_bucket", le="5.0") == 1


def test_reconnects_count_logins_after_the_first() -> None:
    o = Office()
    for state in ("connecting", "connected", "disconnected", "connecting", "connected"):
        o.bus.publish(LinkChanged(state, ""))
    o.bus.publish(LinkChanged("bad_credentials", "refused"))
    o.bus.publish(LinkChanged("connected", ""))
    assert o.value("textback_ami_reconnects_total") == 2


async def test_the_links_state_is_read_at_each_scrape() -> None:
    o = Office()
    await o.metrics.refresh()
    assert o.value("textback_ami_up") == 0
    assert o.value("textback_ami_link_state", state="connecting") == 1
    o.ami = "connected"
    await o.metrics.refresh()
    assert o.value("textback_ami_up") == 1
    assert o.value("textback_ami_link_state", state="connected") == 1
    assert o.value("textback_ami_link_state", state="connecting") == 0


def test_worker_restarts_and_store_crashes_come_from_job_changes() -> None:
    o = Office()
    o.bus.publish(JobChanged("outbox", "running", 0, ""))
    o.bus.publish(JobChanged("outbox", "degraded", 1, "StoreUnavailable: database is locked"))
    assert o.value("textback_task_degraded", task="outbox") == 1
    o.bus.publish(JobChanged("outbox", "degraded", 2, "KeyError: 'x'"))
    o.bus.publish(JobChanged("outbox", "running", 2, "KeyError: 'x'"))  # healthy again
    assert o.value("textback_task_restarts_total", task="outbox") == 2
    assert o.value("textback_task_degraded", task="outbox") == 0
    assert o.value("textback_store_errors_total", where="outbox", error="StoreUnavailable") == 1
    assert o.value("textback_store_errors_total", where="outbox", error="KeyError") is None
    o.bus.publish(StoreFailed("recorder", "StoreUnavailable"))
    assert o.value("textback_store_errors_total", where="recorder", error="StoreUnavailable") == 1


@given(st.lists(st.integers(min_value=0, max_value=5), max_size=20))
def test_restarts_counted_equal_the_last_restart_number_seen(steps: list[int]) -> None:
    o = Office()
    restarts = 0
    for step in steps:  # the supervisor's count only grows
        restarts += step
        o.metrics.on_job(JobChanged("follow-up", "degraded", restarts, "OSError: x"))
    assert (o.value("textback_task_restarts_total", task="follow-up") or 0) == restarts


async def test_the_backlog_is_read_from_the_store_at_each_scrape() -> None:
    o = Office()
    o.store.backlog = Backlog(3, T0 - timedelta(minutes=4), 2, "no network")
    await o.metrics.refresh()
    assert o.value("textback_outbox_queued") == 3
    assert o.value("textback_outbox_oldest_queued_age_seconds") == 240
    assert o.value("textback_outbox_failed_last_hour") == 2
    assert o.value("textback_store_up") == 1
    o.store.backlog = Backlog(0, None, 0)
    await o.metrics.refresh()
    assert o.value("textback_outbox_oldest_queued_age_seconds") == 0


async def test_a_store_that_fails_or_hangs_marks_the_store_down_not_the_scrape() -> None:
    o = Office()
    o.store.backlog = Backlog(5, T0, 0)
    await o.metrics.refresh()
    o.store.failure = StoreUnavailable("disk I/O error")
    o.held = 3  # the recorder holds what it could not write
    await o.metrics.refresh()
    assert o.value("textback_store_up") == 0
    assert o.value("textback_decisions_held") == 3
    assert o.value("textback_outbox_queued") == 5  # the last figures, marked stale by store_up
    assert o.value("textback_store_errors_total", where="metrics", error="StoreUnavailable") == 1
    o.store.failure, o.store.hang = None, True
    await o.metrics.refresh()  # within read_timeout, not for ever
    assert o.value("textback_store_errors_total", where="metrics", error="TimeoutError") == 1
    o.store.hang = False
    await o.metrics.refresh()
    assert o.value("textback_store_up") == 1


def test_transports_show_up_registered_and_signal_as_they_are_now() -> None:
    o = Office()
    assert o.value("textback_transport_up", transport="modem") == 1
    assert o.value("textback_transport_signal", transport="modem") == 17
    o.transports = [
        TransportStatus("modem", connected=False),  # signal unknown: no sample
        TransportStatus("sip", connected=True, registered=True),
    ]
    assert o.value("textback_transport_up", transport="modem") == 0
    assert o.value("textback_transport_signal", transport="modem") is None
    assert o.value("textback_transport_registered", transport="sip") == 1


def test_the_exposition_parses_and_names_the_business() -> None:
    o = Office()
    o.bus.publish(CallDecided(missed(), None))
    families = {
        f.name: f
        for f in text_string_to_metric_families(generate_latest(o.metrics.registry).decode())
    }
    (info,) = families["textback_info"].samples
    assert info.labels["business"] == "Acme Roofing"
    assert families["textback_decisions"].type == "counter"
    assert families["textback_hangup_to_sent_seconds"].type == "histogram"


def test_every_family_is_named_as_prometheus_will_store_it() -> None:
    names = exported_sample_names()
    assert {
        "textback_info",
        "textback_decisions_total",
        "textback_ami_up",
        "textback_hangup_to_sent_seconds_bucket",
        "textback_transport_signal",
    } <= names
    assert "textback_decisions" not in names
