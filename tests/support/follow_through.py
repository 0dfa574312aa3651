"""Follow-through's office, with an injected clock: a lead texted back at the
clock's time, and a config whose SMTP points at the test's double."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.config import Config
from bridge.core.texts import OutgoingText
from bridge.store import Store
from tests.support.expected import CALLER
from tests.support.store_values import decision

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday, 9:00 in Chicago


MIKE = "+15125550199"


class Clock:
    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def settings(tmp_path: Path, smtp_port: int = 1, **follow_up: object) -> Config:
    return Config.model_validate(
        {
            "business": {
                "name": "Acme Roofing",
                "timezone": "America/Chicago",
                "average_job_value": 850,
            },
            "ami": {"username": "textback", "secret": "x"},
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [
                {"id": "mike", "name": "Mike", "email": "mike@acme.example", "mobile": MIKE}
            ],
            "follow_up": follow_up,
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "sender": "textback@acme.example",
            },
            "store": {"path": str(tmp_path / "t.db")},
        },
        context={"region": "US"},
    )


async def texted_back(store: Store, clock: Clock, linkedid: str = "call-1") -> None:
    """A missed call whose text-back went out at the clock's time."""
    body = "Sorry we missed your call"
    text = OutgoingText(CALLER, body, 1, clock() + timedelta(minutes=30))
    await store.record_decision(decision(linkedid, ended_at=clock()), text=text)
    (row,) = [r for r in await store.outbox() if r["linkedid"] == linkedid]
    await store.mark_sending(int(row["id"]), "modem")  # type: ignore[call-overload]
    await store.mark_sent(int(row["id"]), [1], clock())  # type: ignore[call-overload]


def config_yaml(cfg: Config, **sections: object) -> str:
    """The same settings as a config file (``sections`` replace top-level keys)."""
    import yaml

    data = cfg.model_dump(mode="json", exclude_defaults=True)
    data["ami"]["secret"] = "x"
    data.update(sections)
    return yaml.safe_dump(data)
