"""The heartbeat verdict behind `textback health`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.ops.health import Snapshot, heartbeat_path, verdict, write

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def beat(tmp_path: Path, **fields: object) -> Path:
    path = heartbeat_path(tmp_path / "textback.db")
    values: dict[str, object] = {"at": NOW, "ami": "connected", "transports": {"modem": True}}
    values.update(fields)
    write(path, Snapshot(**values))  # type: ignore[arg-type]
    return path


def test_a_fresh_connected_bridge_is_healthy(tmp_path: Path) -> None:
    path = beat(tmp_path, transports={"modem": False, "sip": True})
    assert path.name == "textback.health"
    assert verdict(path, NOW + timedelta(seconds=30)) == (
        True,
        "AMI connected, modem down, sip up",
    )


def test_each_way_of_being_unhealthy_says_what(tmp_path: Path) -> None:
    assert verdict(tmp_path / "none.health", NOW) == (
        False,
        f"no heartbeat at {tmp_path / 'none.health'}: is `textback run` running?",
    )
    path = beat(tmp_path)
    assert verdict(path, NOW + timedelta(minutes=5)) == (
        False,
        "the bridge last wrote its heartbeat 300 s ago",
    )
    assert verdict(beat(tmp_path, ami="bad_credentials"), NOW) == (False, "AMI is bad_credentials")
    assert verdict(beat(tmp_path, transports={"modem": False}), NOW) == (
        False,
        "no SMS transport is up (modem)",
    )
    path.write_text("{not json")
    ok, message = verdict(path, NOW)
    assert not ok
    assert message.startswith("unreadable heartbeat")
