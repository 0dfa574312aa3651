"""The reminder names a call-back nobody took (issue 13 item 1): the owner
knows it was tried, and when, before calling again."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.alerts import wording
from bridge.config import Config
from bridge.core.alerts import AlertDraft
from bridge.core.threads import ThreadSummary

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # a Wednesday, noon in Chicago
CONFIG = Config.model_validate(
    {
        "lab": True,
        "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
        "ami": {"username": "textback", "secret": "x"},
        "lines": [{"did": "+15125550100", "name": "Main line"}],
        "owners": [{"id": "mike", "name": "Mike", "mobile": "+15125550199",
                    "email": "mike@acme.example"}],
    },
    context={"region": "US"},
)  # fmt: skip
TRIED = "tried to call back: 201 at 11:12 am, not answered"


def thread(status: str, last_call_back: str | None) -> ThreadSummary:
    return ThreadSummary(
        12, "+15125559876", "+15125550100", status, False, "2026-11-25T15:00:00+00:00",
        "2026-11-25T15:00:00+00:00", "need a quote" if status == "replied" else None, 1,
        last_call_back,
    )  # fmt: skip


def drafts(summary: ThreadSummary) -> dict[str, AlertDraft]:
    found = wording.reminder(CONFIG, summary, "2026-11-25T15:00:00+00:00", NOW,
                             channels=frozenset({"email", "sms"}))  # fmt: skip
    return {d.channel: d for d in found}


def test_the_reminder_names_the_call_back_attempt() -> None:
    for status in ("awaiting_reply", "replied"):
        by = drafts(thread(status, TRIED))
        assert "; tried to call back: 201 at 11:12 am, not answered" in by["sms"].body_text
        assert "Already tried to call back: 201 at 11:12 am, not answered." in by["email"].body_text


def test_no_attempt_no_mention() -> None:
    by = drafts(thread("awaiting_reply", None))
    assert "tried" not in by["sms"].body_text
    assert "Already" not in by["email"].body_text
