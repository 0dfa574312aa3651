"""`textback demo`: the real bridge against a simulated PBX, on this machine.

It starts the AMI double, a simulated modem and a local mail server on
loopback, runs the bridge against them with a throw-away store, and prints
the whole loop as it happens: calls decided, text-backs out of the modem, a
homeowner's reply, the owner's email and text alert, the owner answering by
text, the thread handled, and the recovered-lead report.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Callable, Sized
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.alerts.wording import local_time
from bridge.app import Bridge
from bridge.cli.render import cell
from bridge.config import Config
from bridge.core.calls import CallDecision, Outcome
from bridge.core.numbers import caller_label, display
from bridge.core.threads import ReportFigures, StoredCall
from bridge.followup.report import build as build_report
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.mail import MailCatcher
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from bridge.web.passwords import hash_password

MIKE = "+15125550199"  # the owner's mobile
TOM = "+15125550142"

_SECRET = "demo-only-secret"  # noqa: S105 -- the demo's own loopback double
# `textback demo --keep`: the inbox stays up here, with this login printed.
INBOX_PORT = 8025
DEMO_OWNER, DEMO_PASSWORD = "mike", "demo-password"
NEW_CALL_EVERY = 45.0  # seconds: a missed call to watch arrive live


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


REGION = "US"


def demo_config(
    port: int, store_path: Path, modem_path: Path, smtp_port: int, *, inbox: bool = False
) -> Config:
    web = {"web": {"port": INBOX_PORT, "session_secret": _SECRET + "-for-the-inbox"}}
    return Config.model_validate(
        {
            "business": {
                "name": "Acme Roofing",
                "timezone": "America/Chicago",
                "region": REGION,
                "hours": {"mon-sun": "00:00-23:59"},  # the same story whenever it runs
                "average_job_value": 850,
            },
            "ami": {
                "host": "127.0.0.1",
                "port": port,
                "username": "textback",
                "secret": _SECRET,
                "reconnect_min": 0.2,
                "reconnect_max": 2,
            },
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [
                {"id": "mike", "name": "Mike", "mobile": MIKE, "email": "mike@acme.example"}
            ],
            "modem": {"port": str(modem_path), "sweep_seconds": 3600},
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "sender": "textback <textback@acme.example>",
            },
            "store": {"path": str(store_path)},
        }
        | (web if inbox else {}),
        context={"region": "US"},
    )


async def _until(check: Callable[[], bool], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 -- the demo watches a simulator, nothing signals
            await asyncio.sleep(0.01)


def _texts_to(modem: SimulatedModem, number: str) -> list[str]:
    """Whole texts the modem sent to ``number``: a long one's parts joined."""
    texts: list[str] = []
    for part in (s for s in modem.engine.sent if s.number == number):
        if part.concat is not None and part.concat[2] > 1 and texts:
            texts[-1] += part.text
        else:
            texts.append(part.text)
    return texts


def _grew(items: Sized, before: int) -> Callable[[], bool]:
    return lambda: len(items) > before


def _show(console: Console, decision: CallDecision, text_skip: str | None) -> None:
    colour = {"missed": "bold red", "answered": "green"}.get(decision.outcome.value, "cyan")
    who = (
        "withheld number"
        if decision.withheld
        else caller_label(decision.caller, decision.caller_raw, REGION, withheld=False)
    )
    verdict = decision.outcome.value.upper()
    if decision.reason:
        verdict += f" ({decision.reason.value})"
    console.print(
        Text("    decided: ") + Text(verdict, style=colour) + Text(" - ") + cell(decision.detail)
    )
    if decision.outcome is Outcome.MISSED and text_skip is not None:
        console.print(Text(f"    -> no text for {who}: {text_skip}"))


