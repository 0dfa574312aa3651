"""The metrics' side of the store as a stand-in, and the names the bridge
exports (what the shipped alerts and dashboard may query)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from bridge.core.texts import Backlog
from bridge.ops.metrics import FleetMetrics
from sms_gateway.base import TransportStatus


class FakeOps:
    """OpsStore with a scripted backlog, or a failure, or no answer at all."""

    def __init__(self) -> None:
        self.backlog = Backlog(0, None, 0)
        self.failure: Exception | None = None
        self.hang = False

    async def outbox_backlog(self, now: datetime) -> Backlog:
        if self.hang:
            await asyncio.Event().wait()
        if self.failure is not None:
            raise self.failure
        return self.backlog


def exported_sample_names() -> set[str]:
    """Every sample name a bridge can export, labelled or not, as Prometheus
    stores them (counters with _total, histograms as _bucket, _count, _sum)."""
    metrics = FleetMetrics(
        business="Acme Roofing", store=FakeOps(), clock=datetime.now,
        ami_state=lambda: "connected",
        transports=lambda: [TransportStatus("modem", connected=True, signal=20)],
    )  # fmt: skip
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"),
                "info": ("_info",)}  # fmt: skip
    return {
        family.name + suffix
        for family in metrics.registry.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
