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

Issue 15's harder cases, each an option: the modem confirms a send only
``--confirm-delay`` seconds after the text went out (about half the kills are
then aimed into that window, while the send waits for its confirmation: the
"killed mid-send" count), the SMSC ignores TP-RD (``--ignore-tp-rd``: a repeat
goes out again), the line texts over [modem, sip] (``--sip-fallback``: SIP
MESSAGE through the AMI double's MessageSend; both count), the modem has no
AT+CMGW/AT+CMSS (``--no-store-and-send``).

    python bench/kill9.py [--calls 200] [--seed 1] [--confirm-delay 3]
        [--ignore-tp-rd] [--sip-fallback] [--no-store-and-send]
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
from bridge.sim.modem import ModemEngine, ModemProfile
from bridge.sim.modem_pty import SimulatedModem

SECRET = "kill9-bench-only"  # noqa: S105 -- a loopback double's own
# A mix like an office's day: most calls missed one way or another.
SCENARIOS = (
    "no_answer", "no_answer", "busy", "answered", "voicemail_left", "caller_gives_up",
    "ring_group_no_answer", "queue_abandon", "chanunavail", "answered", "ivr_hangup",
)  # fmt: skip
_FINAL = ("sent", "delivered", "failed", "expired", "cancelled")
SIP_HOST = "sip.provider.example"
_SIP_NUMBER = re.compile(r"sip:(\+?\d+)@")


@dataclass(frozen=True)
class Settings:
    """The run's options beyond --calls and --seed."""

    records: bool = True
    confirm_delay: float = 0.0  # the simulated modem's confirm_delay
    honours_rd: bool = True  # False: the SMSC ignores TP-RD
    sip_fallback: bool = False  # the line's transports: [modem, sip]
    store_and_send: bool = True  # False: a modem profile without AT+CMGW/AT+CMSS
    mid_send_kills: float = 0.5  # with a delay: the share of kills aimed into it

    def figures(self) -> dict[str, object]:
        return {
            "confirm_delay": self.confirm_delay,
            "ignore_tp_rd": not self.honours_rd,
            "sip_fallback": self.sip_fallback,
            "store_and_send": self.store_and_send,
        }


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
    kills_mid_send: int = 0  # SIGKILLs while a send waited for its confirmation
    recorded: Counter[str] = field(default_factory=Counter)  # by source
    unrecorded: list[str] = field(default_factory=list)
    texts: Counter[str] = field(default_factory=Counter)  # per caller
    by_transport: Counter[str] = field(default_factory=Counter)  # modem, sip
    stuck: int = 0
    misread: Counter[str] = field(default_factory=Counter)  # scenario -> recorded wrongly
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
            "kills_mid_send": self.kills_mid_send,
            "recorded": sum(self.recorded.values()),
            "recorded_by_source": dict(self.recorded),
            "taken_over_after_a_restart": self.restored,
            "unrecorded": len(self.unrecorded),
            "missed_texted": sum(1 for p in missed if self.texts[p.caller] >= 1),
            # Calls a person answered (or nobody should be texted for) that got a text.
            "not_missed_texted": sum(
                1 for p in self.placed if not p.missed and self.texts[p.caller] >= 1
            ),
            "misread": dict(self.misread),
            "doubled": self.doubled,
            "texts_by_transport": dict(self.by_transport),
            "stuck": self.stuck,
            "seconds": round(self.seconds, 1),
        }


def config_text(
    work: Path, ami_port: int, modem: Path, cdr: Path | None, *, sip: bool = False
) -> str:
    records = f"cdr:\n  csv: {cdr}\n" if cdr is not None else ""
    line = '{did: "+15125550100", name: Main line}'
    if sip:  # texts through the modem, SIP (AMI MessageSend) when it cannot
        line = '{did: "+15125550100", name: Main line, transports: [modem, sip]}'
        records += f"sip:\n  endpoint: provider-trunk\n  host: {SIP_HOST}\n"
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
lines: [{line}]
texting:
  max_per_hour: 10000
  max_per_minute: 1000  # calls come faster here than an office's trunks bring them
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


