"""Calls seen only in part wait for their call records: the records decide,
or, when none come, the unknown decision stands (no I/O, the loop's clock given)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.detection.records.awaiting import AwaitingRecords, needs_records

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SEEN = CallDecision(
    linkedid="1764082800.1",
    outcome=Outcome.UNKNOWN,
    reason=Reason.ANSWER_UNSEEN,
    caller="+15125559876",
    caller_raw="5125559876",
    caller_name="Jane Caller",
    line="+15125550100",
    line_name="Main line",
    started_at=T0,
    ended_at=T0 + timedelta(seconds=40),
    detail="it was answered while textback could not see it; a person may have taken it",
)
ANSWERED = replace(
    SEEN, outcome=Outcome.ANSWERED, reason=None,
    detail="answered by PJSIP/201 (from the call records)",
    started_at=T0 + timedelta(seconds=1), source="cdr",
)  # fmt: skip


def test_only_a_call_answered_unseen_waits_for_its_records() -> None:
    assert needs_records(SEEN)
    assert not needs_records(replace(SEEN, reason=Reason.LINK_LOST))
    assert not needs_records(replace(SEEN, outcome=Outcome.MISSED, reason=Reason.NOANSWER))


def test_the_records_decide_a_call_seen_only_in_part() -> None:
    awaiting = AwaitingRecords(read_after=(2.0, 10.0))
    awaiting.hold(SEEN, now=100.0)
    assert awaiting.due(101.0) == []
    assert awaiting.next_due() == 102.0
    assert awaiting.oldest_end() == SEEN.ended_at  # the watermark stays before it
    (due,) = awaiting.due(102.0)
    decided = awaiting.settle(due.linkedid, ANSWERED)
    assert decided is not None
    assert decided.outcome is Outcome.ANSWERED
    assert decided.started_at == T0  # when textback first saw it ring
    assert "from the call records" in decided.detail
    assert len(awaiting) == 0
    assert awaiting.oldest_end() is None


def test_without_records_in_time_the_unknown_decision_stands() -> None:
    awaiting = AwaitingRecords(read_after=(2.0, 10.0))
    awaiting.hold(SEEN, now=100.0)
    assert awaiting.settle(SEEN.linkedid, None) is None  # not written yet: read again
    assert awaiting.next_due() == 110.0
    assert awaiting.settle(SEEN.linkedid, None) == SEEN  # the last read: unknown
    assert len(awaiting) == 0
