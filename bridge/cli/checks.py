"""`textback health` and `textback doctor`."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime

import click
from rich.text import Text

from bridge.cli.common import (
    EXIT_FAILURE,
    config_option,
    console,
    errors,
    load,
    main,
    require_config,
    seconds,
)
from bridge.cli.render import cell
from bridge.ops import health as bridge_health
from bridge.ops.doctor import diagnose


@main.command()
@config_option
def health(config_path: str) -> None:
    """Exit 0 if the running bridge is alive and connected (a container HEALTHCHECK)."""
    config = load(config_path)
    ok, message = bridge_health.verdict(
        bridge_health.heartbeat_file(config.store), datetime.now(UTC)
    )
    (console if ok else errors).print(("ok: " if ok else "unhealthy: ") + message)
    sys.exit(0 if ok else EXIT_FAILURE)


@main.command()
@config_option
@click.option(
    "--modem-wait",
    type=seconds,
    default=20.0,
    show_default=True,
    help="Seconds to give the modem to answer and register.",
)
@click.option(
    "--wait-for-call", type=click.FloatRange(0, 600), default=0.0, metavar="SECONDS",
    help="Watch AMI this long while you place a test call: proves which events the AMI"
    " user may read.",
)  # fmt: skip
def doctor(config_path: str, modem_wait: float, wait_for_call: float) -> None:
    """Check everything textback depends on, one line each with what to fix."""
    require_config(config_path)
    if wait_for_call:
        errors.print(f"call one of your lines now: watching AMI for {wait_for_call:g} s")
    checks = asyncio.run(diagnose(config_path, modem_wait=modem_wait, wait_for_call=wait_for_call))
    for check in checks:
        style = "green" if check.ok else "bold red"
        console.print(
            Text(check.line()[:4], style=style) + cell(check.line()[4:], 2000), soft_wrap=True
        )
    failed = [c for c in checks if not c.ok]
    if failed:
        errors.print(f"{len(failed)} problem(s) found")
        sys.exit(EXIT_FAILURE)
