"""The recovered-lead report: what the text-back won back. Pure figures from
the store's counts and its leads (the recovery ledger); the CLI prints them
as a table, JSON or CSV. What each figure means: docs/report.md."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

from bridge.core.ledger import LOST, WON, LeadRecord, recovered, value
from bridge.core.threads import ReportFigures

# A lead's stages, in the order a lead moves through them; a lead counts at
# every stage it reached, whether or not it reached the ones before.
STAGES = ("missed", "texted", "replied", "called_back", "booked", "won", "lost")
STAGE_NAMES = {
    "missed": "missed", "texted": "texted back", "replied": "replied",
    "called_back": "called back", "booked": "booked", "won": "won", "lost": "lost",
}  # fmt: skip
_REACHED: dict[str, Callable[[LeadRecord], bool]] = {
    "missed": lambda lead: True,
    "texted": lambda lead: lead.texted,
    "replied": lambda lead: lead.replied,
    "called_back": lambda lead: lead.called_back_at is not None,
    "booked": lambda lead: lead.booked,
    "won": lambda lead: lead.state.step == WON,
    "lost": lambda lead: lead.state.step == LOST,
}
NO_LINE = "(no line)"


def _median(waits: Sequence[timedelta]) -> timedelta | None:
    if not waits:
        return None
    return timedelta(seconds=statistics.median(w.total_seconds() for w in waits))


def _minutes(wait: timedelta | None) -> float | None:
    return round(wait.total_seconds() / 60, 1) if wait is not None else None


def _ratio(share: float | None) -> float | None:
    return round(share, 4) if share is not None else None


def _percent(share: float | None) -> str:
    return f"{share:.0%}" if share is not None else "-"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _share(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.0%})" if whole else str(part)


def _duration(wait: timedelta | None) -> str:
    if wait is None:
        return "-"
    minutes = int(wait.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass(frozen=True, slots=True)
class Ledger:
    """The recovery ledger of some leads (all of them, one line's, one week's)."""

    stages: dict[str, int]  # how many leads reached each stage
    handled: int  # marked handled, by anyone
    median_call_back: timedelta | None  # first missed call -> the PBX's call-back
    recovered: int  # booked or won, else handled - never lost
    entered: int  # of those, how many with an amount an owner entered
    entered_value: float
    estimated_value: float  # the others, at business.average_job_value

    @property
    def leads(self) -> int:
        return self.stages["missed"]

    @property
    def value(self) -> float:
        return self.entered_value + self.estimated_value

    def rate(self, stage: str) -> float | None:
        """The share of leads that reached ``stage``."""
        return self.stages[stage] / self.leads if self.leads else None

    @property
    def close_rate(self) -> float | None:
        """Won of the leads decided (won or lost)."""
        decided = self.stages["won"] + self.stages["lost"]
        return self.stages["won"] / decided if decided else None

    def as_json(self) -> dict[str, object]:
        return {
            "leads": self.leads,
            "stages": {
                stage: {"count": self.stages[stage], "rate": _ratio(self.rate(stage))}
                for stage in STAGES
            },
            "handled": self.handled,
            "median_minutes_to_call_back": _minutes(self.median_call_back),
            "close_rate": _ratio(self.close_rate),
            "recovered": {
                "leads": self.recovered,
                "value": self.value,
                "entered": {"leads": self.entered, "value": self.entered_value},
                "estimated": {
                    "leads": self.recovered - self.entered,
                    "value": self.estimated_value,
                },
            },
        }


def ledger_of(leads: Iterable[LeadRecord], average_job_value: float) -> Ledger:
    leads = list(leads)
    waits = [
        lead.called_back_at - lead.missed_at for lead in leads if lead.called_back_at is not None
    ]
    worth = [
        value(lead.state, average_job_value)
        for lead in leads
        if recovered(lead.state, lead.handled)
    ]
    return Ledger(
        stages={stage: sum(1 for lead in leads if _REACHED[stage](lead)) for stage in STAGES},
        handled=sum(1 for lead in leads if lead.handled),
        median_call_back=_median(waits),
        recovered=len(worth),
        entered=sum(1 for _, entered in worth if entered),
        entered_value=sum((amount for amount, entered in worth if entered), 0.0),
        estimated_value=sum((amount for amount, entered in worth if not entered), 0.0),
    )


EMPTY = ledger_of((), 0.0)


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
    ledger: Ledger = EMPTY
    # Each line (its DID, its name) and each week (its Monday, business time) with its ledger.
    by_line: tuple[tuple[str | None, str, Ledger], ...] = ()
    by_week: tuple[tuple[date, Ledger], ...] = field(default=())

    @property
    def recovered_value(self) -> float:
        """From the amounts owners entered; the average job value only where none was."""
        return self.ledger.value

    def as_json(self) -> dict[str, object]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "missed_calls": self.missed_calls,
            "texted": self.texted,
            "replied": self.replied,
            "handled": self.handled,
            "median_minutes_to_first_owner_action": _minutes(self.median_first_action),
            "average_job_value": self.average_job_value,
            "estimated_recovered_value": self.recovered_value,
            "ledger": self.ledger.as_json(),
            "lines": [
                {"line": did, "name": name, **ledger.as_json()}
                for did, name, ledger in self.by_line
            ],
            "weeks": [
                {"week": monday.isoformat(), **ledger.as_json()} for monday, ledger in self.by_week
            ],
        }

    def lines(self) -> list[tuple[str, str]]:
        """The headline: label and value."""
        wait, ledger = self.median_first_action, self.ledger
        return [
            # An empty ledger (nothing missed yet) says nothing rather than "0 leads".
            (
                "missed calls",
                f"{self.missed_calls}"
                + (f" ({_count(ledger.leads, 'lead')})" if ledger.leads else ""),
            ),
            ("texted back", _share(self.texted, self.missed_calls)),
            ("replied", _share(self.replied, self.texted)),
            ("handled by an owner", _share(self.handled, self.missed_calls)),
            ("median time to first owner action", _duration(wait)),
            ("median time to a call-back", _duration(ledger.median_call_back)),
            ("recovered value", self.value_words(ledger)),
        ]

    def value_words(self, ledger: Ledger) -> str:
        """``$1,300 (1 entered: $450; 1 x $850 average)``."""
        money = self.money
        parts = []
        if ledger.entered:
            parts.append(f"{ledger.entered} entered: {money(ledger.entered_value)}")
        estimated = ledger.recovered - ledger.entered
        if estimated:
            parts.append(f"{estimated} x {money(self.average_job_value)} average")
        return money(ledger.value) + (f" ({'; '.join(parts)})" if parts else "")

    def money(self, amount: float) -> str:
        return f"{self.currency}{amount:,.0f}"

    def stage_rows(self) -> list[tuple[str, str, str]]:
        """The ledger's table: stage, leads, share of leads."""
        ledger = self.ledger
        return [
            (STAGE_NAMES[stage], str(ledger.stages[stage]), _percent(ledger.rate(stage)))
            for stage in STAGES
        ]

    def breakdown(self) -> list[tuple[str, str, Ledger]]:
        """Every line, then every week: (scope, name, ledger)."""
        rows = [("line", name, ledger) for _, name, ledger in self.by_line]
        return rows + [("week", monday.isoformat(), ledger) for monday, ledger in self.by_week]

    def csv_rows(self) -> list[list[str | int | float | None]]:
        """For a spreadsheet: a header, the total, each line, each week. Names
        are as configured: the writer must make them safe (safe_text.spreadsheet)."""
        header: list[str | int | float | None] = ["scope", "name", *STAGES]
        header += ["handled", "median_minutes_to_call_back", "close_rate"]
        header += ["recovered_leads", "recovered_value", "entered_value", "estimated_value"]
        rows = [header]
        for scope, name, ledger in [("total", "all", self.ledger), *self.breakdown()]:
            row = [
                scope, name, *(ledger.stages[stage] for stage in STAGES), ledger.handled,
                _minutes(ledger.median_call_back), _ratio(ledger.close_rate),
                ledger.recovered, ledger.value, ledger.entered_value, ledger.estimated_value,
            ]  # fmt: skip
            rows.append(row)
        return rows


