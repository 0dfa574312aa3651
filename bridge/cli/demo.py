"""`textback demo`: the real bridge against a simulated PBX and modem."""

from __future__ import annotations

import asyncio
import socket

import click

from bridge.cli.common import console, fail, main


@main.command()
@click.option("--gap", type=float, default=0.02, show_default=True, help="Seconds between events.")
@click.option(
    "--keep", is_flag=True,
    help="Then keep the bridge and its inbox on http://127.0.0.1:8025 until Ctrl-C.",
)  # fmt: skip
def demo(gap: float, keep: bool) -> None:
    """Watch the bridge decide calls from a simulated PBX (no Asterisk needed)."""
    from bridge.cli.tour import INBOX_PORT, run_demo

    if keep and not _free(INBOX_PORT):
        fail(f"port {INBOX_PORT} on 127.0.0.1 is in use: stop what listens there first")
    try:
        asyncio.run(run_demo(console, gap=gap, keep=keep))
    except KeyboardInterrupt:
        console.print("demo stopped")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
