"""Calls that only their call records can decide, waiting for those records.

A call first seen after a gap (a restart, a dropped AMI link) already
answered, with no answer seen, then seen ending: a person may have talked
to the caller while nothing was seen, or only an IVR answered. AMI's view
says ``unknown`` (never texted); when Asterisk's call records are readable,
they say which - so the decision waits for them a little, as Asterisk writes
a call's record when it ends. No record in time: the unknown decision stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bridge.core.calls import CallDecision, Outcome, Reason

# Seconds after the hang-up at which the records are read for the call.
READ_AFTER = (2.0, 10.0, 30.0)


def needs_records(decision: CallDecision) -> bool:
    return decision.outcome is Outcome.UNKNOWN and decision.reason is Reason.ANSWER_UNSEEN


@dataclass
class _Waiting:
    decision: CallDecision
    since: float  # the loop's clock when it was held
    reads: int = 0  # how many times the records were read for it


class AwaitingRecords:
    """The decisions held for their records, and when to read them next; no I/O."""

    def __init__(self, read_after: Sequence[float] = READ_AFTER):
        self._read_after = tuple(read_after)
        self._waiting: dict[str, _Waiting] = {}

    def hold(self, decision: CallDecision, now: float) -> None:
        self._waiting[decision.linkedid] = _Waiting(decision, now)

    def due(self, now: float) -> list[CallDecision]:
        """The held decisions whose records are to be read now."""
        return [w.decision for w in self._waiting.values() if self._next(w) <= now]

    def next_due(self) -> float | None:
        return min((self._next(w) for w in self._waiting.values()), default=None)

    def settle(self, linkedid: str, from_records: CallDecision | None) -> CallDecision | None:
        """What the records said of a held call (None: nothing yet). Returns
        the decision to record now: the records', or, after the last read,
        the unknown one; None while it waits for another read."""
        waiting = self._waiting[linkedid]
        waiting.reads += 1
        if from_records is None and waiting.reads < len(self._read_after):
            return None
        del self._waiting[linkedid]
        if from_records is None:
            return waiting.decision
        held = waiting.decision
        detail = f"{from_records.detail}; textback saw only part of it"
        return replace(from_records, started_at=held.started_at, detail=detail)

    def oldest_end(self) -> datetime | None:
        """The earliest end of a held call: everything before it has been recorded."""
        return min((w.decision.ended_at for w in self._waiting.values()), default=None)

    def __len__(self) -> int:
        return len(self._waiting)

    def _next(self, waiting: _Waiting) -> float:
        return waiting.since + self._read_after[min(waiting.reads, len(self._read_after) - 1)]
