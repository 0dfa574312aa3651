"""A heartbeat file the running bridge rewrites every few seconds, and the
verdict ``textback health`` (the container's HEALTHCHECK) reads from it.

A file, not a network probe: checking health must not open AMI sessions on
the PBX every 30 seconds, and a hung bridge stops writing it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from bridge.config.store_section import StoreConfig

HEARTBEAT_EVERY = 15.0  # seconds
STALE_AFTER = timedelta(seconds=90)


def heartbeat_path(store_path: Path) -> Path:
    """Beside the store, in the state directory the bridge can write."""
    return store_path.with_name(store_path.stem + ".health")


def heartbeat_file(store: StoreConfig) -> Path:
    """Where the running bridge writes its heartbeat: beside a SQLite store (as
    before), or in store.state_dir - which a PostgreSQL store needs, having no
    file of its own on this box."""
    if store.state_dir is None and store.postgres_url is None:
        return heartbeat_path(store.sqlite_path)
    return store.state_folder / "textback.health"


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: datetime
    ami: str  # LinkState value
    transports: dict[str, bool]  # name -> connected
    # Auxiliary tasks that crashed lately and were restarted: name -> what it raised.
    degraded: dict[str, str] = field(default_factory=dict)
    # The store refuses writes since then (a database away): decisions are held.
    store_away_since: datetime | None = None
    held: int = 0  # decisions waiting to be committed

    def as_json(self) -> dict[str, object]:
        away = self.store_away_since
        return {
            "at": self.at.isoformat(),
            "ami": self.ami,
            "transports": self.transports,
            "degraded": self.degraded,
            "store_away_since": None if away is None else away.isoformat(),
            "held": self.held,
        }

    @property
    def store_words(self) -> str | None:
        """``the store is unreachable since 15:02 UTC, 3 decisions held``; None: it is not."""
        away = self.store_away_since
        if away is None:
            return None
        held = f"{self.held} decision{'' if self.held == 1 else 's'} held"
        return f"the store is unreachable since {away:%H:%M} UTC, {held}"


def write(path: Path, snapshot: Snapshot) -> None:
    """Atomically: a reader never sees half a file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(snapshot.as_json()))
    os.replace(temporary, path)


def read(path: Path) -> Snapshot:
    """The running bridge's last heartbeat. Raises OSError or ValueError."""
    try:
        data = json.loads(path.read_text())
        return Snapshot(
            datetime.fromisoformat(data["at"]),
            str(data["ami"]),
            dict(data["transports"]),
            dict(data.get("degraded", {})),
            _moment_or_none(data.get("store_away_since")),
            int(data.get("held", 0)),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a heartbeat: {exc}") from None


def _moment_or_none(value: object) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def fresh(path: Path, now: datetime) -> Snapshot | None:
    """The heartbeat of a bridge running right now, if there is one."""
    try:
        snapshot = read(path)
    except (OSError, ValueError):
        return None
    return snapshot if now - snapshot.at <= STALE_AFTER else None


def verdict(path: Path, now: datetime) -> tuple[bool, str]:
    try:
        snapshot = read(path)
    except FileNotFoundError:
        return False, f"no heartbeat at {path}: is `textback run` running?"
    except (OSError, ValueError) as exc:
        return False, f"unreadable heartbeat {path}: {exc}"
    age = now - snapshot.at
    if age > STALE_AFTER:
        return False, f"the bridge last wrote its heartbeat {int(age.total_seconds())} s ago"
    if snapshot.store_words is not None:
        return False, f"{snapshot.store_words}: written in order when it is back"
    if snapshot.ami != "connected":
        return False, f"AMI is {snapshot.ami}"
    down = [name for name, up in snapshot.transports.items() if not up]
    if down and len(down) == len(snapshot.transports):
        return False, f"no SMS transport is up ({', '.join(down)})"
    parts = ["AMI connected"] + [
        f"{name} {'up' if up else 'down'}" for name, up in snapshot.transports.items()
    ]
    if snapshot.degraded:
        # Detection and texting run; a helper task crashed and was restarted.
        crashed = "; ".join(
            f"{name} restarted after {why}" for name, why in snapshot.degraded.items()
        )
        parts.append(f"degraded: {crashed}")
    return True, ", ".join(parts)
