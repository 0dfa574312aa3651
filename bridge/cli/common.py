"""What every command shares: the consoles, exit codes, loading the config,
running until a signal, opening the store."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from click.core import ParameterSource
from rich.console import Console
from rich.text import Text

from bridge.cli.render import cell
from bridge.config import CheckedConfig, Config, ConfigError, load_checked
from bridge.store import Store, StoreError, open_configured

T = TypeVar("T")

# Exit codes, as the README and the systemd unit (RestartPreventExitStatus) know them.
EXIT_FAILURE = 1  # a runtime failure; for `run`, an internal error (the log has the traceback)
EXIT_USAGE = 2  # a usage or configuration error: restarting will not help
EXIT_STORE = 3  # `run`: the store cannot be opened, migrated or written
EXIT_AMI_REFUSED = 4  # `run`: Asterisk refused the login from the start: fix the secret

# Piped output is read by scripts and installers' logs: do not squeeze it to 80 columns
# unless COLUMNS says how wide (rich reads it).
console = Console(
    highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
)
# Messages are single lines however long: installers grep them and paste them into issues.
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    errors.print(Text("textback: ", style="bold red") + cell(message, 2000), soft_wrap=True)
    sys.exit(code)


def load(path: str) -> Config:
    return load_checked_config(path).config


def require_config(path: str) -> None:
    """A config that was not named on the command line and is not there: say how to name one."""
    source = click.get_current_context().get_parameter_source("config_path")
    if Path(path).exists() or source is ParameterSource.COMMANDLINE:
        return  # a named file that is missing is load_config's "file not found"
    if source is ParameterSource.ENVIRONMENT:
        fail(f"{CONFIG_ENV}={path}: no such file: fix it, or pass --config FILE", EXIT_USAGE)
    fail(f"no config at {path}: pass --config FILE or set {CONFIG_ENV}", EXIT_USAGE)


def load_checked_config(path: str) -> CheckedConfig:
    require_config(path)
    try:
        return load_checked(path)
    except ConfigError as exc:
        for problem in exc.problems:
            errors.print(problem, markup=False, soft_wrap=True)
        fail(f"{len(exc.problems)} problem(s) in {path}", EXIT_USAGE)


LAB_HINT = "replace them, or set `lab: true` at the top level for a test lab"


def check_example_values(checked: CheckedConfig, path: str, *, refuse: bool) -> None:
    """One line per value left as the example has it: a warning, or (run) a refusal."""
    found = checked.example_values
    if not found or checked.config.lab:
        return
    for line in found:
        errors.print(line, markup=False, soft_wrap=True)
    summary = f"{len(found)} example value(s) left in {path}: {LAB_HINT}"
    if refuse:
        fail(summary, EXIT_USAGE)
    errors.print(
        Text("textback: warning: ", style="bold yellow")
        + cell(f"`textback run` refuses these: {summary}", 2000),
        soft_wrap=True,
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_until_signal(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until it ends or SIGINT/SIGTERM arrives; then cancel and await it."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with asyncio.TaskGroup() as tasks:
            job = tasks.create_task(work)
            waiter = tasks.create_task(stop.wait())
            await asyncio.wait({job, waiter}, return_when=asyncio.FIRST_COMPLETED)
            job.cancel()
            waiter.cancel()

    try:
        asyncio.run(main())
    except BaseExceptionGroup as group:
        raise _first_error(group) from None


def _first_error(error: BaseException) -> BaseException:
    """The exception that started it, out of (nested) task-group wrappers."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


DEFAULT_CONFIG = "/etc/textback/textback.yaml"
CONFIG_ENV = "TEXTBACK_CONFIG"
config_option = click.option(
    "--config",
    "config_path",
    default=DEFAULT_CONFIG,
    envvar=CONFIG_ENV,
    show_default=True,
    metavar="FILE",
    help=f"textback.yaml (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG})",
)
# Row ids are SQLite integers; beyond that a number is a typo, not a thread.
thread_number = click.argument("number", type=click.IntRange(1, 2**63 - 1))
limit_option = click.option(
    "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
    help="How many.",
)  # fmt: skip
seconds = click.FloatRange(0, 7 * 86_400, min_open=True)  # finite: 'inf' is refused


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="textback")
def main() -> None:
    """Missed-call text-back for an Asterisk PBX."""


def with_store(
    config: Config, query: Callable[[Store], Awaitable[T]], *, writes: bool = False
) -> T:
    """Run one query against the store. Commands that only read open it read-only:
    they never create, migrate or write it, and work on a file they may only read."""

    sqlite = config.store.postgres_url is None
    if writes and sqlite and not config.store.sqlite_path.exists():
        fail(f"no store at {config.store.sqlite_path} yet: has `textback run` started?")

    async def run_query() -> T:
        async with await open_configured(
            config.store, office=config.office.id, read_only=not writes
        ) as store:
            return await query(store)

    try:
        return asyncio.run(run_query())
    except StoreError as exc:
        fail(str(exc))
