"""The ``textback`` command.

click parses arguments; rich draws tables. A user error (bad config, missing
file, unreadable store) prints one clear message and exits non-zero, never a
traceback. Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import stat
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from zoneinfo import ZoneInfo

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bridge.alerts.wording import local_time
from bridge.ami.link import AmiLink, LinkState, LoginRefused
from bridge.app import Bridge
from bridge.config import CheckedConfig, Config, ConfigError, ModemConfig, load_checked
from bridge.core import templates
from bridge.core.calls import describe
from bridge.core.numbers import caller_label, display, to_e164
from bridge.core.safe_text import cell, printable
from bridge.core.texts import OwnerAction
from bridge.core.threads import StoredCall
from bridge.detection.replay import replay as replay_stream
from bridge.detection.tracker import DetectionRules
from bridge.followup.report import build as build_report
from bridge.ops import health as bridge_health
from bridge.ops.doctor import diagnose
from bridge.store import Store, StoreError
from bridge.supervisor import CoreFailure
from bridge.texting import plan as textback
from bridge.texting import policy
from sms_gateway.base import DeliveryReport, IncomingText, SendError
from sms_gateway.gsm_modem import GsmModemTransport

_T = TypeVar("_T")

# Exit codes, as the README and the systemd unit (RestartPreventExitStatus) know them.
EXIT_FAILURE = 1  # a runtime failure; for `run`, an internal error (the log has the traceback)
EXIT_USAGE = 2  # a usage or configuration error: restarting will not help
EXIT_STORE = 3  # `run`: the store cannot be opened, migrated or written
EXIT_AMI_REFUSED = 4  # `run`: Asterisk refused the login from the start: fix the secret

# Piped output is read by scripts and installers' logs: do not squeeze it to 80 columns
# unless COLUMNS says how wide (rich reads it).
_console = Console(
    highlight=False, width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
)
# Messages are single lines however long: installers grep them and paste them into issues.
_errors = Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    _errors.print(Text("textback: ", style="bold red") + cell(message, 2000), soft_wrap=True)
    sys.exit(code)


def _load(path: str) -> Config:
    return _load_checked(path).config


def _require_config(path: str) -> None:
    """A config that was not named on the command line and is not there: say how to name one."""
    source = click.get_current_context().get_parameter_source("config_path")
    if Path(path).exists() or source is ParameterSource.COMMANDLINE:
        return  # a named file that is missing is load_config's "file not found"
    if source is ParameterSource.ENVIRONMENT:
        _fail(f"{CONFIG_ENV}={path}: no such file: fix it, or pass --config FILE", EXIT_USAGE)
    _fail(f"no config at {path}: pass --config FILE or set {CONFIG_ENV}", EXIT_USAGE)


def _load_checked(path: str) -> CheckedConfig:
    _require_config(path)
    try:
        return load_checked(path)
    except ConfigError as exc:
        for problem in exc.problems:
            _errors.print(problem, markup=False, soft_wrap=True)
        _fail(f"{len(exc.problems)} problem(s) in {path}", EXIT_USAGE)


_LAB_HINT = "replace them, or set `lab: true` at the top level for a test lab"


def _example_values(checked: CheckedConfig, path: str, *, refuse: bool) -> None:
    """One line per value left as the example has it: a warning, or (run) a refusal."""
    found = checked.example_values
    if not found or checked.config.lab:
        return
    for line in found:
        _errors.print(line, markup=False, soft_wrap=True)
    summary = f"{len(found)} example value(s) left in {path}: {_LAB_HINT}"
    if refuse:
        _fail(summary, EXIT_USAGE)
    _errors.print(
        Text("textback: warning: ", style="bold yellow")
        + cell(f"`textback run` refuses these: {summary}", 2000),
        soft_wrap=True,
    )


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _run_until_signal(work: Coroutine[Any, Any, None]) -> None:
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


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Record decisions, queue no texts.")
def run(config_path: str, dry_run: bool) -> None:
    """Run the bridge until SIGTERM or Ctrl-C."""
    checked = _load_checked(config_path)
    _example_values(checked, config_path, refuse=True)
    config = checked.config
    _setup_logging(config.log.level)
    if config.lab:
        logging.getLogger("textback").warning(
            "lab: true in %s: the example's fictional values are allowed", config_path
        )

    async def daemon() -> None:
        async with await Store.open(config.store.path) as store:
            await Bridge(config, store, dry_run=dry_run).run()

    try:
        _run_until_signal(daemon())
    except StoreError as exc:
        _fail(str(exc), EXIT_STORE)
    except CoreFailure as exc:
        _core_failure(exc, config)


def _core_failure(exc: CoreFailure, config: Config) -> NoReturn:
    cause = exc.cause
    if isinstance(cause, LoginRefused):
        _fail(
            f"{cause}: check ami.username and its secret against manager.conf's"
            f" [{config.ami.username}] (textback doctor says more)",
            EXIT_AMI_REFUSED,
        )
    if isinstance(cause, StoreError | sqlite3.Error):
        _fail(f"the store failed: {cause}", EXIT_STORE)
    _fail(f"internal error, the bridge stopped: {exc} (the log has the traceback)")


@main.command("check-config")
@click.argument(
    "config_path", metavar="[FILE]", required=False, default=DEFAULT_CONFIG, envvar=CONFIG_ENV
)
def check_config(config_path: str) -> None:
    """Validate a config file and show what it says (secrets masked)."""
    checked = _load_checked(config_path)
    config = checked.config
    table = Table(title=f"{config_path}: OK", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    if config.lab:
        fictional = len(checked.example_values)
        table.add_row("lab", f"yes (lab: true): {fictional} fictional example value(s) allowed")
    b, ami, pbx = config.business, config.ami, config.pbx
    table.add_row("business", cell(f"{b.name} ({b.timezone}, numbers read as {b.region})"))
    table.add_row("AMI", f"{ami.username}@{ami.host}:{ami.port}, secret {ami.secret}")
    table.add_row("inbound contexts", ", ".join(pbx.inbound_contexts) or "-")
    table.add_row("internal contexts", ", ".join(pbx.internal_contexts) or "-")
    for line in config.lines:
        owners = ", ".join(line.owners) or "no owner"
        via = f", texts by {' then '.join(line.transports)}" if line.transports else ""
        table.add_row(
            "line",
            cell(f"{line.name}: {display(line.did, b.region)} ({line.did}) -> {owners}{via}"),
        )
    for owner in config.owners:
        reach = ", ".join(x for x in (owner.email, owner.mobile) if x) or "no contact"
        on_call = ", on call" if owner.on_call else ""
        table.add_row("owner", cell(f"{owner.id}: {owner.name} ({reach}){on_call}"))
    if config.modem:
        table.add_row("modem", cell(f"{config.modem.port} at {config.modem.baudrate} bps"))
    if config.sip:
        sip = config.sip
        table.add_row("sip", cell(f"MessageSend via pjsip:{sip.endpoint}, sip:<number>@{sip.host}"))
    if config.agi:
        agi = config.agi
        allowed = ", ".join(str(n) for n in agi.allow)
        table.add_row("fastagi", cell(f"{agi.host}:{agi.port}, answering {allowed}"))
    if config.smtp:
        smtp = config.smtp
        login = f"{smtp.username}, password {smtp.password}" if smtp.username else "no login"
        table.add_row("smtp", cell(f"{smtp.host}:{smtp.port} ({smtp.security}), {login}"))
    table.add_row("store", cell(str(config.store.path)))
    texting = config.texting
    table.add_row(
        "texting",
        "off"
        if not texting.enabled
        else f"cooldown {texting.cooldown_hours:g} h per caller, at most {texting.max_per_hour}"
        f" an hour, too late after {texting.expire_after_minutes:g} min",
    )
    follow = config.follow_up
    nudge = f"after {follow.nudge.after_hours:g} h" if follow.nudge.enabled else "off"
    table.add_row(
        "follow-up",
        f"remind after {follow.reply_wait_minutes:g} min without a reply"
        f" ({follow.action_wait_minutes:g} min for an unanswered reply), cold"
        f" {follow.cold_after_hours:g} h later, digest at {follow.digest_at:%H:%M},"
        f" nudge {nudge}",
    )
    _console.print(table)
    _preview_texts(config)
    _example_values(checked, config_path, refuse=False)


def _preview_texts(config: Config) -> None:
    """Both text-backs as the first caller on the first line would get them."""
    texting = config.texting
    for label, template in (
        ("business hours", texting.business_hours_template),
        ("after hours", texting.after_hours_template),
    ):
        body = textback.fill(config, template, config.lines[0].did, first_text=True)
        size = templates.sms_size(body)
        parts = "1 SMS" if size.parts == 1 else f"{size.parts} SMS parts"
        _console.print(
            Text(f"{label} text ({len(body)} characters, {size.encoding}, {parts}):", style="bold")
        )
        _console.print(cell(f"  {body}", 2000))


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@limit_option
@click.option("--wide", is_flag=True, help="Every column in full: line, reason, detail.")
def calls(config_path: str, as_json: bool, limit: int, wide: bool) -> None:
    """Recent calls and what was decided for each."""
    config = _load(config_path)
    rows = _with_store(config, lambda store: store.recent_calls(limit))
    zone = ZoneInfo(config.business.timezone)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_json()))
        return
    if wide:
        _console.print(_calls_wide(rows, zone, config.business.region))
    else:
        home = config.business.region
        _console.print(_calls_narrow(rows, zone, home, show_line=len(config.lines) > 1))


# How a reason and a skipped text read in 80 columns.
_SHORT_REASONS = {
    "NOANSWER": "no answer", "BUSY": "busy", "CANCEL": "hung up", "CHANUNAVAIL": "unreachable",
    "CONGESTION": "congestion", "VOICEMAIL": "voicemail", "QUEUE_ABANDON": "left queue",
    "IVR_HANGUP": "IVR only", "LINK_LOST": "link lost", "STALE": "silent",
    "TRACE_ENDED": "trace end",
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
    config = _load(config_path)
    rows = _with_store(config, lambda store: store.threads(limit, open_only=open_only))
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
    _console.print(table)


@main.command()
@config_option
@thread_number
@click.option("--json", "as_json", is_flag=True, help="The thread as one JSON object.")
def thread(config_path: str, number: int, as_json: bool) -> None:
    """One conversation, everything that happened on it."""
    config = _load(config_path)
    found = _with_store(config, lambda store: store.thread(number))
    zone = ZoneInfo(config.business.timezone)
    if found is None:
        _fail(f"there is no thread #{number}", EXIT_USAGE)
    summary, events = found
    if as_json:
        events_json = [{"at": e.at, "what": e.what, "text": e.text} for e in events]
        click.echo(json.dumps(summary.as_json() | {"events": events_json}))
        return
    _console.print(
        Text(f"#{summary.id} ", style="bold")
        + cell(f"{display(summary.caller, config.business.region)} - {summary.status}")
    )
    width = max((len(event.what) for event in events), default=0)
    for event in events:
        when = local_time(event.at, zone, "%a %b %d %H:%M:%S")
        _console.print(Text(f"  {when}  {event.what:<{width}}  ") + cell(event.text, 400))


@main.command()
@config_option
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, metavar="DATE",
    help="Only calls and threads from this day on (YYYY-MM-DD, business time zone).",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The figures as one JSON object.")
def report(config_path: str, since: datetime | None, as_json: bool) -> None:
    """What the text-back recovered: missed calls, texted, replied, handled, value."""
    config = _load(config_path)
    start = since.replace(tzinfo=ZoneInfo(config.business.timezone)) if since else None
    figures = _with_store(config, lambda store: store.report(start))
    business = config.business
    result = build_report(figures, start, business.average_job_value, business.currency)
    if as_json:
        click.echo(json.dumps(result.as_json()))
        return
    title = f"{business.name}: recovered leads" + (f" since {since:%Y-%m-%d}" if since else "")
    table = Table(title=cell(title), show_header=False, box=None)
    for label, value in result.lines():
        table.add_row(label, value)
    _console.print(table)


@main.command()
@config_option
def health(config_path: str) -> None:
    """Exit 0 if the running bridge is alive and connected (a container HEALTHCHECK)."""
    config = _load(config_path)
    ok, message = bridge_health.verdict(
        bridge_health.heartbeat_path(config.store.path), datetime.now(UTC)
    )
    (_console if ok else _errors).print(("ok: " if ok else "unhealthy: ") + message)
    sys.exit(0 if ok else EXIT_FAILURE)


@main.command()
@config_option
@click.option(
    "--modem-wait", type=seconds, default=20.0, show_default=True,
    help="Seconds to give the modem to answer and register.",
)  # fmt: skip
def doctor(config_path: str, modem_wait: float) -> None:
    """Check everything textback depends on, one line each with what to fix."""
    _require_config(config_path)
    checks = asyncio.run(diagnose(config_path, modem_wait=modem_wait))
    for check in checks:
        style = "green" if check.ok else "bold red"
        _console.print(
            Text(check.line()[:4], style=style) + cell(check.line()[4:], 2000), soft_wrap=True
        )
    failed = [c for c in checks if not c.ok]
    if failed:
        _errors.print(f"{len(failed)} problem(s) found")
        sys.exit(EXIT_FAILURE)


@main.command()
@config_option
@thread_number
@click.option("--by", "owner_id", required=True, metavar="OWNER", help="Who handled it (owner id).")
@click.option("--called", is_flag=True, help="They called the caller back (else: done).")
def handled(config_path: str, number: int, owner_id: str, called: bool) -> None:
    """Mark thread NUMBER handled from the office, as `DONE 12` by text does."""
    config = _load(config_path)
    if owner_id not in {owner.id for owner in config.owners}:
        known = ", ".join(owner.id for owner in config.owners) or "none"
        _fail(f"no owner {owner_id!r} in {config_path} (owners: {known})", EXIT_USAGE)

    async def mark(store: Store) -> str | None:
        thread = await store.thread_summary(number)
        if thread is None:
            return None
        await store.owner_action(owner_id, OwnerAction(number, "called" if called else "done"))
        return thread.caller

    caller = _with_store(config, mark, writes=True)
    if caller is None:
        _fail(f"there is no thread #{number}", EXIT_USAGE)
    _console.print(
        cell(f"#{number} {display(caller, config.business.region)} marked handled by {owner_id}")
    )


def _with_store(
    config: Config, query: Callable[[Store], Awaitable[_T]], *, writes: bool = False
) -> _T:
    """Run one query against the store. Commands that only read open it read-only:
    they never create, migrate or write it, and work on a file they may only read."""

    if writes and not config.store.path.exists():
        _fail(f"no store at {config.store.path} yet: has `textback run` started?")

    async def run_query() -> _T:
        async with await Store.open(config.store.path, read_only=not writes) as store:
            return await query(store)

    try:
        return asyncio.run(run_query())
    except StoreError as exc:
        _fail(str(exc))


@main.command()
@config_option
@click.option("--out", "out_path", required=True, metavar="FILE.ami", help="Where to write.")
@click.option("--seconds", type=seconds, default=None, help="Stop after this long.")
def capture(config_path: str, out_path: str, seconds: float | None) -> None:
    """Record the raw AMI stream to a file, for `textback replay`."""
    config = _load(config_path)
    _setup_logging(config.log.level)
    out = Path(out_path)
    try:
        handle = out.open("wb")
    except OSError as exc:
        _fail(f"cannot write {out}: {exc}")
    written = _CaptureFile(handle)
    trouble: list[str] = []  # why the link went down, as it said so

    def on_state(state: LinkState, detail: str) -> None:
        if state in (LinkState.DISCONNECTED, LinkState.BAD_CREDENTIALS):
            trouble.append(detail)

    link = AmiLink(config.ami, lambda message: None, tap=written.write, on_state=on_state)

    async def record() -> None:
        try:
            async with asyncio.timeout(seconds):
                await link.run()
        except TimeoutError:
            return

    where = f"{config.ami.host}:{config.ami.port}"
    _errors.print(f"capturing AMI from {where} into {out}; Ctrl-C stops")
    try:
        _run_until_signal(record())
    finally:
        handle.close()
    _errors.print(f"wrote {written.size} bytes to {out}")
    if link.connections == 0:
        why = trouble[-1] if trouble else "no answer yet"
        _fail(f"never logged in to AMI at {where} ({why}): `textback doctor` says what to fix")


class _CaptureFile:
    """Raw bytes as received. The secret is never in them: Asterisk does not
    echo the Login action, and this writes only what it receives. After a
    reconnect the new banner line is left out so the file stays one stream."""

    def __init__(self, handle: Any):
        self.handle = handle
        self.size = 0
        self._connections = 0

    def write(self, data: bytes) -> None:
        if data.startswith(b"Asterisk Call Manager/"):
            self._connections += 1
            if self._connections > 1:
                data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        self.handle.write(data)
        self.handle.flush()  # what was received is on disk even if we are killed
        self.size += len(data)


@main.command()
@click.argument("recording", metavar="FILE.ami", type=click.Path(dir_okay=False))
@click.option(
    "--config", "config_path", default=None, envvar=CONFIG_ENV, metavar="FILE",
    help=f"textback.yaml, for line names and contexts (default: ${CONFIG_ENV}, else"
    f" {DEFAULT_CONFIG} if it exists, else built-in defaults)",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="One JSON object per call.")
def replay(recording: str, config_path: str | None, as_json: bool) -> None:
    """Decide every call in a recorded AMI stream, offline."""
    if config_path is None and Path(DEFAULT_CONFIG).exists():
        config_path = DEFAULT_CONFIG
    rules = (
        DetectionRules.from_config(_load(config_path)) if config_path else DetectionRules.defaults()
    )
    try:
        with open(recording, "rb") as handle:
            result = replay_stream(iter(lambda: handle.read(65536), b""), rules)
    except OSError as exc:
        _fail(f"cannot read {recording}: {exc.strerror or exc}", EXIT_USAGE)
    if result.not_ami_from == 0:
        _fail(f"{recording}: this is not an AMI recording", EXIT_USAGE)
    for error in result.errors:
        _errors.print(f"skipped a {error.reason} message: {printable(error.detail)}", markup=False)
    if result.skipped > len(result.errors):
        _errors.print(f"... and {result.skipped - len(result.errors)} more skipped")
    for decision in result.decisions:
        if as_json:
            click.echo(json.dumps(decision.as_json()))
        else:
            click.echo(f"{decision.started_at.isoformat()}  {describe(decision, rules.region)}")
    if result.not_ami_from is not None:
        stop = f"no AMI message after byte {result.not_ami_from}: stopped reading"
        _fail(f"{recording}: {stop}", EXIT_USAGE)
    if not as_json:
        _errors.print(f"{len(result.decisions)} call(s) in {result.messages} AMI messages")


@main.command("send-test")
@config_option
@click.argument("number")
@click.option(
    "--wait", type=seconds, default=30.0, show_default=True, help="Seconds to wait for the modem."
)
def send_test(config_path: str, number: str, wait: float) -> None:
    """Send one text through the configured modem, reporting each step."""
    config = _load(config_path)
    to = _test_recipient(config, number)
    if config.modem is None:
        _fail(f"{config_path} has no modem section: nothing to send with", EXIT_USAGE)
    body = f"Test from textback for {config.business.name}: texting from this modem works."
    try:
        asyncio.run(_send_test(config.modem, to, body, wait, config.business.region))
    except SendError as exc:
        _fail(f"not sent: {exc}")


def _test_recipient(config: Config, number: str) -> str:
    """``number`` in E.164 if textback would text it; else exit 2 saying why not."""
    to = to_e164(number, config.business.region)
    if to is None:
        _fail(f"{number!r} is not a phone number", EXIT_USAGE)
    line = config.line_for(to)
    if line is not None:
        _fail(
            f"{display(to, config.business.region)} is the business's own line ({line.name}):"
            " use a mobile",
            EXIT_USAGE,
        )
    problem = policy.number_problem(to, textback.text_policy(config))
    if problem is not None:
        _fail(f"{number!r} is not a number textback texts ({problem.value})", EXIT_USAGE)
    return to


async def _send_test(settings: ModemConfig, to: str, body: str, wait: float, home: str) -> None:
    transport = GsmModemTransport(settings, reconnect_min=1, reconnect_max=2)
    reports: asyncio.Queue[DeliveryReport] = asyncio.Queue()

    class Sink:
        async def incoming_text(self, text: IncomingText) -> None:
            _console.print(
                cell(f"  (a text came in from {text.sender}; `textback run` handles those)")
            )

        async def delivery_report(self, report: DeliveryReport) -> None:
            reports.put_nowait(report)

    _console.print(cell(f"1. opening the modem on {settings.port} at {settings.baudrate} bps"))
    runner = asyncio.create_task(transport.run(Sink()))
    try:
        last = ""
        async with asyncio.timeout(wait):
            while not (status := transport.status()).connected:
                if status.detail != last and status.detail != "not started":
                    last = status.detail
                    _console.print(cell(f"   waiting: {status.detail}"))
                await asyncio.sleep(0.1)
        status = transport.status()
        _console.print(cell(f"2. modem ready: {status.detail}"))
        if not status.registered:
            raise SendError("the SIM is not registered on a network", retryable=True)
        _console.print(cell(f"3. sending to {display(to, home)}: {body}"))
        result = await transport.send(to, body)
        _console.print(cell(f"4. accepted by the network (reference {result.references[0]})"))
        if settings.delivery_reports:
            try:
                async with asyncio.timeout(60):
                    report = await reports.get()
                verdict = (
                    "delivered" if report.delivered else f"NOT delivered (status {report.status})"
                )
                _console.print(cell(f"5. delivery report: {verdict}"))
            except TimeoutError:
                _console.print(
                    cell("5. no delivery report within 60 s (the text may still arrive)")
                )
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
    from bridge.sim.modem import ModemEngine, SimulatedModem

    async def show_sent(engine: ModemEngine) -> None:
        shown = 0
        while True:  # the simulator has no callback: look every 0.2 s
            for sent in engine.sent[shown:]:
                _console.print(cell(f"-> {sent.number}: {sent.text}"))
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
                _console.print(cell(f"<- {sender}: {text}"))

    async def serve() -> None:
        engine = ModemEngine(pin=pin)
        sim = SimulatedModem(Path(link), engine)
        try:
            await sim.start()
        except OSError as exc:
            raise _LinkRefused(str(exc)) from None
        try:
            _errors.print(f"simulated modem on {sim.path}; Ctrl-C stops")
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(show_sent(engine))
                tasks.create_task(take_typed(sim))
        finally:
            await sim.stop()

    try:
        _run_until_signal(serve())
    except _LinkRefused as exc:
        _fail(f"--link {link}: {exc}", EXIT_USAGE)


def _typing_possible() -> bool:
    """stdin is something the event loop can watch: a terminal, a pipe or a socket
    (epoll refuses /dev/null and plain files)."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # no stdin at all
        return False
    return sys.stdin.isatty() or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@main.command()
@click.option("--gap", type=float, default=0.02, show_default=True, help="Seconds between events.")
def demo(gap: float) -> None:
    """Watch the bridge decide calls from a simulated PBX (no Asterisk needed)."""
    from bridge.sim.demo import run_demo

    asyncio.run(run_demo(_console, gap=gap))


if __name__ == "__main__":  # pragma: no cover
    main()
