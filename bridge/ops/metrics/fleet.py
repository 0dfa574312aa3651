"""What the bridge tells Prometheus, and how each bus event moves it.

Counts come from the bus (bridge.core.events), so nothing is read twice and
the hot path pays one dict update per event. Levels - the AMI link, each
transport, the outbox backlog - are read when Prometheus asks (``refresh``
before each scrape, the transports' ``status()`` while collecting), so they
are never older than the scrape. Every metric lives in this object's own
registry, never the process-wide default one: two bridges in one process
(the tests) do not mix.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from bridge.bus import Bus
from bridge.core.calls import Outcome, Reason
from bridge.core.events import (
    CallDecided,
    JobChanged,
    LinkChanged,
    StoreFailed,
    TextFailed,
    TextRetried,
    TextSent,
)
from bridge.store import OpsStore, StoreError, errors
from sms_gateway.base import TransportStatus

log = logging.getLogger(__name__)

NONE = "none"  # a label with no value (a decision with no reason, a text no transport had)
TEXT_STATES = ("sent", "failed", "expired", "cancelled", "retried", "maybe_sent")
LINK_STATES = ("connecting", "connected", "disconnected", "bad_credentials", "stopped")
# The caller's wait, hang-up -> text confirmed: seconds on a good day, minutes
# when the modem was away and the text waited for it.
LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
# Text-backs waiting to be sent, remembered for their latency; past this many
# (a modem away for hours in a busy office) the oldest are forgotten.
MAX_WAITING = 10_000
MISSED_REASONS = (
    Reason.NOANSWER, Reason.BUSY, Reason.CANCEL, Reason.CHANUNAVAIL, Reason.CONGESTION,
    Reason.VOICEMAIL, Reason.QUEUE_ABANDON, Reason.IVR_HANGUP, Reason.PBX_DROPPED,
)  # fmt: skip
STORE_ERRORS = frozenset(
    cls.__name__
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, StoreError)
)


def _version() -> str:
    try:
        return metadata.version("textback")
    except metadata.PackageNotFoundError:
        return "unknown"


class FleetMetrics:
    """Build it, ``listen(bus)``, ``await refresh()`` before each exposition."""

    def __init__(
        self,
        *,
        business: str,
        store: OpsStore,
        clock: Callable[[], datetime],
        ami_state: Callable[[], str],
        transports: Callable[[], Iterable[TransportStatus]],
        held: Callable[[], int] = lambda: 0,
        read_timeout: float = 2.0,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._store = store
        self._clock = clock
        self._ami_state = ami_state
        self._held = held
        self._read_timeout = read_timeout
        self._ended_at: OrderedDict[str, datetime] = OrderedDict()  # linkedid -> hang-up
        self._restarts: dict[str, int] = {}
        self._ever_connected = False
        self._define(business)
        self.registry.register(_TransportCollector(transports))
        self._initialise(t.name for t in transports())

    def _define(self, business: str) -> None:
        registry = self.registry
        info = Info("textback", "This bridge: its business and version", registry=registry)
        info.info({"business": business, "version": _version()})
        self.decisions = Counter(
            "textback_decisions", "Calls decided, by outcome and reason",
            ["outcome", "reason"], registry=registry,
        )  # fmt: skip
        self.skipped = Counter(
            "textback_textbacks_skipped", "Missed calls not texted back, by why not",
            ["why"], registry=registry,
        )  # fmt: skip
        self.texts = Counter(
            "textback_texts", "Texts out by what became of each attempt: sent, failed, "
            "expired, cancelled for good; retried, maybe_sent (tried again)",
            ["kind", "state", "transport"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "textback_hangup_to_sent_seconds", "A missed caller's wait: hang-up to text sent",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.queued = Gauge("textback_outbox_queued", "Texts waiting to go out",
                            registry=registry)  # fmt: skip
        self.oldest = Gauge(
            "textback_outbox_oldest_queued_age_seconds",
            "How long the longest-waiting text has waited (0: none waits)", registry=registry,
        )  # fmt: skip
        self.failed_hour = Gauge(
            "textback_outbox_failed_last_hour", "Texts given up on in the last hour",
            registry=registry,
        )  # fmt: skip
        self.store_up = Gauge(
            "textback_store_up", "1 if the store answered the last scrape's read in time",
            registry=registry,
        )  # fmt: skip
        self.held = Gauge(
            "textback_decisions_held",
            "Decisions waiting to be committed (the store refusing writes: a database away)",
            registry=registry,
        )  # fmt: skip
        self.store_errors = Counter(
            "textback_store_errors", "Store operations that failed, by who saw it and the error",
            ["where", "error"], registry=registry,
        )  # fmt: skip
        self.ami_up = Gauge("textback_ami_up", "1 while the AMI link is logged in",
                            registry=registry)  # fmt: skip
        self.ami_state = Gauge(
            "textback_ami_link_state", "1 for the AMI link's current state, 0 for the others",
            ["state"], registry=registry,
        )  # fmt: skip
        self.reconnects = Counter(
            "textback_ami_reconnects", "AMI logins after the first (drops, restarts, refusals)",
            registry=registry,
        )  # fmt: skip
        self.restarts = Counter(
            "textback_task_restarts", "Auxiliary tasks restarted after a crash", ["task"],
            registry=registry,
        )  # fmt: skip
        self.degraded = Gauge(
            "textback_task_degraded", "1 while a task is degraded (crashed lately)", ["task"],
            registry=registry,
        )  # fmt: skip

    def _initialise(self, transports: Iterable[str]) -> None:
        """Series that exist from the start at 0, so an alert's increase() sees
        the first failure (a series that appears at 1 shows no increase)."""
        for name in transports:
            for state in TEXT_STATES:
                self.texts.labels("textback", state, name)
        for reason in MISSED_REASONS:
            self.decisions.labels(Outcome.MISSED.value, reason.value)
        for outcome in (Outcome.ANSWERED, Outcome.INTERNAL, Outcome.OUTBOUND):
            self.decisions.labels(outcome.value, NONE)
        self.store_errors.labels("recorder", StoreError.__name__)
        self.store_errors.labels("metrics", "TimeoutError")
        self.store_up.set(1)

    # ------------------------------------------------------------ events

    def listen(self, bus: Bus) -> None:
        bus.subscribe(CallDecided, self.on_decided)
        bus.subscribe(TextSent, self.on_sent)
        bus.subscribe(TextFailed, self.on_failed)
        bus.subscribe(TextRetried, self.on_retried)
        bus.subscribe(LinkChanged, self.on_link)
        bus.subscribe(JobChanged, self.on_job)
        bus.subscribe(StoreFailed, self.on_store_failed)

    def on_decided(self, event: CallDecided) -> None:
        decision = event.decision
        reason = decision.reason.value if decision.reason is not None else NONE
        self.decisions.labels(decision.outcome.value, reason).inc()
        if not decision.is_missed:
            return
        if event.text_skip is not None:
            self.skipped.labels(event.text_skip).inc()
            return
        self._ended_at[decision.linkedid] = decision.ended_at
        while len(self._ended_at) > MAX_WAITING:
            self._ended_at.popitem(last=False)

    def on_sent(self, event: TextSent) -> None:
        self.texts.labels(event.kind, "sent", event.transport).inc()
        ended = self._ended_at.pop(event.linkedid, None) if event.linkedid else None
        if ended is not None and event.at is not None and event.kind == "textback":
            self.latency.observe(max(0.0, (event.at - ended).total_seconds()))

    def on_failed(self, event: TextFailed) -> None:
        self.texts.labels(event.kind, event.state, event.transport or NONE).inc()
        if event.linkedid:
            self._ended_at.pop(event.linkedid, None)

    def on_retried(self, event: TextRetried) -> None:
        state = "maybe_sent" if event.maybe_sent else "retried"
        self.texts.labels(event.kind, state, event.transport).inc()

    def on_link(self, event: LinkChanged) -> None:
        if event.state != "connected":
            return
        if self._ever_connected:
            self.reconnects.inc()
        self._ever_connected = True

    def on_job(self, event: JobChanged) -> None:
        before = self._restarts.get(event.name, 0)
        self._restarts[event.name] = event.restarts
        self.restarts.labels(event.name).inc(max(0, event.restarts - before))
        self.degraded.labels(event.name).set(1 if event.state == "degraded" else 0)
        # A task that crashed on the store (the outbox, the alerts...) is a store error too.
        error = event.last_error.partition(":")[0]
        if event.restarts > before and error in STORE_ERRORS:
            self.store_errors.labels(event.name, error).inc()

    def on_store_failed(self, event: StoreFailed) -> None:
        self.store_errors.labels(event.where, event.error).inc()

    # ------------------------------------------------------------ levels

    async def refresh(self) -> None:
        """Read what is a level, not a count: before each exposition."""
        state = self._ami_state()
        self.ami_up.set(1 if state == "connected" else 0)
        for known in LINK_STATES:
            self.ami_state.labels(known).set(1 if known == state else 0)
        self.held.set(self._held())  # the recorder's own count: known with the store away
        now = self._clock()
        try:
            async with asyncio.timeout(self._read_timeout):
                backlog = await self._store.outbox_backlog(now)
        except (StoreError, OSError, TimeoutError) as exc:
            # The last figures stay; textback_store_up says they are stale.
            self.store_up.set(0)
            self.store_errors.labels("metrics", type(exc).__name__).inc()
            log.debug("metrics: the store did not answer: %s", exc)
            return
        self.store_up.set(1)
        self.queued.set(backlog.queued)
        self.failed_hour.set(backlog.failed_last_hour)
        oldest = backlog.oldest_queued_at
        self.oldest.set(0 if oldest is None else max(0.0, (now - oldest).total_seconds()))


class _TransportCollector:
    """Each transport's own status at collection time: up, registered, signal."""

    def __init__(self, statuses: Callable[[], Iterable[TransportStatus]]) -> None:
        self._statuses = statuses

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "textback_transport_up", "1 while an SMS transport can send", labels=["transport"]
        )
        registered = GaugeMetricFamily(
            "textback_transport_registered",
            "1 while the transport is registered on its network (the modem) or its trunk (SIP)",
            labels=["transport"],
        )
        signal = GaugeMetricFamily(
            "textback_transport_signal",
            "The modem's signal, 0-31 as +CSQ gives it (absent when unknown)",
            labels=["transport"],
        )
        for status in self._statuses():
            up.add_metric([status.name], 1 if status.connected else 0)
            registered.add_metric([status.name], 1 if status.registered else 0)
            if status.signal is not None:
                signal.add_metric([status.name], status.signal)
        yield from (up, registered, signal)