@dataclass
class Killer:
    """When to SIGKILL the bridge: at random (``rng``), and with a confirmation
    delay, some kills (``aim``, its own sequence) aimed into it: once the modem
    owes a confirmation, at a random moment before it is due."""

    rng: random.Random
    aim: random.Random
    engine: ModemEngine
    settings: Settings

    async def wait(self, calls_done: asyncio.Event) -> None:
        lifetime = self.rng.uniform(1.5, 8.0)
        aimed = self.settings.confirm_delay > 0 and self.aim.random() < self.settings.mid_send_kills
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(lifetime):
                if not aimed:
                    await calls_done.wait()
                    return
                # The engine signals nothing: look until a send waits, or the calls end.
                while not calls_done.is_set() and self.engine.owed_confirmation is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        if aimed and self.engine.owed_confirmation is not None:
            await asyncio.sleep(self.aim.uniform(0, 0.8 * self.settings.confirm_delay))


async def keep_killing(
    config: Path, log: Path, outcome: Outcome, killer: Killer, calls_done: asyncio.Event
) -> None:
    """Run the bridge; SIGKILL it at random; start it again; until the calls are placed."""
    while not calls_done.is_set():
        async with bridge_process(config, log) as process:
            await killer.wait(calls_done)
            if calls_done.is_set():
                return
            mid_send = killer.engine.owed_confirmation is not None
            process.send_signal(signal.SIGKILL)
            await process.wait()
            outcome.kills += 1
            outcome.kills_mid_send += mid_send
        await asyncio.sleep(killer.rng.uniform(0.3, 4.0))


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


def count(
    outcome: Outcome, db: Path, sim: SimulatedModem, asterisk: FakeAsterisk, log: Path
) -> None:
    outcome.restored = sum(int(n) for n in _RESTORED.findall(log.read_bytes()))
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = dict(conn.execute("SELECT linkedid, source || ':' || outcome FROM calls"))
        outcome.stuck = conn.execute(
            f"SELECT count(*) FROM outbox WHERE kind = 'textback' AND state NOT IN {_FINAL}"  # noqa: S608 -- constants only
        ).fetchone()[0]
    for call in outcome.placed:
        if call.linkedid in rows:
            outcome.recorded[rows[call.linkedid]] += 1
            if rows[call.linkedid].endswith(":missed") != call.missed:
                outcome.misread[f"{call.scenario} as {rows[call.linkedid]}"] += 1
        else:
            outcome.unrecorded.append(call.linkedid)
    callers = {call.caller for call in outcome.placed}
    by_modem = [s.number for s in sim.engine.sent if s.number in callers]
    by_sip = [sip_number(m.destination) for m in asterisk.messages]
    by_sip = [n for n in by_sip if n in callers]
    outcome.texts.update(by_modem + by_sip)
    outcome.by_transport.update(modem=len(by_modem), sip=len(by_sip))


def sip_number(destination: str) -> str:
    """The number in a MessageSend destination: pjsip:trunk/sip:+1737...@host."""
    found = _SIP_NUMBER.search(destination)
    number = found.group(1) if found else ""
    return number if number.startswith("+") else "+" + number


def modem_engine(settings: Settings) -> ModemEngine:
    return ModemEngine(
        profile=ModemProfile(store_and_send=settings.store_and_send),
        confirm_delay=settings.confirm_delay,
        smsc_honours_rd=settings.honours_rd,
    )


