"""`textback store copy SRC DST`: an office's history from SQLite into
PostgreSQL, or back (bridge.store.copy does it; this says how it went): a
progress bar per table on a terminal, a plain line per table otherwise, and
the counts at the end."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
from rich.table import Table

from bridge.cli.common import EXIT_FAILURE, EXIT_USAGE, config_option, console, fail, load
from bridge.cli.retention import store
from bridge.config import Config
from bridge.config.fields import OFFICE_ID
from bridge.store import DEFAULT_OFFICE, StoreError, postgres_options
from bridge.store.copy import Copied, PostgresOptions, copy_store, is_postgres_url, sqlite_file

PASSWORD_ENV = "PGPASSWORD"  # noqa: S105 -- the variable's name, not a password; libpq's own name: what installers' scripts already set
EXIT_INTERRUPTED = 130


def _checked_office(value: str | None) -> str | None:
    if value is not None and not OFFICE_ID.fullmatch(value):
        raise click.BadParameter("lowercase letters, digits and dashes, e.g. acme-north")
    return value


def checked_target(target: str, role: str) -> str:
    """A store URL or a SQLite file path, or a usage error saying what is wrong."""
    parts = urlsplit(target)
    if is_postgres_url(target):
        if parts.password is not None:
            fail(f"{role}: the password goes in ${PASSWORD_ENV}, never in the URL", EXIT_USAGE)
        if not parts.hostname or not parts.path.strip("/"):
            fail(f"{role}: {target}: name a server and a database: {_URLS}", EXIT_USAGE)
        return target
    if parts.scheme == "sqlite":
        if not target.startswith("sqlite:///") or target.rstrip("/") == "sqlite:":
            fail(f"{role}: {target}: a SQLite URL names an absolute path: {_URLS}", EXIT_USAGE)
        return target
    if parts.scheme and len(parts.scheme) > 1:  # (a Windows drive letter is no scheme)
        fail(f"{role}: {target}: not a store textback knows: {_URLS}", EXIT_USAGE)
    return target


_URLS = "sqlite:///var/lib/textback/textback.db or postgresql://user@host/database"


class _Lines:
    """Progress for a pipe or a log: one line per table, when it is done."""

    def table(self, name: str, total: int) -> None:
        pass

    def advance(self, rows: int) -> None:
        pass

    def done(self, copied: Copied) -> None:
        console.print(f"{copied.table}: {_said(copied)}")


class _Bars:
    """Progress on a terminal: a bar per table."""

    def __init__(self, bars: Progress):
        self._bars = bars
        self._task: TaskID | None = None

    def table(self, name: str, total: int) -> None:
        self._task = self._bars.add_task(name, total=total)

    def advance(self, rows: int) -> None:
        if self._task is not None:
            self._bars.advance(self._task, rows)

    def done(self, copied: Copied) -> None:
        pass


def _said(copied: Copied) -> str:
    return f"{copied.new:,} new, {copied.already:,} already there"


def _counts(copied: list[Copied]) -> Table:
    table = Table("table")
    table.add_column("new", justify="right")
    table.add_column("already there", justify="right")
    for each in copied:
        table.add_row(each.table, f"{each.new:,}", f"{each.already:,}")
    table.add_row("all", f"{sum(c.new for c in copied):,}", f"{sum(c.already for c in copied):,}")
    return table


def _same(source: str, target: str) -> bool:
    if is_postgres_url(source) or is_postgres_url(target):
        return source == target
    return sqlite_file(source).resolve() == sqlite_file(target).resolve()


CONFIGURED = "config"  # SRC or DST: the store textback.yaml names


def _side(given: str, role: str, config: Config | None, office: str) -> tuple[str, PostgresOptions]:
    """Where one side is and how to reach it: a URL with $PGPASSWORD, or the
    configured store with its own password and TLS settings; as ``office``."""
    if given != CONFIGURED:
        password = os.environ.get(PASSWORD_ENV) or None
        return checked_target(given, role), PostgresOptions(password, office=office)
    assert config is not None  # loaded when a side names it
    section = config.store
    where = section.postgres_url or f"sqlite:///{section.sqlite_path}"
    return where, postgres_options(section, office)


@store.command("copy")
@config_option
@click.option(
    "--office",
    metavar="ID",
    type=click.STRING,
    callback=lambda _ctx, _param, value: _checked_office(value),
    help="Whose rows a shared PostgreSQL store gives or takes (default: office.id of"
    f" textback.yaml, else {DEFAULT_OFFICE}); a SQLite file is one office's.",
)
@click.argument("source", metavar="SRC")
@click.argument("target", metavar="DST")
def copy(config_path: str, office: str | None, source: str, target: str) -> None:
    """Copy an office's history from the store SRC into the store DST.

    SRC and DST: sqlite:///path/textback.db (or a path) or
    postgresql://user@host:port/database (TLS as libpq's URL says it:
    ?sslmode=verify-full&sslrootcert=FILE), a PostgreSQL password from
    $PGPASSWORD, never in the URL; or the word `config`: the store
    textback.yaml names, with its password and TLS settings. DST is created if
    need be and migrated to this textback's schema; SRC is only read (a
    bridge may keep running on it), and must be at this textback's version.

    A PostgreSQL store several offices share gives and takes one office's
    rows: --office's. Stop the bridge that uses DST first: the copy is one transaction, and
    rows a bridge writes meanwhile would clash with the office's. Rows keep
    their ids (thread numbers); running it again copies nothing new. A DST
    holding other rows under the same ids (another office) is refused.
    """
    # textback.yaml, read once: for a side it names, and for the office (unless --office).
    needed = CONFIGURED in (source, target) or (office is None and Path(config_path).exists())
    config = load(config_path) if needed else None
    office = office or (config.office.id if config else DEFAULT_OFFICE)
    (source, source_options) = _side(source, "SRC", config, office)
    (target, target_options) = _side(target, "DST", config, office)
    if _same(source, target):
        fail("SRC and DST are the same store", EXIT_USAGE)

    def run(progress: _Lines | _Bars) -> list[Copied]:
        work = copy_store(source, target, options=source_options,
                          target_options=target_options, progress=progress)  # fmt: skip
        return asyncio.run(work)

    try:
        if console.is_terminal:
            columns = (TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=console, transient=False) as bars:
                copied = run(_Bars(bars))
        else:
            copied = run(_Lines())
    except StoreError as exc:
        fail(str(exc), EXIT_FAILURE)
    except KeyboardInterrupt:
        fail("interrupted: nothing was copied", EXIT_INTERRUPTED)
    console.print(_counts(copied))
