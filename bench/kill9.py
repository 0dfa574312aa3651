"""Nothing lost across kill -9: calls placed vs recorded, texts per caller.

The real `textback run` process runs against the AMI double (which also
writes Asterisk's call records, Master.csv, for the calls it plays) and the
simulated modem on a pty, both in this process. Calls arrive about one a
second, each ringing for a second or two, several overlapping; the bridge is
killed with SIGKILL at random moments and started again 0.3-4 s later. At the
end the last bridge settles what is left and stops.

Counted: calls placed; calls recorded, by where the record came from (AMI
events, the calls the last run was following, the call records); texts per
caller (a caller with two texts is "doubled"); text-backs still queued or
sending at the end ("stuck"). Target: every call recorded, 0 doubled, 0 stuck.

    python bench/kill9.py [--calls 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bridge.ami.framer import AmiFramer
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem import SimulatedModem

SECRET = "kill9-bench-only"  # noqa: S105 -- a loopback double's own
# A mix like an office's day: most calls missed one way or another.
SCENARIOS = (
    "no_answer", "no_answer", "busy", "answered", "voicemail_left", "caller_gives_up",
    "ring_group_no_answer", "queue_abandon", "chanunavail", "answered", "ivr_hangup",
)  # fmt: skip
_FINAL = ("sent", "delivered", "failed", "expired", "cancelled")


@dataclass
class Placed:
    linkedid: str
    caller: str
    scenario: str
    missed: bool


@dataclass
class Outcome:
    placed: list[Placed] = field(default_factory=list)
    kills: int = 0
    recorded: Counter[str] = field(default_factory=Counter)  # by source
    unrecorded: list[str] = field(default_factory=list)
    texts: Counter[str] = field(default_factory=Counter)  # per caller
    stuck: int = 0
    restored: int = 0  # calls a restarted bridge took over from the one killed
    seconds: float = 0.0

    @property
    def doubled(self) -> int:
        return sum(1 for n in self.texts.values() if n > 1)

    def figures(self) -> dict[str, object]:
        missed = [p for p in self.placed if p.missed]
        return {
            "calls_placed": len(self.placed),
            "missed_placed": len(missed),
            "kills": self.kills,
            "recorded": sum(self.recorded.values()),
            "recorded_by_source": dict(self.recorded),
            "taken_over_after_a_restart": self.restored,
            "unrecorded": len(self.unrecorded),
            "missed_texted": sum(1 for p in missed if self.texts[p.caller] >= 1),
            "doubled": self.doubled,
            "stuck": self.stuck,
            "seconds": round(self.seconds, 1),
        }


def config_text(work: Path, ami_port: int, modem: Path, cdr: Path | None) -> str:
    records = f"cdr:\n  csv: {cdr}\n" if cdr is not None else ""
    return f"""
lab: true
business:
  name: Kill Nine Roofing
  timezone: America/Chicago
  hours: {{mon-sun: "00:00-23:59"}}
ami:
  port: {ami_port}
  username: textback
  secret: {SECRET}
  ping_interval: 1
  ping_timeout: 2
  reconnect_min: 0.05
  reconnect_max: 0.5
lines: [{{did: "+15125550100", name: Main line}}]
texting:
  max_per_hour: 10000
modem:
  port: {modem}
  texts_per_minute: 60
  delivery_reports: false
  sweep_seconds: 3600
