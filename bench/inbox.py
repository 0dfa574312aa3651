"""The owner inbox on a busy store: page times and the live-update delay.

A store is seeded through its own interfaces with 10,000 leads as a busy
office's three months leave them (bridge.sim.leads: replies, some urgent,
STOPs, owners' answers, handled, cold). The whole bridge then runs on it in
this process - AMI link, decisions, outbox, the simulated modem on a pty, and
the inbox's web server on 127.0.0.1 - and an aiohttp client, logged in as an
admin owner (every line), measures:

- each page's time, first byte to last, over loopback: the inbox (all, open,
  urgent, a search) and a thread page (random threads), p50 and p99;
- the live-update delay: a missed call played on the AMI double (the clock
  starts just before the caller's Hangup is written to the socket) until its
  event arrives on the /events stream, and a bus event published in-process
  until it arrives there (the SSE path alone).

Baselines, measured in the same run on the same server: a static file (the
vendored htmx, aiohttp's static handler behind the same middlewares) for the
pages; the bus-publish delay for the live updates. Each ratio says what the
page or the decision costs on top. Figures only; no test asserts on them.
The store lives on /dev/shm when there is one, so fsync does not drown what
the queries cost.

    python bench/inbox.py [--threads 10000] [--samples 300] [--calls 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bridge.ami.framer import AmiFramer
from bridge.app import Bridge
from bridge.app_settings import modem_settings
from bridge.config import Config
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.leads import LINES, SimClock, seed_leads
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from sms_gateway.gsm_modem import GsmModemTransport

SECRET = "bench-only"  # noqa: S105 -- a loopback double's own
OWNER, PASSWORD = "mike", "bench-only-password"
QUIET = {"missed_call": [], "reply": [], "reminder": []}


def config(ami_port: int, modem: Path, store: Path, web_port: int) -> Config:
    owner_alerts = {"business_hours": QUIET, "after_hours": QUIET}
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
            "ami": {"port": ami_port, "username": "textback", "secret": SECRET},
            "lines": [{"did": did, "name": name, "owners": ["mike"]} for did, name in LINES],
            "owners": [
                {"id": "mike", "name": "Mike", "admin": True, "alerts": owner_alerts},
                {"id": "sam", "name": "Sam", "alerts": owner_alerts},
            ],
            # The caps are safety valves; here they would hold back the calls played.
            "texting": {"max_per_hour": 10_000, "max_per_minute": 1_000},
            "modem": {"port": str(modem), "sweep_seconds": 3600, "delivery_reports": False},
            "store": {"path": str(store)},
            "web": {"port": web_port, "session_secret": "bench-only-session-secret"},
        },
        context={"region": "US"},
    )


@dataclass
class Office:
    asterisk: FakeAsterisk
    bridge: Bridge
    base: str  # the inbox's URL


@asynccontextmanager
async def running_office(store: Store, path: Path, folder: Path) -> AsyncIterator[Office]:
    """The bridge with its inbox on the seeded store, over the doubles."""
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(folder / "ttyUSB0") as modem,
    ):
        cfg = config(asterisk.port, modem.path, path, free_port())
        assert cfg.modem is not None
        assert cfg.web is not None
        await set_password(store, OWNER, PASSWORD)
        transport = GsmModemTransport(modem_settings(cfg.modem))
        bridge = Bridge(cfg, store, transport=transport)
        runner = asyncio.create_task(bridge.run())
        base = f"http://127.0.0.1:{cfg.web.port}"
        try:
            async with asyncio.timeout(20):
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
                await transport.wait_ready()
                await served(base)
            yield Office(asterisk, bridge, base)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def served(base: str) -> None:
    """Until the web server answers (its job starts with the others)."""
    async with aiohttp.ClientSession() as client:
        while True:
            try:
                async with client.get(f"{base}/login") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)


async def set_password(store: Store, owner: str, password: str) -> None:
    """As `textback set-password` does."""
    from bridge.web.passwords import hash_password

    await store.set_password_hash(owner, hash_password(password))


CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


async def logged_in(base: str) -> aiohttp.ClientSession:
    # unsafe: keep cookies from an IP address (127.0.0.1), which aiohttp's jar drops by default
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with client.get(f"{base}/login") as response:
        form = await response.text()
    found = CSRF.search(form)
    assert found, "no csrf_token on the login form"
    fields = {"owner": OWNER, "password": PASSWORD, "csrf_token": found.group(1)}
    async with client.post(f"{base}/login", data=fields, allow_redirects=False) as response:
        assert response.status in (302, 303), f"login refused: {response.status}"
    return client


async def page_times(
    client: aiohttp.ClientSession, urls: Callable[[], str], samples: int
) -> list[float]:
    """Each GET's time in ms, request sent to the last byte read; every answer a 200."""
    times = []
    for _ in range(samples):
        url = urls()
        start = time.perf_counter()
        async with client.get(url, allow_redirects=False) as response:
            await response.read()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status == 200, f"{url}: {response.status}"
    return times


@dataclass
class EventStream:
    """The /events stream read line by line; each data line noted with when it came."""

    response: aiohttp.ClientResponse
    arrived: asyncio.Queue[tuple[float, str]]

    async def pump(self) -> None:
        async for raw in self.response.content:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("data:"):
                self.arrived.put_nowait((time.perf_counter(), line[5:].strip()))

    async def first(self, contains: str, within: float = 10) -> float:
        """When the first data line holding ``contains`` came (others are dropped)."""
        async with asyncio.timeout(within):
            while True:
                at, data = await self.arrived.get()
                if contains in data:
                    return at


