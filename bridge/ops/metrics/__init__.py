"""Fleet health for Prometheus: the metrics (fed by the bus, levels read at
scrape time) and the ``/metrics`` endpoint that serves them (docs/metrics.md)."""

from __future__ import annotations

from bridge.ops.metrics.fleet import FleetMetrics
from bridge.ops.metrics.server import MetricsServer

__all__ = ["FleetMetrics", "MetricsServer"]
