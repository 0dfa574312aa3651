"""What the store holds, for the office: calls, threads, one thread, and
marking a thread handled (the report is in bridge.cli.ledger)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import click
from rich.table import Table
from rich.text import Text

from bridge.alerts.wording import local_time
from bridge.cli.common import (
    EXIT_USAGE,
    config_option,
    console,
    fail,
    limit_option,
    load,
    main,
    thread_number,
    with_store,
)
from bridge.cli.render import cell
from bridge.core.numbers import caller_label, display
from bridge.core.texts import OwnerAction
from bridge.core.threads import StoredCall
from bridge.store import HistoryStore


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@limit_option
@click.option("--wide", is_flag=True, help="Every column in full: line, reason, detail.")
def calls(config_path: str, as_json: bool, limit: int, wide: bool) -> None:
    """Recent calls and what was decided for each."""
    config = load(config_path)
    rows = with_store(config, lambda store: store.recent_calls(limit))
    zone = ZoneInfo(config.business.timezone)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_json()))
        return
    if wide:
        console.print(_calls_wide(rows, zone, config.business.region))
    else:
        home = config.business.region
        console.print(_calls_narrow(rows, zone, home, show_line=len(config.lines) > 1))


# How a reason and a skipped text read in 80 columns.
_SHORT_REASONS = {
    "NOANSWER": "no answer", "BUSY": "busy", "CANCEL": "hung up", "CHANUNAVAIL": "unreachable",
    "CONGESTION": "congestion", "VOICEMAIL": "voicemail", "QUEUE_ABANDON": "left queue",
    "IVR_HANGUP": "IVR only", "LINK_LOST": "link lost", "STALE": "silent",
    "TRACE_ENDED": "trace end", "ANSWER_UNSEEN": "maybe answered",
}  # fmt: skip
_SHORT_SKIPS = {
    "not-missed": "", "not-a-textable-number": "not textable",
    "short-code-or-emergency": "short code", "premium-or-shared-cost": "premium",
    "own-line-or-owner": "own number", "not-allowlisted": "not allowed",
    "left-a-voicemail": "voicemail", "texted-recently": "cooldown", "hourly-cap": "hourly cap",
    "texting-disabled": "texting off", "no-sms-transport": "no transport",
}  # fmt: skip


def _calls_narrow(rows: list[StoredCall], zone: ZoneInfo, home: str, *, show_line: bool) -> Table:
    """Fits 80 columns: when, who, what happened, the text. Only a long name is cut."""
    table = Table(
        title=f"Last {len(rows)} calls (--wide for everything)",
        box=None, pad_edge=False, header_style="bold underline",
    )  # fmt: skip
    table.add_column("when", no_wrap=True)
    # With a line column the caller's name gives way: the number always shows.
    caller_width = 16 if show_line else 26
    table.add_column("caller", no_wrap=True, overflow="ellipsis", max_width=caller_width)
    if show_line:
        table.add_column("line", no_wrap=True, overflow="ellipsis", max_width=10)
    table.add_column("call", no_wrap=True)
    table.add_column("text/why not", no_wrap=True)
    for row in rows:
        caller = _caller(row, home)
        reason = _SHORT_REASONS.get(row.reason or "", row.reason or "")
        skip = row.text_skip or ""
        line = [cell(row.line_name or display(row.line, home)) if row.line else "-"]
        table.add_row(
            local_time(row.ended_at, zone, "%b %d %H:%M"),
            cell(f"{caller} {row.caller_name}".strip()),
            *(line if show_line else []),
            row.outcome + (f", {reason}" if reason else ""),
            row.text_state or _SHORT_SKIPS.get(skip, skip.replace("-", " ")),
        )
    return table


def _caller(row: StoredCall, home: str) -> str:
    desk = row.outcome in ("internal", "outbound")
    return caller_label(row.caller, row.caller_raw, home, withheld=row.withheld, desk=desk)


def _calls_wide(rows: list[StoredCall], zone: ZoneInfo, home: str) -> Table:
    table = Table(title=f"Last {len(rows)} calls")
    for column in ("ended (local)", "caller", "line", "outcome", "reason", "text"):
        table.add_column(column, no_wrap=column != "caller")  # a long name wraps, not cut
    table.add_column("detail")
    for row in rows:
        caller = _caller(row, home)
        table.add_row(
            local_time(row.ended_at, zone, "%a %b %d %H:%M:%S"),
            cell(f"{caller} {row.caller_name}".strip()),
            cell(row.line_name or display(row.line, home)) if row.line else "-",
            row.outcome + (" (dry run)" if row.dry_run else ""),
            row.reason or "",
            row.text_state or (f"not sent: {row.text_skip}" if row.text_skip else ""),
            cell(row.detail),
        )
    return table


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--open", "open_only", is_flag=True, help="Only threads still open.")
@limit_option
def threads(config_path: str, as_json: bool, open_only: bool, limit: int) -> None:
    """Conversations with callers: open ones first, newest activity first."""
    config = load(config_path)
    rows = with_store(config, lambda store: store.threads(limit, open_only=open_only))
    zone = ZoneInfo(config.business.timezone)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_json()))
        return
    table = Table(title=f"{len(rows)} thread(s)")
    for column in ("#", "caller", "status", "calls", "last activity (local)", "last reply"):
        table.add_column(column, no_wrap=column != "last reply")
    for row in rows:
        table.add_row(
            f"#{row.id}",
            cell(display(row.caller, config.business.region)),
            row.status + (" URGENT" if row.urgent else ""),
            str(row.calls),
            local_time(row.last_activity_at, zone, "%a %b %d %H:%M"),
            cell(row.last_reply or "", 80),
        )
    console.print(table)


@main.command()
@config_option
@thread_number
@click.option("--json", "as_json", is_flag=True, help="The thread as one JSON object.")
def thread(config_path: str, number: int, as_json: bool) -> None:
    """One conversation, everything that happened on it."""
    config = load(config_path)
    found = with_store(config, lambda store: store.thread(number))
    zone = ZoneInfo(config.business.timezone)
    if found is None:
        fail(f"there is no thread #{number}", EXIT_USAGE)
    summary, events = found
    if as_json:
        events_json = [{"at": e.at, "what": e.what, "text": e.text} for e in events]
        click.echo(json.dumps(summary.as_json() | {"events": events_json}))
        return
    again = ""
    if summary.calls > 1:  # repeat missed calls, all on this one thread
        again = f", called {summary.calls} times since {local_time(summary.created_at, zone)}"
    console.print(
        Text(f"#{summary.id} ", style="bold")
        + cell(f"{display(summary.caller, config.business.region)} - {summary.status}{again}")
    )
    width = max((len(event.what) for event in events), default=0)
    for event in events:
        when = local_time(event.at, zone, "%a %b %d %H:%M:%S")
        console.print(Text(f"  {when}  {event.what:<{width}}  ") + cell(event.text, 400))


@main.command()
@config_option
@thread_number
@click.option("--by", "owner_id", required=True, metavar="OWNER", help="Who handled it (owner id).")
@click.option("--called", is_flag=True, help="They called the caller back (else: done).")
def handled(config_path: str, number: int, owner_id: str, called: bool) -> None:
    """Mark thread NUMBER handled from the office, as `DONE 12` by text does."""
    config = load(config_path)
    if owner_id not in {owner.id for owner in config.owners}:
        known = ", ".join(owner.id for owner in config.owners) or "none"
        fail(f"no owner {owner_id!r} in {config_path} (owners: {known})", EXIT_USAGE)

    async def mark(store: HistoryStore) -> str | None:
        thread = await store.thread_summary(number)
        if thread is None:
            return None
        await store.owner_action(owner_id, OwnerAction(number, "called" if called else "done"))
        return thread.caller

    caller = with_store(config, mark, writes=True)
    if caller is None:
        fail(f"there is no thread #{number}", EXIT_USAGE)
    console.print(
        cell(f"#{number} {display(caller, config.business.region)} marked handled by {owner_id}")
    )
