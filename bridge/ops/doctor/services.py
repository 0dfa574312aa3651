"""The mail server owner alerts go through, and Asterisk's call records."""

from __future__ import annotations

import aiosmtplib

from bridge.alerts.worker import smtp_session
from bridge.config import (
    Config,
    SmtpConfig,
)
from bridge.core.safe_text import printable
from bridge.detection.records.sources import CdrUnavailable, source_from_config
from bridge.ops.doctor.report import Check


async def check_smtp(smtp: SmtpConfig) -> Check:
    name = "SMTP"
    where = f"{smtp.host}:{smtp.port}"
    try:
        async with smtp_session(smtp):
            pass  # connected, TLS as configured, logged in: that is the check
    except aiosmtplib.SMTPAuthenticationError as exc:
        return Check(
            name,
            False,
            f"{where} refused the login: {exc.code} {printable(exc.message)}",
            "check smtp.username and SMTP_PASSWORD",
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return Check(
            name,
            False,
            f"cannot reach {where}: {printable(str(exc)) or type(exc).__name__}",
            "check smtp.host, smtp.port and smtp.security",
        )
    auth = f" as {smtp.username}" if smtp.username else " (no login configured)"
    return Check(name, True, f"{where} accepts us{auth}")


# ---------------------------------------------------------------- call records


async def check_call_records(config: Config) -> Check:
    name = "call records"
    source = source_from_config(config)
    if source is None:
        return Check(
            name, True,
            "not configured: a call that ends while textback cannot see the PBX is recorded as"
            " unknown, and one that begins and ends then is not seen at all (cdr: in the config;"
            " docs/detection.md)",
        )  # fmt: skip
    try:
        return Check(name, True, f"{await source.check()} - in use to catch up after an outage")
    except CdrUnavailable as exc:
        return Check(name, False, str(exc))
