"""The recovery ledger from the office: `textback report` (a table, --json or
--csv), and `textback booked|won|lost N`, as an owner's BOOKED / WON / LOST
text does (bridge.core.ledger has the rules)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from rich.table import Table

from bridge.cli.common import (
    EXIT_USAGE,
    config_option,
    console,
    fail,
    load,
    main,
    thread_number,
    with_store,
)
from bridge.cli.render import cell
from bridge.config import Config
from bridge.core.ledger import (
    BOOKED,
    LOST,
    WON,
    AmountError,
    LeadStep,
    Transition,
    confirmation,
    lost_reason,
    parse_amount,
)
from bridge.core.numbers import display
from bridge.core.safe_text import spreadsheet
from bridge.followup.report import STAGES, Report
from bridge.followup.report import build as build_report
from bridge.store import HistoryStore

OFFICE = "office"  # who recorded it, when --by names nobody

by_option = click.option(
    "--by", "owner_id", default=None, metavar="OWNER",
    help=f"Who recorded it (an owner id; default: {OFFICE}).",
)  # fmt: skip
value_option = click.option(
    "--value", default=None, metavar="V", help="What the job is worth: 450, $450, 1,200.50."
)


@main.command()
@config_option
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
    help="Only calls and threads from this day on (YYYY-MM-DD, business time zone).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object.")
@click.option("--csv", "as_csv", is_flag=True, help="The ledger as CSV, for a spreadsheet.")
def report(config_path: str, since: datetime | None, as_json: bool, as_csv: bool) -> None:
    """What the text-back recovered: each lead's stages, time to a call-back, value."""
    if as_json and as_csv:
        fail("--json and --csv: choose one", EXIT_USAGE)
    config = load(config_path)
    zone = ZoneInfo(config.business.timezone)
    start = since.replace(tzinfo=zone) if since else None
    figures = with_store(config, lambda store: store.report(start))
    business = config.business
    names = {line.did: line.name for line in config.lines}
    result = build_report(
        figures, start, business.average_job_value, business.currency, zone=zone, line_names=names
    )
    if as_json:
        click.echo(json.dumps(result.as_json()))
    elif as_csv:
        _write_csv(result)
    else:
        title = f"{business.name}: recovered leads" + (f" since {since:%Y-%m-%d}" if since else "")
        _print_report(result, title)


def _write_csv(result: Report) -> None:
    # Numbers stay numbers; every text is quoted, and one a spreadsheet would
    # read as a formula (a line named "=HYPERLINK(...)") is made plain text.
    writer = csv.writer(sys.stdout, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    for row in result.csv_rows():
        writer.writerow([spreadsheet(c) if isinstance(c, str) else c for c in row])


def _print_report(result: Report, title: str) -> None:
    headline = Table(title=cell(title), show_header=False, box=None)
    for label, figure in result.lines():
        headline.add_row(label, figure)
    console.print(headline)
    leads = result.ledger.leads
    stages = Table(title=f"The recovery ledger: {leads} lead(s)", box=None, min_width=44)
    for column in ("stage", "leads", "of all"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for row in result.stage_rows():
        stages.add_row(*row)
    console.print(stages)
    if not result.breakdown():
        return
    parts = Table(title="By line and by week", box=None)
    for column in ("", "leads", "texted", "replied", "called back", "booked", "won", "lost"):
        parts.add_column(column, justify="right" if column else "left", no_wrap=True)
    parts.add_column("to call-back", justify="right", no_wrap=True)
    parts.add_column("recovered", justify="right", no_wrap=True)
    for scope, name, ledger in result.breakdown():
        counts = [str(ledger.stages[stage]) for stage in STAGES]
        named = cell(name if scope == "line" else f"week of {name}", 40)
        wait = ledger.median_call_back
        to_call_back = f"{int(wait.total_seconds() // 60)} min" if wait is not None else "-"
        parts.add_row(named, *counts, to_call_back, result.money(ledger.value))
    console.print(parts)


@main.command()
@config_option
@thread_number
@value_option
@by_option
def booked(config_path: str, number: int, value: str | None, owner_id: str | None) -> None:
    """Lead NUMBER is booked (its thread handled), as `BOOKED 12 450` by text does."""
    _record(config_path, LeadStep(number, BOOKED, _cents(value)), owner_id)


@main.command()
@config_option
@thread_number
@value_option
@by_option
def won(config_path: str, number: int, value: str | None, owner_id: str | None) -> None:
    """Lead NUMBER is won, as `WON 12` by text does (a value changes the amount)."""
    _record(config_path, LeadStep(number, WON, _cents(value)), owner_id)


@main.command()
@config_option
@thread_number
@click.option("--reason", default="", metavar="WORDS", help="Why: price, no show, ...")
@by_option
def lost(config_path: str, number: int, reason: str, owner_id: str | None) -> None:
    """Lead NUMBER is lost, as `LOST 12 price` by text does."""
    _record(config_path, LeadStep(number, LOST, reason=lost_reason(reason)), owner_id)


def _cents(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_amount(value)
    except AmountError as exc:
        fail(f"--value: {exc}", EXIT_USAGE)


def _record(config_path: str, step: LeadStep, owner_id: str | None) -> None:
    config = load(config_path)
    recorder = _recorder(config, config_path, owner_id)

    async def take(store: HistoryStore) -> tuple[Transition | None, str | None]:
        thread = await store.thread_summary(step.thread_id)
        if thread is None:
            return None, None
        return await store.lead_step(recorder, step), thread.caller

    transition, caller = with_store(config, take, writes=True)
    if transition is None or caller is None:
        fail(f"there is no thread #{step.thread_id}", EXIT_USAGE)
    who = display(caller, config.business.region)
    words = confirmation(transition, step.thread_id, who, config.business.currency)
    if transition.outcome == "refused":
        fail(words, EXIT_USAGE)
    console.print(cell(words, 400))


def _recorder(config: Config, config_path: str, owner_id: str | None) -> str:
    if owner_id is None:
        return OFFICE
    if owner_id not in {owner.id for owner in config.owners}:
        known = ", ".join(owner.id for owner in config.owners) or "none"
        fail(f"no owner {owner_id!r} in {config_path} (owners: {known})", EXIT_USAGE)
    return owner_id
