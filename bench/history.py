"""Years of history: the store's hot paths and the CLI's reads at 100,000 calls.

Builds a store through the store API as a busy office's few years would
leave it: 100,000 calls over three years, 35% missed (a caller who calls
again while their thread is open joins it; one whose thread was closed
starts another: about 35,000 threads), each
missed call texted back and its text sent, alerts queued and sent by email
and SMS, a quarter of the callers replying, 60% of threads handled by an
owner, the rest reminded and gone cold by the follow-up. Then times, on
that store:

- p99 of each hot-path operation (what runs per call, per text, per poll);
- the CLI's reads (`calls`, `threads`, `thread N`, `report`, the digest's
  query) and the inbox's report page (90 days, all time), each from
  opening the store read-only as the command does;
- the follow-up tick's read: rows and peak memory (tracemalloc), as built
  (steady) and with 10,000 more open threads, none due yet (crowded);
- the idle polls' CPU per hour (alerts every 2 s, outbox every 1 s,
  follow-up every 30 s), from the CPU time of each poll's reads.

Baseline, measured in the same run: the same operations on a store holding
one thread, so each ratio says what the history costs. Figures only; no
test asserts on them. The store lives on /dev/shm when there is one, so
fsync does not drown what the queries cost.

    python bench/history.py [--calls 100000] [--samples 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bridge.config import FollowUpConfig
from bridge.core.alerts import AlertDraft
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.texts import OutgoingText, OwnerAction, ReceivedText
from bridge.followup.worker import next_step
from bridge.store import Store

START = datetime(2023, 1, 2, 14, 0, tzinfo=UTC)
LINE = "+15125550100"
DOMAIN = "acme.example"
YEARS = 3
ZONE = ZoneInfo("America/Chicago")
RULES = FollowUpConfig.model_validate({"nudge": {"enabled": True}})
Op = Callable[[], Awaitable[object]]


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Built:
    store: Store
    clock: Clock
    threads: set[int] = field(default_factory=set)


def call(n: int, caller: str, at: datetime, outcome: Outcome) -> CallDecision:
    missed = outcome is Outcome.MISSED
    return CallDecision(
        linkedid=f"1700000000.{n}", outcome=outcome, reason=Reason.NOANSWER if missed else None,
        caller=caller, caller_raw=caller, caller_name="A Caller", line=LINE,
        line_name="Main line", started_at=at - timedelta(seconds=40), ended_at=at,
        dial_status="NOANSWER" if missed else "ANSWER", detail="dial ended NOANSWER",
    )  # fmt: skip


def drafts() -> list[AlertDraft]:
    return [
        AlertDraft("mike", "email", "mike@acme.example", "Missed call", "Jane called", "<p>J</p>"),
        AlertDraft("mike", "sms", "+15125550199", "Missed call", "Jane called", None),
    ]


async def send_queued(store: Store, now: datetime) -> None:
    """Every queued text sent, as the outbox worker would."""
    for text in await store.due_texts(now, limit=50):
        await store.mark_sending(text.id, "modem")
        await store.mark_sent(text.id, [text.id % 255], now)


async def alert_news(store: Store, now: datetime) -> None:
    """The alert worker's round: news queued as alerts, emails sent."""
    news = await store.unalerted()
    if news:
        await store.queue_alerts([(event, drafts()) for event in news], DOMAIN)
    for alert in await store.due_alerts(now, "email"):
        await store.mark_alert(alert.id, "sent")


async def a_missed_call(built: Built, n: int, caller: str, rng: random.Random) -> None:
    store, now = built.store, built.clock.now
    await store.text_history(caller, now)
    text = OutgoingText(caller, "Sorry we missed your call", 1, now + timedelta(minutes=30))
    await store.record_decision(call(n, caller, now, Outcome.MISSED), text=text)
    await send_queued(store, now)
    await alert_news(store, now)
    found = await store.call(f"1700000000.{n}")
    thread_id = found.thread_id if found else None
    if thread_id is None or thread_id in built.threads:
        return
    built.threads.add(thread_id)
    if rng.random() < 0.25:  # the caller answers the text
        built.clock.now += timedelta(minutes=5)
        reply = ReceivedText(caller, "Can you come Tuesday?", 1, built.clock.now)
        await store.store_incoming(reply, None)
        await alert_news(store, built.clock.now)
    if rng.random() < 0.6:  # an owner deals with it; the rest stay open
        await store.owner_action("mike", OwnerAction(thread_id, "done"))


