"""bridge.core.callbacks: what a decision does to its number's thread."""

from __future__ import annotations

import zoneinfo
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bridge.core.callbacks import CALLED, REACHED, TRIED, thread_link
from bridge.core.calls import CallDecision, Outcome, Reason

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
START = datetime(2026, 11, 25, 21, 12, tzinfo=UTC)  # 3:12 pm in Chicago
OUT = CallDecision(
    linkedid="out-1", outcome=Outcome.OUTBOUND, reason=None, caller=None, caller_raw="201",
    caller_name="Desk 201", line=None, line_name=None, started_at=START,
    ended_at=START + timedelta(minutes=2, seconds=10), callee="+15125559876",
    answered_by="PJSIP/trunk-00000001", answered_at=START + timedelta(seconds=10),
)  # fmt: skip


def link(decision: CallDecision) -> object:
    return thread_link(decision, min_talk_seconds=20, zone=CHICAGO)


def test_a_call_back_talked_on_is_called() -> None:
    found = thread_link(OUT, min_talk_seconds=20, zone=CHICAGO)
    assert found is not None
    assert (found.number, found.action) == ("+15125559876", CALLED)
    assert found.note == "called back by 201 at 3:12 pm, talked 2 min"


def test_a_voicemail_greeting_or_no_answer_is_an_attempt() -> None:
    short = replace(OUT, ended_at=START + timedelta(seconds=25))
    found = thread_link(short, min_talk_seconds=20, zone=CHICAGO)
    assert found is not None
    assert (found.action, found.note) == (
        TRIED,
        "tried to call back: 201 at 3:12 pm, answered, talked 15 s",
    )
    unanswered = replace(OUT, answered_by=None, answered_at=None)
    found = thread_link(unanswered, min_talk_seconds=20, zone=CHICAGO)
    assert found is not None
    assert (found.action, found.note) == (TRIED, "tried to call back: 201 at 3:12 pm, not answered")


def test_an_answered_call_from_the_caller_reaches_them() -> None:
    answered = replace(
        OUT, outcome=Outcome.ANSWERED, caller="+15125559876", callee=None, answered_by="PJSIP/201-1"
    )
    found = thread_link(answered, min_talk_seconds=20, zone=CHICAGO)
    assert found is not None
    assert (found.number, found.action) == ("+15125559876", REACHED)
    assert found.note.startswith("reached on a later call at 3:12 pm")


def test_other_calls_link_nothing() -> None:
    missed = replace(OUT, outcome=Outcome.MISSED, reason=Reason.NOANSWER, caller="+15125559876")
    assert link(missed) is None
    assert link(replace(OUT, callee=None)) is None
    assert link(replace(OUT, outcome=Outcome.INTERNAL, callee=None)) is None


def test_an_untrusted_extension_is_made_printable() -> None:
    found = thread_link(replace(OUT, caller_raw="20\x1b[31m1"), min_talk_seconds=20, zone=CHICAGO)
    assert found is not None
    assert "\x1b" not in found.note
