"""`textback send-test` and `textback sim-modem`."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bridge.app_settings import modem_settings
from bridge.cli.common import (
    EXIT_USAGE,
    config_option,
    console,
    errors,
    fail,
    load,
    main,
    run_until_signal,
    seconds,
)
from bridge.cli.render import cell
from bridge.config import Config
from bridge.core.numbers import display, to_e164
from bridge.texting import plan as textback
from bridge.texting import policy
from sms_gateway.base import DeliveryReport, IncomingText, SendError
from sms_gateway.gsm_modem import GsmModemTransport
from sms_gateway.settings import ModemSettings


@main.command("send-test")
@config_option
@click.argument("number")
@click.option(
    "--wait", type=seconds, default=30.0, show_default=True, help="Seconds to wait for the modem."
)
def send_test(config_path: str, number: str, wait: float) -> None:
    """Send one text through the configured modem, reporting each step."""
    config = load(config_path)
    to = _test_recipient(config, number)
    if config.modem is None:
        fail(f"{config_path} has no modem section: nothing to send with", EXIT_USAGE)
    body = f"Test from textback for {config.business.name}: texting from this modem works."
    try:
        asyncio.run(
            _send_test(modem_settings(config.modem), to, body, wait, config.business.region)
        )
    except SendError as exc:
        fail(f"not sent: {exc}")


def _test_recipient(config: Config, number: str) -> str:
    """``number`` in E.164 if textback would text it; else exit 2 saying why not."""
    to = to_e164(number, config.business.region)
    if to is None:
        fail(f"{number!r} is not a phone number", EXIT_USAGE)
    line = config.line_for(to)
    if line is not None:
        fail(
            f"{display(to, config.business.region)} is the business's own line ({line.name}):"
            " use a mobile",
            EXIT_USAGE,
        )
    problem = policy.number_problem(to, textback.text_policy(config))
    if problem is not None:
        fail(f"{number!r} is not a number textback texts ({problem.value})", EXIT_USAGE)
    return to


async def _send_test(settings: ModemSettings, to: str, body: str, wait: float, home: str) -> None:
    transport = GsmModemTransport(settings, reconnect_min=1, reconnect_max=2)
    reports: asyncio.Queue[DeliveryReport] = asyncio.Queue()

    class Sink:
        async def incoming_text(self, text: IncomingText) -> None:
            console.print(
                cell(f"  (a text came in from {text.sender}; `textback run` handles those)")
            )

        async def delivery_report(self, report: DeliveryReport) -> None:
            reports.put_nowait(report)

    console.print(cell(f"1. opening the modem on {settings.port} at {settings.baudrate} bps"))
    runner = asyncio.create_task(transport.run(Sink()))
    try:
        last = ""
        async with asyncio.timeout(wait):
            while not (status := transport.status()).connected:
                if status.detail != last and status.detail != "not started":
                    last = status.detail
                    console.print(cell(f"   waiting: {status.detail}"))
                await asyncio.sleep(0.1)
        status = transport.status()
        console.print(cell(f"2. modem ready: {status.detail}"))
        if not status.registered:
            raise SendError("the SIM is not registered on a network", retryable=True)
        console.print(cell(f"3. sending to {display(to, home)}: {body}"))
        kept: list[int] = []  # the modem's storage slots, where it stores before sending

        async def handed_over(slots: Sequence[int]) -> None:
            kept[:] = slots

        result = await transport.send(to, body, on_handover=handed_over)
        await transport.release(kept)  # nothing of a test text stays on the modem
        console.print(cell(f"4. accepted by the network (reference {result.references[0]})"))
        if settings.delivery_reports:
            try:
                async with asyncio.timeout(60):
                    report = await reports.get()
                verdict = (
                    "delivered" if report.delivered else f"NOT delivered (status {report.status})"
                )
                console.print(cell(f"5. delivery report: {verdict}"))
            except TimeoutError:
                console.print(cell("5. no delivery report within 60 s (the text may still arrive)"))
    except TimeoutError:
        raise SendError(
            f"the modem was not ready within {wait:g} s: {transport.status().detail}",
            retryable=True,
        ) from None
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


class _LinkRefused(Exception):
    """sim-modem cannot put its link at the path it was given."""


@main.command("sim-modem")
@click.option("--link", "link", required=True, metavar="PATH", help="Device path to create.")
@click.option("--pin", default=None, help="Make the simulated SIM ask for this PIN.")
def sim_modem(link: str, pin: str | None) -> None:
    """Run a simulated GSM modem on a pty, for trying textback without hardware.

    Point modem.port at LINK. Texts sent to it are printed; type
    `+15125559876 your message` and Enter to send a text to textback.
    """
    from bridge.sim.modem import ModemEngine
    from bridge.sim.modem_pty import SimulatedModem

    async def show_sent(engine: ModemEngine) -> None:
        shown = 0
        while True:  # the simulator has no callback: look every 0.2 s
            for sent in engine.sent[shown:]:
                console.print(cell(f"-> {sent.number}: {sent.text}"))
            shown = len(engine.sent)
            await asyncio.sleep(0.2)

    async def take_typed(sim: SimulatedModem) -> None:
        if not _typing_possible():
            return  # /dev/null, a plain file or no stdin: it just serves
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        # A pipe reader, not a thread: it is cancelled at once on Ctrl-C or SIGTERM.
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode(errors="replace"):
            sender, _, text = line.strip().partition(" ")
            if sender and text:
                sim.receive(sender, text)
                console.print(cell(f"<- {sender}: {text}"))

    async def serve() -> None:
        engine = ModemEngine(pin=pin)
        sim = SimulatedModem(Path(link), engine)
        try:
            await sim.start()
        except OSError as exc:
            raise _LinkRefused(str(exc)) from None
        try:
            errors.print(f"simulated modem on {sim.path}; Ctrl-C stops")
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(show_sent(engine))
                tasks.create_task(take_typed(sim))
        finally:
            await sim.stop()

    try:
        run_until_signal(serve())
    except _LinkRefused as exc:
        fail(f"--link {link}: {exc}", EXIT_USAGE)


def _typing_possible() -> bool:
    """stdin is something the event loop can watch: a terminal, a pipe or a socket
    (epoll refuses /dev/null and plain files)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # no stdin at all
        return False
    return sys.stdin.isatty() or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
