"""`textback demo`: the real bridge against a simulated PBX and modem."""

from __future__ import annotations

import asyncio

import click

from bridge.cli.common import (
    console,
    main,
)


@main.command()
@click.option("--gap", type=float, default=0.02, show_default=True, help="Seconds between events.")
def demo(gap: float) -> None:
    """Watch the bridge decide calls from a simulated PBX (no Asterisk needed)."""
    from bridge.cli.tour import run_demo

    asyncio.run(run_demo(console, gap=gap))
