"""The FastAGI route: something to answer the dialplan, and the dialplan's
context that calls it."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket

from bridge.ami.link import AmiLink
from bridge.config import AgiConfig
from bridge.core.safe_text import printable
from bridge.ops.doctor.report import Check

CONTEXT = "textback-report"  # config/asterisk/extensions.conf, section 2


async def check_fastagi(link: AmiLink, agi: AgiConfig) -> list[Check]:
    return [await check_listener(agi), await check_context(link)]


async def check_listener(agi: AgiConfig) -> Check:
    """The running bridge listens; without one, the port must be free for it."""
    where = f"{agi.host}:{agi.port}"
    try:
        async with asyncio.timeout(2):
            _, writer = await asyncio.open_connection(agi.host, agi.port)
    except (OSError, TimeoutError):
        pass
    else:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return Check("FastAGI", True, f"{where} answers (the running bridge)")
    problem = await asyncio.to_thread(_bind_problem, agi.host, agi.port)
    if problem is None:
        return Check("FastAGI", True, f"{where} is free: `textback run` will listen there")
    return Check(
        "FastAGI", False, f"cannot listen on {where}: {problem}",
        "agi.host must be an address of this machine, and agi.port free (`ss -ltnp`)",
    )  # fmt: skip


def _bind_problem(host: str, port: int) -> str | None:
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "the port is in use by another program"
        return exc.strerror or str(exc)
    return None


async def check_context(link: AmiLink) -> Check:
    """The dialplan has the report context - when AMI may read the dialplan."""
    reply = await link.send_action({"Action": "ShowDialPlan", "Context": CONTEXT})
    message = reply.message.lower()
    if reply.success:
        return Check("FastAGI dialplan", True, f"the [{CONTEXT}] context is loaded")
    if "permission denied" in message:
        return Check(
            "FastAGI dialplan", True,
            f"not checked: this AMI user may not read the dialplan (make sure [{CONTEXT}]"
            " from config/asterisk/extensions.conf is loaded: `dialplan show " + CONTEXT + "`)",
        )  # fmt: skip
    if "did not find context" in message:
        return Check(
            "FastAGI dialplan", False, f"Asterisk has no [{CONTEXT}] context",
            "append section 2 of config/asterisk/extensions.conf and call it from your"
            " inbound context's h extension, then `dialplan reload`",
        )  # fmt: skip
    return Check("FastAGI dialplan", False, f"unexpected answer: {printable(reply.message)}")
