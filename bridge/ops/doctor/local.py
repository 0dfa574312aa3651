"""This machine: its clock, and the bridge running on this store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bridge.config import (
    Config,
)
from bridge.ops import health
from bridge.ops.doctor.report import Check


def check_running_bridge(heartbeat: Path, now: datetime) -> Check:
    """What the bridge running on this store says of itself, if one runs."""
    beat = health.fresh(heartbeat, now)
    if beat is None:
        return Check("bridge", True, "not running here now (no fresh heartbeat)")
    if beat.store_words is not None:
        return Check(
            "bridge", False, f"running, but {beat.store_words}",
            "bring the database back (or the network to it): the held decisions are written"
            " in order then, and the texts still inside their window go out",
        )  # fmt: skip
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
