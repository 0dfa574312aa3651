"""AMI: the login, what the user may do and read, the events, the PBX's clock,
SIP texting and the FastAGI route."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from bridge.ami import actions
from bridge.ami.framer import AmiMessage
from bridge.ami.link import AmiLink, LinkState
from bridge.config import (
    Config,
    SipConfig,
)
from bridge.core.safe_text import printable
from bridge.ops.doctor.fastagi import check_fastagi
from bridge.ops.doctor.reading import check_read_classes
from bridge.ops.doctor.report import Check

MAX_CLOCK_SKEW = 60.0  # seconds between this machine and the PBX


@contextlib.asynccontextmanager
async def _logged_in(config: Config, events: list[AmiMessage]) -> AsyncIterator[AmiLink]:
    """One AMI session; the caller reads ``link.state`` to see how it went."""
    settled = asyncio.Event()

    def on_state(state: LinkState, detail: str) -> None:
        if state is not LinkState.CONNECTING:
            settled.set()

    link = AmiLink(config.ami, events.append, on_state=on_state)
    task = asyncio.create_task(link.run())
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(config.ami.connect_timeout + 1):
                await settled.wait()
        yield link
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def check_ami(
    config: Config, now: Callable[[], datetime], *, wait_for_call: float = 0.0
) -> list[Check]:
    ami = config.ami
    where = f"{ami.host}:{ami.port}"
    events: list[AmiMessage] = []
    async with _logged_in(config, events) as link:
        if link.state is LinkState.BAD_CREDENTIALS:
            return [Check(
                "AMI login", False, link.state_detail,
                f"ami.username and the secret must match the [{ami.username}] user in "
                "manager.conf (see config/asterisk/manager.conf); then `manager reload`",
            )]  # fmt: skip
        if link.state is not LinkState.CONNECTED:
            detail = link.state_detail or "no answer"
            return [Check(
                "AMI", False, f"cannot reach Asterisk at {where}: {detail}",
                "is Asterisk running, and manager.conf [general] enabled = yes with "
                f"port = {ami.port} and bindaddr reachable from here?",
            )]  # fmt: skip
        checks = [Check("AMI login", True, f"logged in to {where} as {ami.username}")]
        permission, channels_up = await _catch_up_allowed(link)
        checks.append(permission)
        if config.sip is not None:
            checks += await _sip(link, config.sip)
        if any(o.extension or o.mobile for o in config.owners):
            checks.append(await _originate_allowed(link))
        checks.append(await _events(events))
        checks.append(await check_read_classes(events, channels_up, wait_for_call=wait_for_call))
        if config.agi is not None:
            checks += await check_fastagi(link, config.agi)
        checks.append(await _pbx_clock(link, now))
    return checks


async def _catch_up_allowed(link: AmiLink) -> tuple[Check, int]:
    """CoreShowChannels (the catch-up after every login), and how many channels are up."""
    name = "AMI CoreShowChannels"
    reply = await link.send_action(actions.core_show_channels())
    if "permission denied" in reply.message.lower():
        return Check(
            name, False, "permission denied",
            "add 'system' to write= for this user in manager.conf, then `manager reload`",
        ), 0  # fmt: skip
    up = sum(1 for event in reply.events if event.event == "CoreShowChannel")
    return Check(name, True, "allowed (used to catch up on calls after a reconnect)"), up


async def _originate_allowed(link: AmiLink) -> Check:
    """Click-to-call (CALL 12) needs write = originate; a dry Originate rings nothing."""
    name = "AMI Originate"
    reply = await link.send_action(actions.originate_dry_run())
    message = reply.message.lower()
    if "permission denied" in message:
        return Check(
            name, False, "permission denied: CALL 12 cannot ring anyone",
            "add 'originate' to write= for this user in manager.conf, then `manager reload`",
        )  # fmt: skip
    if "channel not specified" in message:
        return Check(name, True, "allowed, for click-to-call (a dry call, nothing rang)")
    return Check(name, False, f"unexpected answer: {printable(message)}")


async def _sip(link: AmiLink, sip: SipConfig) -> list[Check]:
    # A dry MessageSend: a message technology that cannot exist, so Asterisk
    # checks the permission and then refuses without sending anything.
    reply = await link.send_action(actions.message_send("textback-doctor:dry-run", "x"))
    message = reply.message.lower()
    if "permission denied" in message:
        send = Check(
            "SIP MessageSend", False, "permission denied",
            "add 'message' to write= for this user in manager.conf, then `manager reload`",
        )  # fmt: skip
    elif "technology not found" in message:
        send = Check("SIP MessageSend", True, "allowed (a dry call, nothing sent)")
    else:
        send = Check("SIP MessageSend", False, f"unexpected answer: {printable(message)}")
    reply = await link.send_action(actions.pjsip_show_endpoint(sip.endpoint))
    if reply.success:
        endpoint = Check("SIP endpoint", True, f"PJSIP endpoint {sip.endpoint} exists")
    else:
        endpoint = Check(
            "SIP endpoint", False,
            printable(reply.message) or f"no endpoint {sip.endpoint}",
            "sip.endpoint must name the trunk's endpoint in pjsip.conf "
            "(see config/asterisk/pjsip.conf); `pjsip show endpoints` lists them",
        )  # fmt: skip
    return [send, endpoint]


async def _events(events: list[AmiMessage]) -> Check:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(3):
            while not events:  # noqa: ASYNC110 -- the link appends; nothing signals
                await asyncio.sleep(0.02)
    if events:
        return Check("AMI events", True, f"arriving ({events[0].event or 'an event'} seen)")
    return Check(
        "AMI events", False, "none arrived after login",
        "manager.conf: read = call,dialplan,agent,system,user for this user, and an "
        "eventfilter (if any) that lets FullyBooted and the call events through",
    )  # fmt: skip


async def _pbx_clock(link: AmiLink, now: Callable[[], datetime]) -> Check:
    reply = await link.send_action(actions.ping())
    try:
        pbx = float(reply.get("Timestamp", ""))
    except ValueError:
        return Check("PBX clock", True, "Asterisk did not say its time (no Timestamp)")
    skew = now().timestamp() - pbx
    if abs(skew) > MAX_CLOCK_SKEW:
        return Check(
            "PBX clock", False, f"this machine and Asterisk differ by {skew:+.0f} s",
            "run NTP (systemd-timesyncd or chrony) on both machines",
        )  # fmt: skip
    return Check("PBX clock", True, f"within {abs(skew):.1f} s of Asterisk's")
