"""The modem: present, not held by another program, answering, registered."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import serial

from bridge.app_settings import modem_settings
from bridge.config import (
    ModemConfig,
)
from bridge.ops import health
from bridge.ops.doctor.report import Check
from sms_gateway.base import DeliveryReport, IncomingText, TransportStatus
from sms_gateway.gsm_modem import GsmModemTransport


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
    return Check(name, True, f"ready, registered{operator}{signal}{_store_and_send(status)}")


def _store_and_send(status: TransportStatus) -> str:
    """What settles a text a crash interrupts mid-send (docs/texting.md)."""
    without = status.extra.get("store_and_send", "yes")
    if without == "yes":
        return "; store-and-send: a text cut off mid-send is settled from the modem's storage"
    return (
        f"; no store-and-send ({without}): a text cut off mid-send is resent with TP-RD,"
        " which only some SMS centres honour"
    )


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