async def decisions_to_events(office: Office, stream: EventStream, calls: int) -> list[float]:
    """Hang-up on the AMI socket -> that call's event on /events, in ms, one call at a time."""
    delays = []
    pbx = callgen.Pbx(epoch=1_796_000_000)
    for n in range(calls):
        pbx.caller = f"+1469555{n:04d}"
        hung_up = 0.0
        steps = callgen.no_answer(pbx)
        next(steps)  # the call's first step takes the caller number (as bench/latency.py)
        for raw in recorded_events(b"".join(callgen.interleave(pbx, [_rest(steps)]))):
            (message,) = AmiFramer(expect_banner=False).feed(raw)
            if message.event == "Hangup" and message.get("Uniqueid") == message.get("Linkedid"):
                hung_up = time.perf_counter()
            await office.asterisk.play([raw])
        arrived = await stream.first(national_tail(pbx.caller))
        delays.append((arrived - hung_up) * 1000)
    return delays


def _rest(steps: Iterator[None]) -> Iterator[None]:
    yield
    yield from steps


def national_tail(number: str) -> str:
    """The number's last four digits, closing the event's caller: in the event
    however the page formats the number (it says "(469) 555-0001")."""
    return f'{number[-4:]}"'


async def publishes_to_events(office: Office, stream: EventStream, samples: int) -> list[float]:
    """A bus event published in-process -> on /events, in ms (the SSE path alone)."""
    from bridge.core.events import OwnerActed

    delays = []
    for thread_id in sample_threads(samples):
        start = time.perf_counter()
        office.bridge.bus.publish(OwnerActed(thread_id, OWNER, "note"))
        arrived = await stream.first(f'"thread":{thread_id},')
        delays.append((arrived - start) * 1000)
    return delays


_threads: list[int] = []


def sample_threads(count: int) -> Iterator[int]:
    rng = random.Random(7)
    for _ in range(count):
        yield rng.choice(_threads)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(args: argparse.Namespace, folder: Path) -> dict[str, list[float]]:
    path = folder / "inbox.db"
    clock = SimClock()
    results: dict[str, list[float]] = {}
    async with await Store.open(path, clock=clock) as seeding:
        started = time.perf_counter()
        seeded = await seed_leads(seeding, clock, args.threads)
        results["seed_s"] = [time.perf_counter() - started]
    _threads.extend(seeded.threads)
    async with await Store.open(path) as store, running_office(store, path, folder) as office:
        client = await logged_in(office.base)
        try:
            rng = random.Random(3)
            base = office.base
            pages: dict[str, Callable[[], str]] = {
                "baseline: a static file": lambda: f"{base}/static/htmx.min.js",
                "inbox (all)": lambda: f"{base}/?view=all",
                "inbox (open)": lambda: f"{base}/?view=all&state=open",
                "inbox (urgent)": lambda: f"{base}/?view=all&state=urgent",
                "inbox (search)": lambda: f"{base}/?view=all&q=roof",
                "thread page": lambda: f"{base}/threads/{rng.choice(seeded.threads)}",
            }
            for name, urls in pages.items():
                await page_times(client, urls, 10)  # warm: templates compiled, pages cached
                results[name] = await page_times(client, urls, args.samples)
            async with client.get(f"{base}/events", timeout=aiohttp.ClientTimeout()) as events:
                stream = EventStream(events, asyncio.Queue())
                pump = asyncio.create_task(stream.pump())
                try:
                    results["live: bus publish -> /events"] = await publishes_to_events(
                        office, stream, args.calls
                    )
                    results["live: hang-up -> /events"] = await decisions_to_events(
                        office, stream, args.calls
                    )
                finally:
                    pump.cancel()
                    await asyncio.gather(pump, return_exceptions=True)
        finally:
            await client.close()
    return results


def report(results: dict[str, list[float]], args: argparse.Namespace) -> dict[str, object]:
    seed_s = results.pop("seed_s")[0]
    print(f"Owner inbox on {args.threads:,} threads (seeded in {seed_s:.0f} s),", end=" ")
    print(f"{args.samples} GETs each")
    print(f"  {'page, ms over loopback':<32} {'p50':>8} {'p99':>8} {'max':>8} {'p99/base':>9}")
    floor = pct(results["baseline: a static file"], 0.99)
    live_floor = pct(results["live: bus publish -> /events"], 0.99)
    figures: dict[str, object] = {"threads": args.threads, "seed_s": round(seed_s, 1)}
    for name, times in results.items():
        base = live_floor if name.startswith("live") else floor
        if name == "live: bus publish -> /events":
            print(f"  {'live update, ms':<32} {'p50':>8} {'p99':>8} {'max':>8} {'p99/base':>9}")
        p50, p99, top = pct(times, 0.5), pct(times, 0.99), max(times)
        print(f"  {name:<32} {p50:>8.2f} {p99:>8.2f} {top:>8.2f} {p99 / base:>9.1f}")
        key = re.sub(r"[^a-z0-9]+", "_", name.split(":")[-1].lower()).strip("_")
        figures[f"{key}_p50_ms"] = round(p50, 2)
        figures[f"{key}_p99_ms"] = round(p99, 2)
    figures["inbox_ratio"] = round(pct(results["inbox (all)"], 0.99) / floor, 1)
    figures["thread_ratio"] = round(pct(results["thread page"], 0.99) / floor, 1)
    figures["live_ratio"] = round(pct(results["live: hang-up -> /events"], 0.99) / live_floor, 1)
    figures["median_static_ms"] = round(statistics.median(results["baseline: a static file"]), 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument(
        "--calls", type=int, default=100, help="missed calls played for the live delay"
    )
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as folder:
        results = asyncio.run(measure(args, Path(folder)))
    print(json.dumps(report(results, args)))


if __name__ == "__main__":
    main()