async def run_demo(console: Console, *, gap: float = 0.02, keep: bool = False) -> None:
    """The whole loop; ``keep``: then the bridge and its inbox stay up until cancelled."""
    console.rule("[bold]textback demo[/]: a simulated Asterisk PBX and a simulated GSM modem")
    with tempfile.TemporaryDirectory(prefix="textback-demo-") as workdir:
        modem_path = Path(workdir) / "ttyUSB-demo"
        mail = MailCatcher()
        await mail.start()
        async with (
            FakeAsterisk(secret=_SECRET) as pbx_double,
            SimulatedModem(modem_path) as modem,
        ):
            store_path = Path(workdir) / "textback.db"
            config = demo_config(pbx_double.port, store_path, modem_path, mail.port, inbox=keep)
            console.print(
                f"AMI double on 127.0.0.1:{pbx_double.port}, modem on {modem_path}, "
                f"mail server on 127.0.0.1:{mail.port}, store in {workdir}\n"
            )
            decided: asyncio.Queue[CallDecision] = asyncio.Queue()
            async with await Store.open(config.store.path) as store:
                if keep:
                    await store.set_password_hash(DEMO_OWNER, hash_password(DEMO_PASSWORD))
                bridge = Bridge(config, store, on_decision=decided.put_nowait)
                async with asyncio.TaskGroup() as tasks:
                    runner = tasks.create_task(bridge.run())
                    async with asyncio.timeout(10):
                        await pbx_double.wait_for(lambda: pbx_double.sessions > 0)
                    async with asyncio.timeout(10):
                        await bridge.transports.available["modem"].wait_ready()
                    await _play_calls(console, pbx_double, modem, store, decided)
                    await _conversation(console, modem, store, bridge, mail)
                    if keep:
                        await _keep_serving(console, pbx_double)
                    runner.cancel()
                rows = await store.recent_calls(len(DEMO_CALLS))
                figures = await store.report(None)
        await mail.stop()
        _summary(console, rows, figures, config)
    console.print(
        "Next: `textback replay tests/fixtures/asterisk/02_noanswer.ami --json` decides a "
        "call recorded from a real Asterisk 22."
    )


def _summary(
    console: Console, rows: list[StoredCall], figures: ReportFigures, config: Config
) -> None:
    """What the store holds at the end, and the report."""
    table = Table(title="What the store holds (textback calls)")
    for column in ("caller", "line", "outcome", "reason", "text"):
        table.add_column(column)
    for row in reversed(rows):
        caller = caller_label(
            row.caller,
            row.caller_raw,
            REGION,
            withheld=row.withheld,
            desk=row.outcome in ("internal", "outbound"),
        )
        text = row.text_state or (f"not sent: {row.text_skip}" if row.text_skip else "")
        table.add_row(cell(caller), cell(row.line_name or "-"), row.outcome, row.reason or "", text)
    console.print()
    console.print(table)
    report = build_report(figures, None, config.business.average_job_value, "$")
    summary = Table(title="textback report", show_header=False)
    for label, value in report.lines():
        summary.add_row(label, value)
    console.print(summary)


async def _keep_serving(console: Console, pbx_double: FakeAsterisk) -> None:
    """Until Ctrl-C: the inbox on loopback, a new missed call now and then to watch."""
    console.print(
        f"\n[bold]The inbox[/]: http://127.0.0.1:{INBOX_PORT} - log in as"
        f" [bold]{DEMO_OWNER}[/] with the password [bold]{DEMO_PASSWORD}[/]."
        f" A new missed call rings out every {NEW_CALL_EVERY:g} s. Ctrl-C stops the demo."
    )
    pbx = callgen.Pbx(epoch=1_797_000_000)
    for number in itertools.count(1):
        await asyncio.sleep(NEW_CALL_EVERY)  # the demo's own pace, not a wait for anything
        pbx.caller, pbx.caller_name = f"+1512555{number % 100:04d}", f"Demo Caller {number}"
        await pbx_double.play(recorded_events(callgen.render("no_answer", pbx=pbx)), gap=0)


async def _play_calls(
    console: Console,
    pbx_double: FakeAsterisk,
    modem: SimulatedModem,
    store: Store,
    decided: asyncio.Queue[CallDecision],
) -> None:
    pbx = callgen.Pbx()
    for number, call in enumerate(DEMO_CALLS, start=1):
        console.print(f"[bold]Call {number}[/]: {call.story}")
        pbx.caller, pbx.caller_name = call.caller, call.name
        texts_before = len(modem.engine.sent)
        await pbx_double.play(recorded_events(callgen.render(call.scenario, pbx=pbx)), gap=0)
        async with asyncio.timeout(10):
            decision = await decided.get()
        stored = await store.call(decision.linkedid)
        _show(console, decision, stored.text_skip if stored else None)
        if stored is not None and stored.text_skip is None and decision.outcome is Outcome.MISSED:
            await _until(_grew(modem.engine.sent, texts_before))
            sent = modem.engine.sent[-1]
            console.print(Text(f"    -> the modem texted {display(sent.number, REGION)}:"))
            console.print(Text("       ") + cell(sent.text, 400))


