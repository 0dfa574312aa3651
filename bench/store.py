"""The store's hot path on each backend: a missed call's decision -> committed.

What the recorder does for every missed call, against the store alone: read
the caller's text history, then record the decision with its thread and its
text-back in one transaction. Timed from just before the history read to
record_decision returning (the commit is durable then), for distinct callers
(no cooldown), one at a time and 10 at once.

SQLite: a file in a temporary folder, WAL, synchronous FULL (as the bridge
runs it). PostgreSQL: a server started here from Debian's package (initdb in
a temporary folder, fsync on, as in production), on loopback TCP, a pool of
5 connections. Both on this machine's disk in the same run; the ratio is
PostgreSQL's figure over SQLite's, the baseline.

    python bench/store.py [--calls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.texts import OutgoingText
from bridge.store import Store
from bridge.store.postgres import PostgresStore
from bridge.store.sqlite import SqliteStore
from tests.support.postgres_server import binaries, serve

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
LINE = "+15125550100"
AT_ONCE = (1, 10)


def decision(n: int) -> CallDecision:
    caller = f"+1512{n:07d}"
    return CallDecision(
        linkedid=f"1795617278.{n}", outcome=Outcome.MISSED, reason=Reason.NOANSWER,
        caller=caller, caller_raw=caller, caller_name="A Caller", line=LINE,
        line_name="Main line", started_at=T0, ended_at=T0, dial_status="NOANSWER",
        detail="dial ended NOANSWER",
    )  # fmt: skip


async def one(store: Store, n: int) -> float:
    """Seconds from the history read to the committed decision."""
    d = decision(n)
    began = time.perf_counter()
    assert d.caller is not None
    await store.text_history(d.caller, T0)
    text = OutgoingText(d.caller, "Sorry we missed your call", 1, T0 + timedelta(minutes=30))
    assert await store.record_decision(d, text=text)
    return time.perf_counter() - began


async def measure(store: Store, calls: int, at_once: int, first: int) -> dict[str, float]:
    waits: list[float] = []
    began = time.perf_counter()
    for start in range(first, first + calls, at_once):
        batch = range(start, min(start + at_once, first + calls))
        waits += await asyncio.gather(*(one(store, n) for n in batch))
    elapsed = time.perf_counter() - began
    p99 = statistics.quantiles(waits, n=100)[98] if len(waits) >= 2 else waits[0]
    return {"per_second": calls / elapsed, "p50_ms": statistics.median(waits) * 1000,
            "p99_ms": p99 * 1000}  # fmt: skip


async def run_backend(
    opener: Callable[[], Awaitable[Store]], calls: int
) -> dict[int, dict[str, float]]:
    store = await opener()
    try:
        await measure(store, 50, 1, 10_000_000)  # warm up: caches, prepared statements
        return {k: await measure(store, calls, k, 1 + i * calls) for i, k in enumerate(AT_ONCE)}
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    calls = parser.parse_args().calls
    if binaries() is None:
        sys.exit("PostgreSQL is not installed: apt-get install postgresql (the bench starts it)")
    results: dict[str, dict[int, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        results["sqlite"] = asyncio.run(run_backend(lambda: SqliteStore.open(path), calls))
    servers = serve(durable=True)
    server = next(servers)
    try:

        async def fresh() -> Store:
            return await PostgresStore.open(await server.fresh("bench"))

        results["postgres"] = asyncio.run(run_backend(fresh, calls))
    finally:
        servers.close()
    report(results, calls)


def report(results: dict[str, dict[int, dict[str, float]]], calls: int) -> None:
    print(f"decision -> committed, {calls:,} missed calls per row (distinct callers)")
    print(f"  {'at once':>7} {'backend':<9} {'per s':>8} {'p50 ms':>8} {'p99 ms':>8}"
          f" {'x sqlite (per s, p99)':>22}")  # fmt: skip
    summary: dict[str, object] = {"calls": calls}
    for k in AT_ONCE:
        base = results["sqlite"][k]
        for backend in ("sqlite", "postgres"):
            r = results[backend][k]
            ratio = (
                f"{r['per_second'] / base['per_second']:.2f}, {r['p99_ms'] / base['p99_ms']:.2f}"
            )
            print(f"  {k:>7} {backend:<9} {r['per_second']:>8.0f} {r['p50_ms']:>8.2f}"
                  f" {r['p99_ms']:>8.2f} {ratio:>22}")  # fmt: skip
            for key, value in r.items():
                summary[f"{backend}_{k}_{key}"] = round(value, 2)
        summary[f"postgres_over_sqlite_{k}_per_second"] = round(
            results["postgres"][k]["per_second"] / base["per_second"], 2
        )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
