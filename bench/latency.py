"""Text-back latency: the caller's hang-up on the AMI socket -> the text leaving.

The real bridge (AMI link, decision, policy, store, outbox, modem transport)
runs in this process against the AMI double and the simulated modem on a
pty, which run in a child process of their own (bench/doubles.py), as a real
Asterisk and a real modem take no CPU from the bridge. For each missed call
the clock starts just before the double writes the caller's Hangup event to
the socket and stops when the simulated modem reads the command that sends
that caller's text: AT+CMSS, after the text was written to its storage with
AT+CMGW (store-and-send, docs/texting.md), or AT+CMGS on a modem without
it. 1,000 calls each with 1, 10 and 100 ringing at once (distinct callers,
so no cooldown applies); the calls ring a moment before they ring out, so
what the bridge writes of a ringing call is not charged to the hang-up.

The modem's own rate limit is switched off here to measure the bridge; it is
printed beside the figures, because on a real modem it, not the bridge,
decides when the 10th or 100th text can go. Baseline, measured in the same
run: the floor of the two hops alone - an AMI Ping and a bare AT command round
trip to the same doubles - so the ratio says how much the bridge adds on top
of the sockets.

The same is measured for SIP texting (docs/sip.md): hang-up -> the
MessageSend action arriving at the AMI double, over the bridge's one AMI
connection, with 1 and 10 ringing at once.

Beside each figure: the store's trips to its database thread per text-back
(each a queue handoff there and back) and its commits per text-back (each a
sync of the write-ahead log: synchronous FULL), counted over the whole run
by the connection's probe (bridge/store/sqlite/database.py).

    PYTHONPATH=. python bench/latency.py [--calls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doubles import SECRET

from bridge.app import Bridge
from bridge.app_settings import modem_settings
from bridge.config import Config
from bridge.store import Store
from sms_gateway.gsm_modem import GsmModemTransport

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


class RemoteDoubles:
    """The PBX and the modem in their child process (bench/doubles.py)."""

    def __init__(self, child: asyncio.subprocess.Process, ami_port: int):
        self._child = child
        self.ami_port = ami_port

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, modem: Path | None) -> AsyncIterator[RemoteDoubles]:
        transport = ["modem", str(modem)] if modem is not None else ["sip"]
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("doubles.py")), *transport,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert child.stdout is not None
            async with asyncio.timeout(30):
                ready = json.loads(await child.stdout.readline())
            yield cls(child, int(ready["ami_port"]))
        finally:
            if child.returncode is None:
                child.terminate()
            await child.wait()

    async def ask(self, do: str, **args: int) -> dict[str, Any]:
        assert self._child.stdin is not None
        assert self._child.stdout is not None
        self._child.stdin.write(json.dumps({"do": do} | args).encode() + b"\n")
        async with asyncio.timeout(180):
            answer = await self._child.stdout.readline()
        if not answer:
            raise RuntimeError("the doubles' process ended")
        found: dict[str, Any] = json.loads(answer)
        return found


async def drive(doubles: RemoteDoubles, bridge: Bridge, concurrency: int, total: int) -> None:
    """Run the bridge; play ``total`` missed calls, ``concurrency`` at a time,
    each batch once the last is out."""
    runner = asyncio.create_task(bridge.run())
    try:
        await doubles.ask("session")
        async with asyncio.timeout(10):
            for transport in bridge.transports:
                await transport.wait_ready()
        for batch_start in range(0, total, concurrency):
            await doubles.ask("play", first=batch_start, count=concurrency)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def measure(concurrency: int, total: int, workdir: Path, *, sip: bool = False) -> Measured:
    """Texts through the simulated modem, its rate limit off; or, ``sip``,
    by MessageSend over the bridge's AMI connection."""
    tty = None if sip else workdir / f"ttyUSB{concurrency}"
    async with RemoteDoubles.started(tty) as doubles:
        cfg = config(
            doubles.ami_port, tty, workdir / f"{'sip' if sip else 'modem'}{concurrency}.db"
        )
        modem = None
        if cfg.modem is not None:
            unlimited = cfg.modem.model_copy(update={"texts_per_minute": 1_000_000})
            modem = GsmModemTransport(modem_settings(unlimited))
        async with await Store.open(cfg.store.path) as store:
            tally = StoreTally(store)
            await drive(doubles, Bridge(cfg, store, transport=modem), concurrency, total)
        latencies = (await doubles.ask("latencies"))["ms"]
    return Measured(latencies, tally.trips, tally.commits)


async def floor_ms(workdir: Path) -> float:
    """One AMI Ping round trip plus one bare AT round trip: the sockets alone."""
    from bridge.ami.link import AmiLink, LinkState

    samples = []
    tty = workdir / "ttyUSBfloor"
    async with RemoteDoubles.started(tty) as doubles:
        cfg = config(doubles.ami_port, tty, workdir / "floor.db")
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
            ("the send (AT+CMSS) at the modem", False, (1, 10, 100), ""),
            ("MessageSend at Asterisk (SIP)", True, (1, 10), "sip_"),
        )
        for where, sip, levels, key in runs:
            print(f"Hang-up on the AMI socket -> {where}, {args.calls} calls each")
            print(HEADER)
            for concurrency in levels:
                run = await measure(concurrency, args.calls, workdir, sip=sip)
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
