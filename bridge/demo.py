"""`textback demo`: the real bridge against a simulated PBX, on this machine.

It starts the AMI double on a free loopback port, runs the bridge against it
with a throw-away store, plays a handful of calls over the socket and prints
each decision as the bridge commits it.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge import textback
from bridge.calls import CallDecision, Outcome
from bridge.config import Config
from bridge.daemon import Bridge
from bridge.numbers import display
from bridge.safe_text import cell
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.store import Store

_SECRET = "demo-only-secret"  # noqa: S105 -- the demo's own loopback double


@dataclass(frozen=True)
class DemoCall:
    story: str
    scenario: str
    caller: str
    name: str


DEMO_CALLS = (
    DemoCall(
        "Jane calls the main line and Mike picks up", "answered", "+15125559876", "Jane Caller"
    ),
    DemoCall("Tom calls; desk 201 rings out", "no_answer", "+15125550142", "Tom Homeowner"),
    DemoCall(
        "Ana calls; the ring group (201, 202, 203) rings out",
        "ring_group_no_answer",
        "+15125550177",
        "Ana Lopez",
    ),
    DemoCall(
        "Raj calls; nobody answers and he leaves a voicemail",
        "voicemail_left",
        "+15125550123",
        "Raj Patel",
    ),
    DemoCall("Desk 202 calls desk 201 (an internal call)", "internal", "202", "Desk 202"),
    DemoCall("A withheld number calls and rings out", "anonymous", "anonymous", "Anonymous"),
)


def demo_config(port: int, store_path: Path) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "timezone": "America/Chicago", "region": "US"},
            "ami": {
                "host": "127.0.0.1",
                "port": port,
                "username": "textback",
                "secret": _SECRET,
                "reconnect_min": 0.2,
                "reconnect_max": 2,
            },
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [{"id": "mike", "name": "Mike", "mobile": "+15125550199"}],
            "store": {"path": str(store_path)},
        },
        context={"region": "US"},
    )


def _show(console: Console, decision: CallDecision, config: Config, text_skip: str | None) -> None:
    colour = {"missed": "bold red", "answered": "green"}.get(decision.outcome.value, "cyan")
    who = display(decision.caller) if decision.caller else "withheld number"
    verdict = decision.outcome.value.upper()
    if decision.reason:
        verdict += f" ({decision.reason.value})"
    console.print(
        Text("    decided: ") + Text(verdict, style=colour) + Text(" - ") + cell(decision.detail)
    )
    if decision.outcome is not Outcome.MISSED:
        return
    if text_skip in (None, "no-sms-transport"):
        body = textback.compose(config, decision.line, decision.ended_at, first_text=True)
        console.print(Text(f"    -> text for {who} (sending arrives with the SMS transports):"))
        console.print(Text("       ") + cell(body, 400))
    else:
        console.print(Text(f"    -> no text: {text_skip}"))


async def run_demo(console: Console, *, gap: float = 0.02) -> None:
    console.rule("[bold]textback demo[/]: the bridge against a simulated Asterisk PBX")
    with tempfile.TemporaryDirectory(prefix="textback-demo-") as workdir:
        async with FakeAsterisk(secret=_SECRET) as pbx_double:
            config = demo_config(pbx_double.port, Path(workdir) / "textback.db")
            console.print(
                f"AMI double listening on 127.0.0.1:{pbx_double.port}; store in {workdir}\n"
            )
            decided: asyncio.Queue[CallDecision] = asyncio.Queue()
            async with await Store.open(config.store.path) as store:
                bridge = Bridge(config, store, on_decision=decided.put_nowait)
                async with asyncio.TaskGroup() as tasks:
                    runner = tasks.create_task(bridge.run())
                    async with asyncio.timeout(10):
                        await pbx_double.wait_for(lambda: pbx_double.sessions > 0)
                    pbx = callgen.Pbx()
                    for number, call in enumerate(DEMO_CALLS, start=1):
                        console.print(f"[bold]Call {number}[/]: {call.story}")
                        pbx.caller, pbx.caller_name = call.caller, call.name
                        data = callgen.render(call.scenario, pbx=pbx)
                        await pbx_double.play(recorded_events(data), gap=gap)
                        async with asyncio.timeout(10):
                            decision = await decided.get()
                        stored = await store.call(decision.linkedid)
                        _show(console, decision, config, stored.text_skip if stored else None)
                    runner.cancel()
                rows = await store.recent_calls(len(DEMO_CALLS))
        table = Table(title="What the store holds (textback calls)")
        for column in ("caller", "line", "outcome", "reason"):
            table.add_column(column)
        for row in reversed(rows):
            caller = display(row.caller) if row.caller else row.caller_raw
            table.add_row(cell(caller), cell(row.line_name or "-"), row.outcome, row.reason or "")
        console.print()
        console.print(table)
    console.print(
        "Next: `textback replay tests/fixtures/asterisk/02_noanswer.ami --json` decides a "
        "call recorded from a real Asterisk 22."
    )
