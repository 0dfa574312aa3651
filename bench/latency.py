"""Text-back latency: the caller's hang-up on the AMI socket -> the text leaving.

The real bridge (AMI link, decision, policy, store, outbox, modem transport)
runs against the AMI double and the simulated modem on a pty, all in this one
process. For each missed call the clock starts just before the double writes
the caller's Hangup event to the socket and stops when the simulated modem
reads the command that sends that caller's text: AT+CMSS, after the text was
written to its storage with AT+CMGW (store-and-send, docs/texting.md), or
AT+CMGS on a modem without it. 1,000 calls each with 1, 10
and 100 ringing at once (distinct callers, so no cooldown applies). The
double writes the events straight to the socket, without the channel and
call-record bookkeeping it keeps for other tests (nothing here reads it):
its CPU is taken from the bridge, which shares this process, and a real
Asterisk runs elsewhere.

The modem's own rate limit is switched off here to measure the bridge; it is
printed beside the figures, because on a real modem it, not the bridge,
decides when the 10th or 100th text can go. Baseline, measured in the same
run: the floor of the two hops alone - an AMI Ping and a bare AT command round
trip - so the ratio says how much the bridge adds on top of the sockets.

The same is measured for SIP texting (docs/sip.md): hang-up -> the
MessageSend action arriving at the AMI double, over the bridge's one AMI
connection, with 1 and 10 ringing at once.

Beside each figure: the store's trips to its database thread per text-back
(each a queue handoff there and back) and its commits per text-back (each a
sync of the write-ahead log: synchronous FULL), counted over the whole run
by the connection's probe (bridge/store/sqlite/database.py).

    python bench/latency.py [--calls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bridge.ami.framer import AmiFramer
from bridge.app import Bridge
from bridge.app_settings import modem_settings
from bridge.config import Config
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from sms_gateway.gsm_modem import GsmModemTransport

SECRET = "bench-only"  # noqa: S105 -- a loopback double's own
HEADER = (
    f"  {'ringing at once':>16} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99/floor':>10}"
    f" {'trips/text':>11} {'commits/text':>13}"
)
REAL_RATE_LIMIT = 10  # texts per minute, the config default for a real modem
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class StoreTally:
    """Trips to the store's database thread and commits, while it is open."""

    def __init__(self, store: Store):
        self._db = store._db  # type: ignore[attr-defined]
        self._first_trip = self._db.trips
        self.commits = 0
        self._open = False  # inside BEGIN ... COMMIT (the probe runs on one thread)
        self._db.probe = self._statement

    def _statement(self, sql: str, params: object) -> None:
        verb = sql.lstrip()[:8].upper()
        if verb.startswith("BEGIN"):
            self._open = True
        elif verb.startswith(("COMMIT", "ROLLBACK")):
            self.commits += verb.startswith("COMMIT")
            self._open = False
        elif verb.startswith(_WRITES) and not self._open:
            self.commits += 1  # one statement, committed on its own

    @property
    def trips(self) -> int:
        return self._db.trips - self._first_trip


@dataclass(frozen=True)
class Measured:
    latencies: list[float]
    trips: int
    commits: int

    def per_text(self, count: int) -> float:
        return count / len(self.latencies)


def config(ami_port: int, modem: Path | None, store: Path) -> Config:
    """With ``modem`` None, texts go by SIP (MessageSend) instead."""
    transport: dict[str, object] = (
        {"modem": {"port": str(modem), "sweep_seconds": 3600, "delivery_reports": False}}
        if modem is not None
        else {"sip": {"endpoint": "provider-trunk", "host": "sip.provider.example"}}
    )
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
            "ami": {"port": ami_port, "username": "textback", "secret": SECRET},
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [{"id": "mike", "name": "Mike"}],
            # The caps are safety valves; here they would hold back the bursts measured.
            "texting": {
                "max_per_hour": 10_000,
                "max_per_minute": 1_000,
                "expire_after_minutes": 600,
            },
            "store": {"path": str(store)},
        }
        | transport,
        context={"region": "US"},
    )


def calls(pbx: callgen.Pbx, first: int, count: int) -> Iterator[Iterator[None]]:
    """``count`` missed calls from distinct callers, as interleavable scenarios."""
    for n in range(first, first + count):
        pbx.caller = f"+1737555{n:04d}"  # valid numbers: the policy refuses invalid ones
        steps = callgen.no_answer(pbx)
        next(steps)  # the call's first step takes the caller number
        yield _resume(steps)


def _resume(steps: Iterator[None]) -> Iterator[None]:
    yield
    yield from steps


async def play_batch(
    asterisk: FakeAsterisk, pbx: callgen.Pbx, first: int, count: int, hung_up: dict[str, float]
) -> None:
    """``count`` missed calls, interleaved; each caller's hang-up time noted.

    The events go straight to the socket (``broadcast_raw``), past the
    double's bookkeeping of channels and call records, which nothing here
    reads (CoreShowChannels is asked only after a reconnect); and only the
    hang-ups are parsed here. Both cost CPU that the bridge, sharing this
    process, would otherwise wait for: a real Asterisk runs elsewhere."""
    stream = b"".join(callgen.interleave(pbx, calls(pbx, first, count)))
    for raw in recorded_events(stream):
        if b"Event: Hangup\r\n" in raw:
            (message,) = AmiFramer(expect_banner=False).feed(raw)
            if message.get("Uniqueid") == message.get("Linkedid"):
                hung_up[message.get("CallerIDNum")] = time.monotonic()
        await asterisk.broadcast_raw(raw)