store: {{path: {work / "textback.db"}}}
{records}"""


@contextlib.asynccontextmanager
async def bridge_process(config: Path, log: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge.cli", "run", "--config", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=out,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def place_calls(
    asterisk: FakeAsterisk, outcome: Outcome, count: int, rng: random.Random
) -> None:
    """``count`` calls, one about every second, each spread over 1-2.5 s."""
    pbx = callgen.Pbx(epoch=int(time.time()))
    playing: set[asyncio.Task[None]] = set()
    for n in range(count):
        scenario = SCENARIOS[n % len(SCENARIOS)]
        pbx.caller = f"+1737555{2000 + n:04d}"
        data = callgen.render(scenario, pbx=pbx, banner=False)
        events = recorded_events(data)
        first = AmiFramer(expect_banner=False).feed(events[0])[0]
        missed = callgen.SCENARIOS[scenario][1] == "missed"
        outcome.placed.append(Placed(first.get("Linkedid"), pbx.caller, scenario, missed))
        gap = rng.uniform(1.0, 2.5) / len(events)
        task = asyncio.create_task(asterisk.play(events, gap=gap))
        playing.add(task)
        task.add_done_callback(playing.discard)
        await asyncio.sleep(rng.uniform(0.5, 1.5))
    await asyncio.gather(*playing)


async def keep_killing(
    config: Path, log: Path, asterisk: FakeAsterisk, outcome: Outcome, rng: random.Random,
    calls_done: asyncio.Event,
) -> None:  # fmt: skip
    """Run the bridge; SIGKILL it at random; start it again; until the calls are placed."""
    while not calls_done.is_set():
        async with bridge_process(config, log) as process:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(rng.uniform(1.5, 8.0)):
                    await calls_done.wait()
            if calls_done.is_set():
                return
            process.send_signal(signal.SIGKILL)
            await process.wait()
            outcome.kills += 1
        await asyncio.sleep(rng.uniform(0.3, 4.0))


async def settle(config: Path, log: Path, db: Path, placed: int, asterisk: FakeAsterisk) -> None:
    """A last, uninterrupted run: until every call is recorded and no text waits."""
    logins = asterisk.logins
    async with bridge_process(config, log) as process:
        async with asyncio.timeout(120):
            await asterisk.wait_for(lambda: asterisk.logins > logins)
            while not await asyncio.to_thread(_settled, db, placed):  # noqa: ASYNC110 -- another process writes
                await asyncio.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.wait()


def _settled(db: Path, placed: int) -> bool:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        (calls,) = conn.execute("SELECT count(*) FROM calls").fetchone()
        (waiting,) = conn.execute(
            "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"
        ).fetchone()
        (open_calls,) = conn.execute("SELECT count(*) FROM open_calls").fetchone()
    return calls >= placed and waiting == 0 and open_calls == 0


_RESTORED = re.compile(rb"(\d+) call\(s\) were in progress when textback last stopped")


def count(outcome: Outcome, db: Path, sim: SimulatedModem, log: Path) -> None:
    outcome.restored = sum(int(n) for n in _RESTORED.findall(log.read_bytes()))
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = dict(conn.execute("SELECT linkedid, source || ':' || outcome FROM calls"))
        outcome.stuck = conn.execute(
            f"SELECT count(*) FROM outbox WHERE kind = 'textback' AND state NOT IN {_FINAL}"  # noqa: S608 -- constants only
        ).fetchone()[0]
    for call in outcome.placed:
        if call.linkedid in rows:
            outcome.recorded[rows[call.linkedid]] += 1
        else:
            outcome.unrecorded.append(call.linkedid)
    callers = {call.caller for call in outcome.placed}
    outcome.texts.update(s.number for s in sim.engine.sent if s.number in callers)


async def run(calls: int, seed: int, work: Path, *, records: bool = True) -> Outcome:
    calls_rng, kills_rng = random.Random(seed), random.Random(seed + 1)  # each its own sequence
    outcome = Outcome()
    db, log, cdr = work / "textback.db", work / "bridge.log", work / "Master.csv"
    started = time.monotonic()
    async with (
        FakeAsterisk(secret=SECRET, cdr_csv=cdr if records else None) as asterisk,
        SimulatedModem(work / "ttyUSB0") as sim,
    ):
        config = work / "textback.yaml"
        config.write_text(config_text(work, asterisk.port, sim.path, cdr if records else None))
        calls_done = asyncio.Event()
        killer = asyncio.create_task(
            keep_killing(config, log, asterisk, outcome, kills_rng, calls_done)
        )
        await place_calls(asterisk, outcome, calls, calls_rng)
        calls_done.set()
        await killer
        await settle(config, log, db, len(outcome.placed), asterisk)
        count(outcome, db, sim, log)
    outcome.seconds = time.monotonic() - started
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-call-records", action="store_true", help="the bridge without a cdr source"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="textback-kill9-") as work:
        outcome = asyncio.run(
            run(args.calls, args.seed, Path(work), records=not args.no_call_records)
        )
    figures = outcome.figures()
    print(f"  {'calls placed':<28} {figures['calls_placed']:>6}")
    print(f"  {'  of them missed':<28} {figures['missed_placed']:>6}")
    print(f"  {'bridge killed (SIGKILL)':<28} {figures['kills']:>6}")
    for source, n in sorted(outcome.recorded.items()):
        print(f"  {'recorded, ' + source:<28} {n:>6}")
    print(f"  {'taken over after a restart':<28} {figures['taken_over_after_a_restart']:>6}")
    print(f"  {'not recorded':<28} {figures['unrecorded']:>6}")
    print(f"  {'missed callers texted':<28} {figures['missed_texted']:>6}")
    print(f"  {'callers texted twice':<28} {figures['doubled']:>6}")
    print(f"  {'text-backs stuck':<28} {figures['stuck']:>6}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
