"""What /metrics costs the bridge: its bus handlers on the hot path, and a scrape.

1. Events: the recorder and the outbox publish on the bus synchronously, so
   the metrics' handlers run inside the hot path. 100,000 events (a decision,
   a retry, a sent text, a failure, in turn) published to a bus with only a
   no-op subscriber per type (the baseline, same run), then to one with the
   metrics listening: microseconds per event, and the ratio.
2. Scrapes: the real /metrics endpoint (aiohttp, the store's backlog read, the
   exposition) over loopback, with a SQLite store holding --queued texts
   waiting. Baseline, same run and server: a GET of a handler that returns
   at once - the HTTP floor - so the ratio says what the metrics add to it.

    python bench/metrics.py [--events 100000] [--scrapes 300] [--queued 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from bridge.bus import Bus
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.events import CallDecided, TextFailed, TextRetried, TextSent
from bridge.core.texts import OutgoingText
from bridge.ops.metrics import FleetMetrics, MetricsServer
from bridge.store import Store
from sms_gateway.base import TransportStatus

NOW = datetime.now(UTC)


def events(count: int) -> list[object]:
    made: list[object] = []
    for i in range(count // 4):
        linkedid = f"1700000000.{i}"
        decision = CallDecision(
            linkedid=linkedid, outcome=Outcome.MISSED, reason=Reason.NOANSWER,
            caller="+15125559876", caller_raw="5125559876", caller_name="",
            line="+15125550100", line_name="Main line", started_at=NOW, ended_at=NOW,
        )  # fmt: skip
        made += [
            CallDecided(decision, None),
            TextRetried(i, "textback", "modem", maybe_sent=False),
            TextSent(i, "textback", "modem", linkedid, NOW + timedelta(seconds=2)),
            TextFailed(i, "reply", "failed", "no network", "modem"),
        ]
    return made


def fleet(store: object) -> FleetMetrics:
    return FleetMetrics(
        business="Acme Roofing", store=store, clock=lambda: datetime.now(UTC),  # type: ignore[arg-type]
        ami_state=lambda: "connected",
        transports=lambda: [TransportStatus("modem", connected=True, registered=True, signal=20)],
    )  # fmt: skip


def per_event_us(bus: Bus, published: list[object]) -> float:
    started = time.perf_counter()
    for event in published:
        bus.publish(event)
    return (time.perf_counter() - started) / len(published) * 1e6


def bench_events(count: int) -> tuple[float, float]:
    published = events(count)
    baseline = Bus()
    for kind in (CallDecided, TextRetried, TextSent, TextFailed):
        baseline.subscribe(kind, lambda _: None)
    with_metrics = Bus()
    fleet(None).listen(with_metrics)
    return per_event_us(baseline, published), per_event_us(with_metrics, published)


async def timed_gets(url: str, count: int) -> list[float]:
    took = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
                assert response.status == 200
            took.append((time.perf_counter() - started) * 1000)
    return took


async def bench_scrapes(scrapes: int, queued: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as folder:
        async with await Store.open(Path(folder) / "bench.db") as store:
            for i in range(queued):
                number = f"+1512555{i % 10000:04d}"
                await store.queue_text(
                    OutgoingText(number, "On my way", 1, NOW + timedelta(hours=1))
                )
            server = MetricsServer(fleet(store), "127.0.0.1", 0)
            floor = web.Application()
            floor.router.add_get("/floor", lambda _: _empty())
            task = asyncio.create_task(server.run())
            runner = web.AppRunner(floor, access_log=None, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            floor_port = runner.addresses[0][1]
            try:
                await asyncio.wait_for(server.ready.wait(), 5)
                assert server.address is not None
                metrics_url = f"http://127.0.0.1:{server.address[1]}/metrics"
                floor_url = f"http://127.0.0.1:{floor_port}/floor"
                await timed_gets(metrics_url, 10)  # warm up both
                await timed_gets(floor_url, 10)
                floor_ms = await timed_gets(floor_url, scrapes)
                scrape_ms = await timed_gets(metrics_url, scrapes)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await runner.cleanup()
    return floor_ms, scrape_ms


async def _empty() -> web.Response:
    return web.Response(text="ok")


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument("--queued", type=int, default=1000)
    args = parser.parse_args()
    bare_us, metrics_us = bench_events(args.events)
    floor_ms, scrape_ms = asyncio.run(bench_scrapes(args.scrapes, args.queued))
    print(f"bus events ({args.events:,}, four kinds in turn)")
    print(f"  {'subscribers':<22} {'us/event':>9}")
    print(f"  {'no-op (baseline)':<22} {bare_us:>9.2f}")
    print(f"  {'metrics':<22} {metrics_us:>9.2f}   x{metrics_us / bare_us:.1f}")
    print(f"scrapes ({args.scrapes}, {args.queued:,} texts queued in the store)")
    print(f"  {'GET':<22} {'p50 ms':>9} {'p99 ms':>9}")
    floor_p50, scrape_p50 = statistics.median(floor_ms), statistics.median(scrape_ms)
    print(f"  {'empty handler (floor)':<22} {floor_p50:>9.2f} {p99(floor_ms):>9.2f}")
    print(f"  {'/metrics':<22} {scrape_p50:>9.2f} {p99(scrape_ms):>9.2f}"
          f"   x{scrape_p50 / floor_p50:.1f} p50")  # fmt: skip
    figures = {
        "events": args.events, "baseline_us_per_event": round(bare_us, 3),
        "metrics_us_per_event": round(metrics_us, 3),
        "event_ratio": round(metrics_us / bare_us, 2),
        "queued": args.queued, "floor_p50_ms": round(floor_p50, 3),
        "floor_p99_ms": round(p99(floor_ms), 3), "scrape_p50_ms": round(scrape_p50, 3),
        "scrape_p99_ms": round(p99(scrape_ms), 3),
        "scrape_ratio_p50": round(scrape_p50 / floor_p50, 2),
    }  # fmt: skip
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