async def follow_up_round(store: Store, now: datetime) -> None:
    """The follow-up's reminders and cold threads, as its tick makes them."""
    for state in await due_read(store, now)():
        step = next_step(state, now, RULES)
        if step == "remind":
            await store.remind(state, drafts()[:1], DOMAIN)
        elif step == "cold":
            await store.mark_cold(state)


async def build(built: Built, calls: int, seed: int = 17) -> None:
    """``calls`` calls spread over YEARS years; 35% missed, 70% of them from new callers."""
    rng = random.Random(seed)
    step = timedelta(days=365 * YEARS) / max(calls, 1)
    callers: list[str] = []
    for n in range(calls):
        built.clock.now = START + step * n
        if n % 200 == 199:  # every few days of calls: what the follow-up did meanwhile
            await follow_up_round(built.store, built.clock.now)
        if n > 0 and rng.random() >= 0.35:  # the first is missed: the baseline's thread
            await built.store.record_decision(
                call(n, f"+1737{rng.randrange(10**7):07d}", built.clock.now, Outcome.ANSWERED)
            )
            continue
        if not callers or rng.random() < 0.7:
            callers.append(f"+1512{rng.randrange(10**7):07d}")
        await a_missed_call(built, n, rng.choice(callers), rng)


async def p99(op: Op, samples: int) -> float:
    """The 99th-percentile time of ``op``, in ms."""
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        await op()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[min(len(times) - 1, int(len(times) * 0.99))]


def due_read(store: Store, now: datetime) -> Op:
    """The follow-up tick's read: due threads (or, before issue 17, every open one)."""
    due_threads: Any = getattr(store, "due_threads", None)
    if due_threads is None:
        return store.open_threads
    from bridge.followup.worker import due_timers

    return lambda: due_threads(due_timers(now, RULES))


async def hot_paths(built: Built, samples: int) -> dict[str, float]:
    store, clock = built.store, built.clock
    counter = iter(range(10**9, 2 * 10**9))
    now = clock.now
    some_thread = max(built.threads, default=1)

    async def decision() -> None:
        n = next(counter)
        caller = f"+1469{n % 10**7:07d}"
        text = OutgoingText(caller, "Sorry", 1, now + timedelta(minutes=30))
        await store.record_decision(call(n, caller, now, Outcome.MISSED), text=text)

    async def text_round() -> None:
        text_id = await store.queue_text(OutgoingText("+15125550177", "hi", 1, now, "reply"))
        assert text_id is not None
        await store.mark_sending(text_id, "modem")
        await store.mark_sent(text_id, [1], now)

    async def reply() -> None:
        await store.store_incoming(ReceivedText("+15125550177", "thanks", 1, now), None)

    # The polls first, on the store as built; then what writes.
    ops: dict[str, Op] = {
        "unalerted (the 2 s poll)": store.unalerted,
        "due_alerts (email)": lambda: store.due_alerts(now, "email"),
        "due_texts (the outbox poll)": lambda: store.due_texts(now),
        "follow-up tick's read": due_read(store, now),
        "thread_summary (a reminder)": lambda: store.thread_summary(some_thread),
        "text_history": lambda: store.text_history("+15125550177", now),
        "record_decision": decision,
        "queue + send + mark a text": text_round,
        "store_incoming (a reply)": reply,
    }
    figures = {name: await p99(op, samples) for name, op in ops.items()}
    await alert_news(store, now)  # what the samples queued: the store idles again
    await send_queued(store, now)
    return figures


async def cli_reads(path: Path, thread_id: int, now: datetime) -> dict[str, float]:
    """Each command's store work, from opening it read-only, in ms (best of 3)."""
    day = now.replace(hour=0, minute=0)
    reads: dict[str, Callable[[Store], Awaitable[object]]] = {
        "calls": lambda s: s.recent_calls(50),
        "threads": lambda s: s.threads(50),
        "thread N": lambda s: s.thread(thread_id),
        "report": lambda s: s.report(None),
        # The inbox's report page: its figures and charts' counts, by Chicago's days.
        "report page, 90 days": lambda s: s.report_breakdown(now - timedelta(days=90), now, ZONE),
        "report page, all time": lambda s: s.report_breakdown(None, now, ZONE),
        "digest query": lambda s: s.digest_threads(day - timedelta(days=1), day),
    }
    figures = {}
    for name, read in reads.items():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            async with await Store.open(path, read_only=True) as store:
                await read(store)
            best = min(best, (time.perf_counter() - start) * 1000)
        figures[name] = best
    return figures


async def follow_up_memory(store: Store, now: datetime) -> tuple[int, int, float]:
    """Open threads, rows the tick reads, and the read's peak memory (KB)."""
    open_threads = len(await store.open_threads())
    tracemalloc.start()
    rows: Any = await due_read(store, now)()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return open_threads, len(rows), peak / 1024


