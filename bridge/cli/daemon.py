"""`textback run`: the bridge as a daemon."""

from __future__ import annotations

import logging
from typing import NoReturn

import click

from bridge.ami.link import LoginRefused
from bridge.app import Bridge
from bridge.cli.common import (
    EXIT_AMI_REFUSED,
    EXIT_STORE,
    check_example_values,
    config_option,
    fail,
    load_checked_config,
    main,
    run_until_signal,
    setup_logging,
)
from bridge.config import Config
from bridge.store import StoreError, open_configured
from bridge.supervisor import CoreFailure


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Record decisions, queue no texts.")
def run(config_path: str, dry_run: bool) -> None:
    """Run the bridge until SIGTERM or Ctrl-C."""
    checked = load_checked_config(config_path)
    check_example_values(checked, config_path, refuse=True)
    config = checked.config
    setup_logging(config.log.level)
    if config.lab:
        logging.getLogger("textback").warning(
            "lab: true in %s: the example's fictional values are allowed", config_path
        )

    async def daemon() -> None:
        async with await open_configured(config.store, office=config.office.id) as store:
            await Bridge(config, store, dry_run=dry_run).run()

    try:
        run_until_signal(daemon())
    except StoreError as exc:
        fail(str(exc), EXIT_STORE)
    except CoreFailure as exc:
        _core_failure(exc, config)


def _core_failure(exc: CoreFailure, config: Config) -> NoReturn:
    cause = exc.cause
    if isinstance(cause, LoginRefused):
        fail(
            f"{cause}: check ami.username and its secret against manager.conf's"
            f" [{config.ami.username}] (textback doctor says more)",
            EXIT_AMI_REFUSED,
        )
    if isinstance(cause, StoreError):
        fail(f"the store failed: {cause}", EXIT_STORE)
    fail(f"internal error, the bridge stopped: {exc} (the log has the traceback)")
