"""How moments are kept: UTC ISO-8601 text with milliseconds, so that text
order is time order and SQL compares them as strings."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def moment_or_none(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