async def open_many(built: Built, count: int, samples: int) -> tuple[int, int, float, float]:
    """``count`` new open threads, none due yet: the tick's read then, and the
    p99 of a reminder (each on one of them, with its email's threading)."""
    store, now = built.store, built.clock.now
    for n in range(count):
        caller = f"+1214{n:07d}"
        await store.record_decision(call(3 * 10**9 + n, caller, now, Outcome.MISSED))
    await alert_news(store, now)
    figures = await follow_up_memory(store, now)
    states = iter(await store.open_threads())

    async def remind() -> None:
        await store.remind(next(states), drafts()[:1], DOMAIN)

    return (*figures, await p99(remind, min(samples, count)))


async def idle_cpu(store: Store, now: datetime, rounds: int = 200) -> float:
    """CPU seconds per hour of the idle polls' reads (this process: SQLite's thread too)."""
    polls: list[tuple[float, Op]] = [
        (1800, store.unalerted), (1800, lambda: store.due_alerts(now, "email")),
        (3600, lambda: store.due_texts(now)), (120, due_read(store, now)),
    ]  # fmt: skip
    total = 0.0
    for per_hour, op in polls:
        start = time.process_time()
        for _ in range(rounds):
            await op()
        total += (time.process_time() - start) / rounds * per_hour
    return total


async def measure(folder: Path, calls: int, samples: int, open_threads: int) -> dict[str, Any]:
    path = folder / f"history-{calls}.db"
    clock = Clock(START)
    async with await Store.open(path, clock=clock) as store:
        built = Built(store, clock)
        started = time.perf_counter()
        await build(built, calls)
        build_s = time.perf_counter() - started
        clock.now += timedelta(minutes=1)
        hot = await hot_paths(built, samples)
        steady = await follow_up_memory(store, clock.now)
        cpu = await idle_cpu(store, clock.now)
        *crowded, remind_ms = await open_many(built, open_threads, samples)
    hot["remind"] = remind_ms
    cli = await cli_reads(path, max(built.threads, default=1), clock.now)
    return {"build_s": build_s, "threads": len(built.threads), "hot": hot, "cli": cli,
            "steady": steady, "crowded": crowded, "idle_cpu": cpu}  # fmt: skip


def table(big: dict[str, Any], small: dict[str, Any], calls: int) -> None:
    print(f"History store: {calls:,} calls, {big['threads']:,} threads"
          f" (built in {big['build_s']:.0f} s); baseline: a store with one thread")  # fmt: skip
    print(f"  {'hot path, p99 ms':<34} {'history':>9} {'baseline':>9} {'ratio':>7}")
    for name, ms in big["hot"].items():
        base = small["hot"][name]
        print(f"  {name:<34} {ms:>9.2f} {base:>9.2f} {ms / base:>7.1f}")
    print(f"  {'CLI read, ms (open + query)':<34} {'history':>9} {'baseline':>9} {'ratio':>7}")
    for name, ms in big["cli"].items():
        base = small["cli"][name]
        print(f"  {name:<34} {ms:>9.1f} {base:>9.1f} {ms / base:>7.1f}")
    for name in ("steady", "crowded"):
        open_threads, rows, peak = big[name]
        print(f"  follow-up tick's read ({name}): {open_threads:,} open threads,"
              f" reads {rows:,} rows, peak {peak:,.0f} KB")  # fmt: skip
    print(f"  idle polls' CPU: {big['idle_cpu']:.1f} CPU-s per hour"
          f" (baseline {small['idle_cpu']:.1f})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--open", type=int, default=10_000, help="open threads added at the end")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as folder:
        small = asyncio.run(measure(Path(folder), 1, args.samples, args.samples))
        big = asyncio.run(measure(Path(folder), args.calls, args.samples, args.open))
    table(big, small, args.calls)
    summary = {
        "calls": args.calls, "threads": big["threads"], "build_s": round(big["build_s"], 1),
        "hot_p99_ms": {k: round(v, 3) for k, v in big["hot"].items()},
        "hot_baseline_p99_ms": {k: round(v, 3) for k, v in small["hot"].items()},
        "cli_ms": {k: round(v, 1) for k, v in big["cli"].items()},
        "cli_baseline_ms": {k: round(v, 1) for k, v in small["cli"].items()},
        "follow_up": {
            name: dict(zip(("open_threads", "rows_read", "peak_kb"), big[name], strict=True))
            for name in ("steady", "crowded")
        },
        "idle_cpu_s_per_hour": round(big["idle_cpu"], 2),
    }  # fmt: skip
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