async def drive(
    asterisk: FakeAsterisk, bridge: Bridge, concurrency: int, total: int, sent: Callable[[], int]
) -> dict[str, float]:
    """Run the bridge; play ``total`` missed calls, ``concurrency`` at a time,
    each batch once the last is out (``sent()`` counts texts out). Returns
    each caller's hang-up time."""
    hung_up: dict[str, float] = {}
    runner = asyncio.create_task(bridge.run())
    try:
        async with asyncio.timeout(10):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
            for transport in bridge.transports:
                await transport.wait_ready()
        pbx = callgen.Pbx(epoch=1_795_000_000 + concurrency * 10_000)
        for batch_start in range(0, total, concurrency):
            await play_batch(asterisk, pbx, batch_start, concurrency, hung_up)
            async with asyncio.timeout(120):
                # The simulators signal nothing: look until the batch is out.
                while sent() < batch_start + concurrency:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    return hung_up


async def measure_sip(concurrency: int, total: int, workdir: Path) -> Measured:
    async with FakeAsterisk(secret=SECRET) as asterisk:
        cfg = config(asterisk.port, None, workdir / f"sip{concurrency}.db")
        async with await Store.open(cfg.store.path) as store:
            tally = StoreTally(store)
            bridge = Bridge(cfg, store)
            hung_up = await drive(
                asterisk, bridge, concurrency, total, lambda: len(asterisk.messages)
            )
    # Destination: pjsip:provider-trunk/sip:+1737...@host
    latencies = [
        (sent.at - hung_up[sent.destination.split("sip:")[2].split("@")[0]]) * 1000
        for sent in asterisk.messages
    ]
    return Measured(latencies, tally.trips, tally.commits)


async def measure(concurrency: int, total: int, workdir: Path) -> Measured:
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(workdir / f"ttyUSB{concurrency}") as modem,
    ):
        cfg = config(asterisk.port, modem.path, workdir / f"bench{concurrency}.db")
        assert cfg.modem is not None
        unlimited = cfg.modem.model_copy(update={"texts_per_minute": 1_000_000})
        async with await Store.open(cfg.store.path) as store:
            tally = StoreTally(store)
            bridge = Bridge(cfg, store, transport=GsmModemTransport(modem_settings(unlimited)))
            hung_up = await drive(
                asterisk, bridge, concurrency, total, lambda: len(modem.engine.sent)
            )
        latencies = [(s.requested_at - hung_up[s.number]) * 1000 for s in modem.engine.sent]
        return Measured(latencies, tally.trips, tally.commits)


async def floor_ms(workdir: Path) -> float:
    """One AMI Ping round trip plus one bare AT round trip: the sockets alone."""
    from bridge.ami.link import AmiLink, LinkState

    samples = []
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(workdir / "ttyUSBfloor") as modem,
    ):
        cfg = config(asterisk.port, modem.path, workdir / "floor.db")
        assert cfg.modem is not None
        link = AmiLink(cfg.ami, lambda m: None)
        transport = GsmModemTransport(modem_settings(cfg.modem))
        tasks = [asyncio.create_task(link.run()), asyncio.create_task(transport.run(_Sink()))]
        try:
            async with asyncio.timeout(10):
                while link.state is not LinkState.CONNECTED:  # noqa: ASYNC110 -- a state, not an event
                    await asyncio.sleep(0.01)
                await transport.wait_ready()
            for _ in range(200):
                start = time.monotonic()
                await link.send_action({"Action": "Ping"})
                async with transport._lock:
                    await transport._command("AT")
                samples.append((time.monotonic() - start) * 1000)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return statistics.median(samples)


class _Sink:
    async def incoming_text(self, text: object) -> None:
        pass

    async def delivery_report(self, report: object) -> None:
        pass


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="textback-bench-") as tmp:
        workdir = Path(tmp)
        floor = await floor_ms(workdir)
        figures["floor_ms"] = round(floor, 2)
        print(f"  floor (AMI Ping + AT round trip, same run): {floor:.2f} ms")
        runs = (
            ("the send (AT+CMSS) at the modem", measure, (1, 10, 100), ""),
            ("MessageSend at Asterisk (SIP)", measure_sip, (1, 10), "sip_"),
        )
        for where, measure_one, levels, key in runs:
            print(f"Hang-up on the AMI socket -> {where}, {args.calls} calls each")
            print(HEADER)
            for concurrency in levels:
                run = await measure_one(concurrency, args.calls, workdir)
                latencies = run.latencies
                p50, p99, top = pct(latencies, 0.5), pct(latencies, 0.99), max(latencies)
                trips, commits = run.per_text(run.trips), run.per_text(run.commits)
                print(
                    f"  {concurrency:>16} {p50:>8.1f} {p99:>8.1f} {top:>8.1f} {p99 / floor:>10.1f}"
                    f" {trips:>11.1f} {commits:>13.2f}"
                )
                figures |= {
                    f"p50_ms_{key}{concurrency}": round(p50, 1),
                    f"p99_ms_{key}{concurrency}": round(p99, 1),
                    f"max_ms_{key}{concurrency}": round(top, 1),
                    f"trips_per_text_{key}{concurrency}": round(trips, 2),
                    f"commits_per_text_{key}{concurrency}": round(commits, 2),
                }
    per_text = 60_000 / REAL_RATE_LIMIT
    print(
        f"  a real modem at {REAL_RATE_LIMIT} texts/min sends one every {per_text:.0f} ms: "
        f"it, not the bridge, sets when the 10th text of a burst goes out"
    )
    figures["ratio"] = round(figures["p99_ms_1"] / floor, 2)
    figures["modem_ms_per_text"] = per_text
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
