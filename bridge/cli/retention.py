"""`textback store prune`: blank the bulky words of finished conversations
older than store.keep_days (or --keep-days), keeping every row the report
counts and every opt-out; --dry-run says what it would blank."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bridge.cli.common import EXIT_USAGE, config_option, console, fail, load, main, with_store
from bridge.core.retention import Pruned
from bridge.ops.retention import cutoff, summary
from bridge.store import RetentionStore


@main.group()
def store() -> None:
    """Look after the store."""


@store.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Say what would be blanked; change nothing.")
@click.option(
    "--keep-days", type=click.IntRange(1, 36_500), default=None, metavar="DAYS",
    help="Keep this many days instead of store.keep_days.",
)  # fmt: skip
def prune(config_path: str, dry_run: bool, keep_days: int | None) -> None:
    """Blank alert and text bodies older than store.keep_days (rows and opt-outs stay)."""
    config = load(config_path)
    days = keep_days if keep_days is not None else config.store.keep_days
    if days is None:
        fail(
            f"{config_path}: store.keep_days is not set (everything is kept):"
            " set it, or pass --keep-days DAYS",
            EXIT_USAGE,
        )
    before = cutoff(datetime.now(UTC), days)

    async def run(opened: RetentionStore) -> Pruned:
        return await opened.prune(before, dry_run=dry_run)

    # A dry run opens the store read-only: it works while the bridge runs, as any user.
    pruned = with_store(config, run, writes=not dry_run)
    said = "would blank" if dry_run else "blanked"
    console.print(f"{said} {summary(pruned)} older than {days} days ({before:%Y-%m-%d})")
