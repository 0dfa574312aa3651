"""``GET /metrics`` for Prometheus: the supervised ``metrics`` job.

aiohttp, in the bridge's own event loop: the job's task owns the listening
socket, so the supervisor starts, restarts and stops it like any other, and
a scrape can await the store (with a timeout) instead of blocking on it.
prometheus-client's own server would run a thread of its own that nothing
supervises; its aiohttp handler is used here for the exposition itself (the
text format, OpenMetrics when asked, gzip when accepted).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from bridge.ops.metrics.fleet import FleetMetrics

log = logging.getLogger(__name__)


class MetricsServer:
    """``await run()`` serves until cancelled."""

    def __init__(self, metrics: FleetMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.address: tuple[str, int] | None = None  # where it listens, once ``ready``
        self.ready = asyncio.Event()

    async def run(self) -> None:
        exposition = make_aiohttp_handler(self.metrics.registry)

        async def scrape(request: web.Request) -> web.StreamResponse:
            await self.metrics.refresh()
            return await exposition(request)

        app = web.Application()
        app.router.add_get("/metrics", scrape)
        # No access log: a scrape every 15 s is not news; no signal handling:
        # the bridge's own (bridge.cli.daemon) stops the supervisor.
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.address = (str(host), int(port))
            log.info("metrics for Prometheus on http://%s:%d/metrics", self.host, port)
            self.ready.set()
            await asyncio.Event().wait()
        finally:
            self.ready.clear()
            self.address = None
            await asyncio.shield(runner.cleanup())