async def _conversation(
    console: Console, modem: SimulatedModem, store: Store, bridge: Bridge, mail: MailCatcher
) -> None:
    console.print("\n[bold]The homeowners text back[/]")
    await _homeowner_texts(console, modem, "+15125550177", "STOP")
    console.print(Text("    -> opted out for good; the modem confirmed once:"))
    console.print(Text("       ") + cell(modem.engine.sent[-1].text, 400))

    await _homeowner_texts(
        console, modem, TOM, "Hi, it's Tom - water is coming through the ceiling, can someone come?"
    )
    bridge.alerts.wake()  # rather than wait for its next look at the store
    await _until(lambda: any("replied" in str(m["Subject"]) for m in mail.mailbox.messages))
    message = next(m for m in mail.mailbox.messages if "replied" in str(m["Subject"]))
    console.print("\n[bold]Mike's inbox[/] (the demo's own mail server)")
    console.print(Text(f"    From: {message['From']}\n    Subject: ") + cell(message["Subject"]))
    body = message.get_body(("plain",))
    for line in str(body.get_content() if body else "").splitlines():
        console.print(Text("    | ") + cell(line, 200))

    def reply_alerts() -> list[str]:
        # Alone, or batched with the missed calls' alerts due with it ("... replied 2:09 PM").
        return [t for t in _texts_to(modem, MIKE) if "to answer" in t or " replied " in t]

    await _until(lambda: bool(reply_alerts()))
    console.print("\n[bold]Mike's phone[/]")
    console.print(Text("    textback: ") + cell(reply_alerts()[0], 400))
    thread = next(t for t in await store.threads() if t.caller == TOM)
    answer = f"{thread.id} On my way - I can be there by 3pm. Mike"
    to_tom = len([s for s in modem.engine.sent if s.number == TOM])
    console.print(Text("    Mike answers: ") + cell(answer))
    modem.receive(MIKE, answer)
    await _until(lambda: len([s for s in modem.engine.sent if s.number == TOM]) > to_tom)
    console.print(
        Text(f"    -> the modem texted {display(TOM, REGION)}: ")
        + cell([s for s in modem.engine.sent if s.number == TOM][-1].text)
    )
    console.print(Text(f"    Mike, after the job: DONE {thread.id}"))
    modem.receive(MIKE, f"DONE {thread.id}")

    async def handled() -> bool:
        summary = await store.thread_summary(thread.id)
        return summary is not None and summary.status == "handled"

    async with asyncio.timeout(10):
        while not await handled():  # noqa: ASYNC110 -- the demo watches the store
            await asyncio.sleep(0.01)
    console.print(Text(f"    -> thread #{thread.id} is handled"))
    found = await store.thread(thread.id)
    if found is not None:
        console.print(f"\n[bold]Thread #{thread.id}[/] (textback thread {thread.id})")
        zone = ZoneInfo(bridge.config.business.timezone)  # as the emails show times
        for event in found[1]:
            when = local_time(event.at, zone, "%I:%M:%S %p").lstrip("0")
            console.print(Text(f"    {when:>11}  {event.what:<36} ") + cell(event.text, 70))


async def _homeowner_texts(console: Console, modem: SimulatedModem, sender: str, body: str) -> None:
    texts_before, read_before = len(modem.engine.sent), len(modem.engine.deleted)
    modem.receive(sender, body)
    console.print(Text(f"    {display(sender, REGION)}: ") + cell(body, 400))
    # The modem's copy is deleted only once the store has the text.
    await _until(_grew(modem.engine.deleted, read_before))
    if body == "STOP":
        await _until(_grew(modem.engine.sent, texts_before))