def build(
    figures: ReportFigures,
    since: datetime | None,
    average_job_value: float,
    currency: str,
    *,
    zone: tzinfo = UTC,
    line_names: Mapping[str, str] | None = None,
) -> Report:
    """The report; ``zone`` decides the weeks, ``line_names`` names the lines (by DID)."""
    names = line_names or {}
    leads = figures.leads
    by_line: dict[str | None, list[LeadRecord]] = {}
    by_week: dict[date, list[LeadRecord]] = {}
    for lead in leads:
        by_line.setdefault(lead.line, []).append(lead)
        day = lead.missed_at.astimezone(zone).date()
        by_week.setdefault(day - timedelta(days=day.weekday()), []).append(lead)
    return Report(
        since=since,
        missed_calls=figures.missed_calls,
        texted=figures.texted,
        replied=figures.replied,
        handled=figures.handled,
        median_first_action=_median(figures.first_action_waits),
        average_job_value=average_job_value,
        currency=currency,
        ledger=ledger_of(leads, average_job_value),
        by_line=tuple(
            (did, names.get(did, did) if did else NO_LINE, ledger_of(group, average_job_value))
            for did, group in sorted(by_line.items(), key=lambda item: item[0] or "")
        ),
        by_week=tuple(
            (monday, ledger_of(group, average_job_value))
            for monday, group in sorted(by_week.items())
        ),
    )
