"""`textback capture` and `textback replay`: AMI recordings made and decided
offline."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click

from bridge.ami.link import AmiLink, LinkState
from bridge.cli.common import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    EXIT_USAGE,
    config_option,
    errors,
    fail,
    load,
    main,
    run_until_signal,
    seconds,
    setup_logging,
)
from bridge.core.calls import describe
from bridge.core.safe_text import printable
from bridge.detection.replay import calls_back
from bridge.detection.replay import replay as replay_stream
from bridge.detection.rules import DetectionRules


@main.command()
@config_option
@click.option("--out", "out_path", required=True, metavar="FILE.ami", help="Where to write.")
@click.option("--seconds", type=seconds, default=None, help="Stop after this long.")
def capture(config_path: str, out_path: str, seconds: float | None) -> None:
    """Record the raw AMI stream to a file, for `textback replay`."""
    config = load(config_path)
    setup_logging(config.log.level)
    out = Path(out_path)
    try:
        handle = out.open("wb")
    except OSError as exc:
        fail(f"cannot write {out}: {exc}")
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
    errors.print(f"capturing AMI from {where} into {out}; Ctrl-C stops")
    try:
        run_until_signal(record())
    finally:
        handle.close()
    errors.print(f"wrote {written.size} bytes to {out}")
    if link.connections == 0:
        why = trouble[-1] if trouble else "no answer yet"
        fail(f"never logged in to AMI at {where} ({why}): `textback doctor` says what to fix")


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
        DetectionRules.from_config(load(config_path)) if config_path else DetectionRules.defaults()
    )
    try:
        with open(recording, "rb") as handle:
            result = replay_stream(iter(lambda: handle.read(65536), b""), rules)
    except OSError as exc:
        fail(f"cannot read {recording}: {exc.strerror or exc}", EXIT_USAGE)
    if result.not_ami_from == 0:
        fail(f"{recording}: this is not an AMI recording", EXIT_USAGE)
    for error in result.errors:
        errors.print(f"skipped a {error.reason} message: {printable(error.detail)}", markup=False)
    if result.skipped > len(result.errors):
        errors.print(f"... and {result.skipped - len(result.errors)} more skipped")
    answers = calls_back(result.decisions)  # an outbound call -> the missed call it answers
    for decision in result.decisions:
        if as_json:
            click.echo(
                json.dumps(decision.as_json() | {"calls_back": answers.get(decision.linkedid)})
            )
        else:
            click.echo(f"{decision.started_at.isoformat()}  {describe(decision, rules.region)}")
    if result.not_ami_from is not None:
        stop = f"no AMI message after byte {result.not_ami_from}: stopped reading"
        fail(f"{recording}: {stop}", EXIT_USAGE)
    if not as_json:
        errors.print(f"{len(result.decisions)} call(s) in {result.messages} AMI messages")
