"""`textback doctor`: everything an installer needs to know is wrong, one line
each, with what to fix. Every check talks to the real thing - the store file,
Asterisk's AMI, the modem, the mail server - and changes nothing: no text is
sent, no mail is sent, no schema is migrated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosmtplib
import serial

from bridge.alerts.worker import smtp_session
from bridge.ami import actions
from bridge.ami.bookkeeping import Fields
from bridge.ami.framer import AmiMessage
from bridge.ami.link import AmiLink, LinkState
from bridge.app_settings import modem_settings
from bridge.config import (
    CheckedConfig,
    Config,
    ConfigError,
    ModemConfig,
    SipConfig,
    SmtpConfig,
    load_checked,
)
from bridge.core.safe_text import printable
from bridge.detection.records.sources import CdrUnavailable, source_from_config
from bridge.ops import health
from bridge.store import SchemaMismatch, Store, StoreError
from sms_gateway.base import DeliveryReport, IncomingText
from sms_gateway.gsm_modem import GsmModemTransport

MAX_CLOCK_SKEW = 60.0  # seconds between this machine and the PBX


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        fix = f" - fix: {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name}: {self.message}{fix}"


async def diagnose(
    config_path: str, *, modem_wait: float = 20.0, clock: Callable[[], datetime] | None = None
) -> list[Check]:
    now = clock or (lambda: datetime.now(UTC))
    try:
        checked = load_checked(config_path)
    except ConfigError as exc:
        first = exc.problems[0] if exc.problems else "invalid"
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return [Check("config", False, f"{first}{more}", f"textback check-config {config_path}")]
    config = checked.config
    with _quiet():
        checks = [_config_check(config_path, checked), await check_store(config.store.path)]
        checks += await check_ami(config, now)
        if config.modem is not None:
            beat = health.heartbeat_path(config.store.path)
            checks.append(await check_modem(config.modem, modem_wait, beat, now()))
        if config.smtp is not None:
            checks.append(await check_smtp(config.smtp))
        checks.append(await check_call_records(config))
        checks.append(check_clock(config, now()))
        checks.append(check_running_bridge(health.heartbeat_path(config.store.path), now()))
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


# ---------------------------------------------------------------- the store


async def check_store(path: Path) -> Check:
    if (place := _store_place(path)) is not None:
        return place
    try:  # read-only: the doctor never creates, migrates or writes the store
        async with await Store.open(path, read_only=True) as store:
            version = await store.schema_version()
    except SchemaMismatch as exc:
        if exc.older:
            upgrade = f"schema {exc.found}; `textback run` upgrades it to {exc.current}"
            return Check("store", True, upgrade)
        newer = f"schema {exc.found} is newer than this textback ({exc.current})"
        fix = "upgrade textback; never run an older one on this store"
        return Check("store", False, newer, fix)
    except StoreError as exc:
        return Check("store", False, str(exc), "check store.path")
    return Check("store", True, f"{path} is writable, schema {version} is current")


def _store_place(path: Path) -> Check | None:
    """Can the bridge create, or write, the store there? (None: it can.)"""
    name = "store"
    directory = path.parent
    if not path.exists():
        usable = (
            directory
            if directory.exists()
            else next((p for p in directory.parents if p.exists()), Path("/"))
        )
        if os.access(usable, os.W_OK):
            return Check(name, True, f"{path} will be created on first run")
        return Check(
            name, False, f"cannot create {path}: {usable} is not writable",
            "create the directory for the bridge's user (systemd: StateDirectory=textback)",
        )  # fmt: skip
    if not os.access(path, os.W_OK) or not os.access(directory, os.W_OK):
        return Check(
            name, False, f"{path} (or its directory) is not writable by this user",
            f"chown the directory {directory} to the user textback runs as",
        )  # fmt: skip
    return None


# ---------------------------------------------------------------- AMI


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


async def check_ami(config: Config, now: Callable[[], datetime]) -> list[Check]:
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
        checks.append(await _permission(link, actions.core_show_channels(), "system"))
        if config.sip is not None:
            checks += await _sip(link, config.sip)
        checks.append(await _events(events))
        checks.append(await _pbx_clock(link, now))
    return checks


async def _permission(link: AmiLink, action: Fields, klass: str) -> Check:
    name = f"AMI {action['Action']}"
    reply = await link.send_action(action)
    if "permission denied" in reply.message.lower():
        return Check(
            name, False, "permission denied",
            f"add '{klass}' to write= for this user in manager.conf, then `manager reload`",
        )  # fmt: skip
    return Check(name, True, "allowed (used to catch up on calls after a reconnect)")


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


# ---------------------------------------------------------------- the modem


async def check_modem(
    settings: ModemConfig, wait: float, heartbeat: Path | None = None, now: datetime | None = None
) -> Check:
    name = "modem"
    if not await asyncio.to_thread(Path(settings.port).exists):
        return Check(
            name, False, f"no device at {settings.port}",
            "plug the modem in; use its /dev/serial/by-id/ name for modem.port",
        )  # fmt: skip
    if await asyncio.to_thread(_held_elsewhere, settings):
        return _modem_in_use(settings, heartbeat, now or datetime.now(UTC))
    transport = GsmModemTransport(modem_settings(settings), reconnect_min=1, reconnect_max=2)
    runner = asyncio.create_task(transport.run(_Discard()))
    try:
        async with asyncio.timeout(wait):
            await transport.wait_ready()
        status = transport.status()  # before stopping it: stopped reads as down
    except TimeoutError:
        detail = transport.status().detail or "no answer"
        return Check(
            name, False, f"not ready after {wait:g} s: {detail}",
            "is the bridge's user in group dialout, the SIM inserted (and its PIN in "
            "modem.pin), and is this the modem's AT port?",
        )  # fmt: skip
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    signal = f", signal {status.signal}/31" if status.signal is not None else ""
    operator = f" on {status.operator}" if status.operator else ""
    if not status.registered:
        return Check(
            name,
            False,
            f"the SIM is not registered{operator}{signal}",
            "check the SIM's service and the antenna",
        )
    if status.signal is not None and status.signal < 5:
        return Check(
            name,
            False,
            f"registered{operator} but the signal is weak{signal}",
            "move the modem or add an antenna",
        )
    return Check(name, True, f"ready, registered{operator}{signal}")


def _held_elsewhere(settings: ModemConfig) -> bool:
    """Another process has the port open exclusively (the running bridge does)."""
    try:
        serial.Serial(str(settings.port), settings.baudrate, timeout=0, exclusive=True).close()
    except serial.SerialException as exc:
        return "lock" in str(exc).lower()
    except OSError:
        return False  # the transport's own attempt says what is wrong
    return False


def _modem_in_use(settings: ModemConfig, heartbeat: Path | None, now: datetime) -> Check:
    beat = health.fresh(heartbeat, now) if heartbeat is not None else None
    if beat is not None and "modem" in beat.transports:
        state = "up" if beat.transports["modem"] else "down"
        return Check(
            "modem", beat.transports["modem"],
            f"in use by the running bridge, which reports it {state}",
            "see the bridge's log (journalctl -u textback) for why the modem is down",
        )  # fmt: skip
    return Check(
        "modem", False, f"{settings.port} is in use by another program",
        f"find it with `fuser -v {settings.port}` (often ModemManager: systemctl disable"
        " --now ModemManager)",
    )  # fmt: skip


class _Discard:
    """doctor takes nothing off the SIM: a text or a delivery report it is
    offered is never acknowledged (so never deleted) and stays there for
    `textback run`."""

    async def incoming_text(self, text: IncomingText) -> None:
        await asyncio.Event().wait()  # until the check is over and cancels us

    async def delivery_report(self, report: DeliveryReport) -> None:
        await asyncio.Event().wait()  # likewise: a report stays in the modem for the bridge


# ---------------------------------------------------------------- SMTP


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


# ---------------------------------------------------------------- the running bridge


def check_running_bridge(heartbeat: Path, now: datetime) -> Check:
    """What the bridge running on this store says of itself, if one runs."""
    beat = health.fresh(heartbeat, now)
    if beat is None:
        return Check("bridge", True, "not running here now (no fresh heartbeat)")
    if beat.degraded:
        crashed = "; ".join(f"{name} ({why})" for name, why in beat.degraded.items())
        return Check(
            "bridge", False, f"running, but restarted after a crash: {crashed}",
            "calls are still decided and texted; the traceback is in the bridge's log"
            " (journalctl -u textback): please report it",
        )  # fmt: skip
    return Check("bridge", True, f"running, AMI {beat.ami}")


# ---------------------------------------------------------------- the clock


def check_clock(config: Config, now: datetime) -> Check:
    if now.year < 2024:
        return Check(
            "clock", False, f"this machine thinks it is {now:%Y-%m-%d}", "set the clock and run NTP"
        )
    local = now.astimezone(ZoneInfo(config.business.timezone))
    return Check(
        "clock",
        True,
        f"{local:%a %Y-%m-%d %H:%M} in {config.business.timezone} (business hours use it)",
    )