async def run(calls: int, seed: int, work: Path, settings: Settings | None = None) -> Outcome:
    settings = settings or Settings()
    calls_rng, kills_rng = random.Random(seed), random.Random(seed + 1)  # each its own sequence
    outcome = Outcome()
    db, log, cdr = work / "textback.db", work / "bridge.log", work / "Master.csv"
    records = cdr if settings.records else None
    started = time.monotonic()
    async with (
        FakeAsterisk(secret=SECRET, cdr_csv=records) as asterisk,
        SimulatedModem(work / "ttyUSB0", modem_engine(settings)) as sim,
    ):
        config = work / "textback.yaml"
        text = config_text(work, asterisk.port, sim.path, records, sip=settings.sip_fallback)
        config.write_text(text)
        calls_done = asyncio.Event()
        killer = Killer(kills_rng, random.Random(seed + 2), sim.engine, settings)
        killing = asyncio.create_task(keep_killing(config, log, outcome, killer, calls_done))
        await place_calls(asterisk, outcome, calls, calls_rng)
        calls_done.set()
        await killing
        await settle(config, log, db, len(outcome.placed), asterisk)
        count(outcome, db, sim, asterisk, log)
    outcome.seconds = time.monotonic() - started
    return outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-call-records", action="store_true", help="the bridge without a cdr source"
    )
    parser.add_argument(
        "--confirm-delay", type=float, default=0.0, metavar="SECONDS",
        help="the modem confirms a send this long after the text went out",
    )  # fmt: skip
    parser.add_argument(
        "--ignore-tp-rd", action="store_true", help="the SMSC sends a repeat (TP-RD) again"
    )
    parser.add_argument(
        "--sip-fallback", action="store_true", help="the line texts over [modem, sip]"
    )
    parser.add_argument(
        "--no-store-and-send", action="store_true", help="a modem without AT+CMGW/AT+CMSS"
    )
    parser.add_argument(
        "--mid-send-kills", type=float, default=0.5, metavar="FRACTION",
        help="with --confirm-delay: the share of kills aimed at a send awaiting confirmation",
    )  # fmt: skip
    parser.add_argument(
        "--keep", type=Path, metavar="DIR",
        help="work in DIR (the store, the bridge's log, Master.csv) and leave it for a look",
    )  # fmt: skip
    args = parser.parse_args()
    settings = Settings(
        records=not args.no_call_records,
        confirm_delay=args.confirm_delay,
        honours_rd=not args.ignore_tp_rd,
        sip_fallback=args.sip_fallback,
        store_and_send=not args.no_store_and_send,
        mid_send_kills=args.mid_send_kills,
    )
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        outcome = asyncio.run(run(args.calls, args.seed, args.keep, settings))
    else:
        with tempfile.TemporaryDirectory(prefix="textback-kill9-") as work:
            outcome = asyncio.run(run(args.calls, args.seed, Path(work), settings))
    figures = settings.figures() | outcome.figures()
    print(f"  {'modem confirm delay (s)':<28} {settings.confirm_delay:>6g}")
    for label, on in (
        ("SMSC ignores TP-RD", not settings.honours_rd),
        ("SIP fallback [modem, sip]", settings.sip_fallback),
        ("modem store-and-send", settings.store_and_send),
    ):
        print(f"  {label:<28} {'yes' if on else 'no':>6}")
    print(f"  {'calls placed':<28} {figures['calls_placed']:>6}")
    print(f"  {'  of them missed':<28} {figures['missed_placed']:>6}")
    print(f"  {'bridge killed (SIGKILL)':<28} {figures['kills']:>6}")
    print(f"  {'  of them mid-send':<28} {figures['kills_mid_send']:>6}")
    for source, n in sorted(outcome.recorded.items()):
        print(f"  {'recorded, ' + source:<28} {n:>6}")
    print(f"  {'taken over after a restart':<28} {figures['taken_over_after_a_restart']:>6}")
    print(f"  {'not recorded':<28} {figures['unrecorded']:>6}")
    print(f"  {'missed callers texted':<28} {figures['missed_texted']:>6}")
    print(f"  {'not-missed callers texted':<28} {figures['not_missed_texted']:>6}")
    print(f"  {'callers texted twice':<28} {figures['doubled']:>6}")
    for misread, n in sorted(outcome.misread.items()):
        print(f"  {'misread: ' + misread:<28} {n:>6}")
    for transport, n in sorted(outcome.by_transport.items()):
        print(f"  {'texts over ' + transport:<28} {n:>6}")
    print(f"  {'text-backs stuck':<28} {figures['stuck']:>6}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
