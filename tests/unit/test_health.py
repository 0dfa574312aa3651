"""The heartbeat verdict behind `textback health`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.ops.doctor.local import check_running_bridge
from bridge.ops.health import Snapshot, heartbeat_path, verdict, write
from bridge.ops.health import read as health_read

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


def test_a_store_that_is_away_fails_health_and_doctor_saying_what_is_held(
    tmp_path: Path,
) -> None:
    away = NOW - timedelta(minutes=7)
    path = beat(tmp_path, store_away_since=away, held=3)
    assert verdict(path, NOW) == (
        False,
        "the store is unreachable since 17:53 UTC, 3 decisions held:"
        " written in order when it is back",
    )
    check = check_running_bridge(path, NOW)
    assert not check.ok
    assert (
        check.message == "running, but the store is unreachable since 17:53 UTC, 3 decisions held"
    )
    # An old heartbeat without the fields (a bridge before this version) reads as reachable.
    old = path.with_name("old.health")
    old.write_text('{"at": "2026-11-25T18:00:00+00:00", "ami": "connected", "transports": {}}')
    assert health_read(old).store_words is None
