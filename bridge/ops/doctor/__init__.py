"""`textback doctor`: everything an installer needs to know is wrong, one line
each, with what to fix. Every check talks to the real thing - the store file,
Asterisk's AMI, the modem, the mail server - and changes nothing: no text is
sent, no mail is sent, no schema is migrated.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from bridge.config import CheckedConfig, ConfigError, load_checked
from bridge.ops import health
from bridge.ops.doctor.ami import check_ami
from bridge.ops.doctor.local import check_clock, check_running_bridge
from bridge.ops.doctor.modem import check_modem
from bridge.ops.doctor.report import Check
from bridge.ops.doctor.services import check_call_records, check_smtp
from bridge.ops.doctor.store import check_store

__all__ = [
    "Check", "check_ami", "check_call_records", "check_clock", "check_modem",
    "check_running_bridge", "check_smtp", "check_store", "diagnose",
]  # fmt: skip


async def diagnose(
    config_path: str,
    *,
    modem_wait: float = 20.0,
    wait_for_call: float = 0.0,
    clock: Callable[[], datetime] | None = None,
) -> list[Check]:
    """Every check, in order. ``wait_for_call``: watch AMI that long for a test
    call the installer places, to prove which event classes the user reads."""
    now = clock or (lambda: datetime.now(UTC))
    try:
        checked = load_checked(config_path)
    except ConfigError as exc:
        first = exc.problems[0] if exc.problems else "invalid"
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return [Check("config", False, f"{first}{more}", f"textback check-config {config_path}")]
    config = checked.config
    with _quiet():
        checks = [_config_check(config_path, checked), await check_store(config.store)]
        checks += await check_ami(config, now, wait_for_call=wait_for_call)
        if config.modem is not None:
            beat = health.heartbeat_file(config.store)
            checks.append(await check_modem(config.modem, modem_wait, beat, now()))
        if config.smtp is not None:
            checks.append(await check_smtp(config.smtp))
        checks.append(await check_call_records(config))
        checks.append(check_clock(config, now()))
        checks.append(check_running_bridge(health.heartbeat_file(config.store), now()))
    return checks


def _config_check(path: str, checked: CheckedConfig) -> Check:
    """Valid - and no longer the example, which `textback run` refuses."""
    left = checked.example_values
    if not left or checked.config.lab:
        lab = f" (lab: {len(left)} example value(s) allowed)" if left else ""
        return Check("config", True, f"{path} is valid{lab}")
    more = f" (and {len(left) - 1} more)" if len(left) > 1 else ""
    return Check(
        "config", False, f"the example's value is still in place: {left[0]}{more}",
        f"replace them (textback check-config {path} lists them), or set `lab: true` in a lab",
    )  # fmt: skip


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The checks' own connections log as the bridge's do ("AMI disconnected..."):
    here every finding is a line of the report, so their log lines are held back."""
    loggers = [logging.getLogger(name) for name in ("bridge", "sms_gateway", "agi")]
    saved = [(logger.propagate, logger.handlers[:]) for logger in loggers]
    for logger in loggers:
        logger.propagate = False
        logger.handlers = [logging.NullHandler()]
    try:
        yield
    finally:
        for logger, (propagate, handlers) in zip(loggers, saved, strict=True):
            logger.propagate, logger.handlers = propagate, handlers
