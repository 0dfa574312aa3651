"""What the recorder hands the store with a run of decisions, and gets back
(RecorderStore.record_in_order): the store commits the whole run at once,
planning each decision's text-back from the number's history as the
decisions before it left it - exactly what storing them one by one would."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bridge.core.callbacks import ThreadLink
from bridge.core.calls import CallDecision
from bridge.core.texts import History, OutgoingText

# A number's texting history, read where the store is (inside its transaction).
HistoryOf = Callable[[str], History]


@dataclass(frozen=True, slots=True)
class Planned:
    """What a decision calls for: its text-back (or None, and why not), and
    what it does to its number's open thread (a call-back, the caller reached)."""

    text: OutgoingText | None = None
    skip: str | None = None
    link: ThreadLink | None = None


# What a decision calls for, given how to read its number's history. Pure and
# quick: the store runs it inside its transaction (SQLite: on its thread).
Plan = Callable[[CallDecision, HistoryOf], Planned]


@dataclass(frozen=True, slots=True)
class Recorded:
    decision: CallDecision
    new: bool  # False: this Linkedid was decided before, and nothing was written
    planned: Planned
