"""What the contract tests (and the backend-specific store tests) store: a
missed call's decision, its text-back, a text that comes in, an owner's alert;
and the type of the contract suite's backend opener (tests/contract/conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from bridge.core.alerts import AlertDraft
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.texts import OptOutChange, OutgoingText, ReceivedText
from bridge.store import Store

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday, 9:00 in Chicago
CALLER = "+15125559876"
OTHER = "+15125550142"
LINE = "+15125550100"
SECOND_LINE = "+15125550111"
LATER = T0 + timedelta(days=365)  # every queued text is due by then
DOMAIN = "acme.example"


class Clock:
    """The store's clock, moved by the test: no sleeping."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def decision(linkedid: str = "1795617278.10", **overrides: object) -> CallDecision:
    fields: dict[str, object] = {
        "linkedid": linkedid,
        "outcome": Outcome.MISSED,
        "reason": Reason.NOANSWER,
        "caller": "+15125559876",
        "caller_raw": "+15125559876",
        "caller_name": "Jane Caller",
        "line": "+15125550100",
        "line_name": "Main line",
        "started_at": T0,
        "ended_at": T0,
        "dial_status": "NOANSWER",
        "detail": "dial ended NOANSWER",
    }
    fields.update(overrides)
    return CallDecision(**fields)  # type: ignore[arg-type]


def a_text(to: str = CALLER, *, kind: str = "textback", body: str = "") -> OutgoingText:
    return OutgoingText(
        to, body or "Sorry we missed your call", 1, T0 + timedelta(minutes=30), kind
    )


def received(
    body: str, sender: str = CALLER, *, at: datetime = T0, network_time: datetime | None = None
) -> ReceivedText:
    return ReceivedText(sender, body, 1, at, network_time)


def stop(number: str = CALLER, *, opted_out: bool = True) -> OptOutChange:
    words = "unsubscribed" if opted_out else "subscribed again"
    confirmation = OutgoingText(number, f"Acme: you're {words}", 1, T0 + timedelta(hours=1),
                                "confirmation")  # fmt: skip
    return OptOutChange(opted_out, "STOP" if opted_out else "START", "sms", confirmation)


def email(recipient: str = "mike@acme.example", owner: str = "mike") -> AlertDraft:
    return AlertDraft(owner, "email", recipient, "Missed call", "Jane called", "<p>Jane</p>")


def sms(recipient: str = "+15125550199", owner: str = "mike") -> AlertDraft:
    return AlertDraft(owner, "sms", recipient, "Missed call", "Jane called: 512-555-9876", None)


# Opens (again) one fresh database of a backend, with the given clock.
Opener = Callable[[Clock], Awaitable[Store]]
