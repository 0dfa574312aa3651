"""The recovered-lead report: what the text-back won back. Pure figures from
the store's counts; the CLI prints them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.core.threads import ReportFigures


@dataclass(frozen=True, slots=True)
class Report:
    since: datetime | None
    missed_calls: int
    texted: int
    replied: int
    handled: int
    median_first_action: timedelta | None  # missed call -> first owner action
    average_job_value: float
    currency: str

    @property
    def recovered_value(self) -> float:
        return self.handled * self.average_job_value

    def as_json(self) -> dict[str, object]:
        wait = self.median_first_action
        return {
            "since": self.since.isoformat() if self.since else None,
            "missed_calls": self.missed_calls,
            "texted": self.texted,
            "replied": self.replied,
            "handled": self.handled,
            "median_minutes_to_first_owner_action": (
                round(wait.total_seconds() / 60, 1) if wait is not None else None
            ),
            "average_job_value": self.average_job_value,
            "estimated_recovered_value": self.recovered_value,
        }

    def lines(self) -> list[tuple[str, str]]:
        wait = self.median_first_action
        return [
            ("missed calls", str(self.missed_calls)),
            ("texted back", _share(self.texted, self.missed_calls)),
            ("replied", _share(self.replied, self.texted)),
            ("handled by an owner", _share(self.handled, self.missed_calls)),
            ("median time to first owner action", _duration(wait) if wait else "-"),
            (
                "estimated recovered value",
                f"{self.currency}{self.recovered_value:,.0f}"
                f" ({self.handled} x {self.currency}{self.average_job_value:,.0f})",
            ),
        ]


def build(
    figures: ReportFigures, since: datetime | None, average_job_value: float, currency: str
) -> Report:
    waits = figures.first_action_waits
    return Report(
        since=since,
        missed_calls=figures.missed_calls,
        texted=figures.texted,
        replied=figures.replied,
        handled=figures.handled,
        median_first_action=(
            timedelta(seconds=statistics.median(w.total_seconds() for w in waits))
            if waits
            else None
        ),
        average_job_value=average_job_value,
        currency=currency,
    )


def _share(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.0%})" if whole else str(part)


def _duration(wait: timedelta) -> str:
    minutes = int(wait.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
