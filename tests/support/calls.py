"""Synthetic call scenarios (bridge.sim.callgen's steps) fed to a tracker step
by step, the clock moved on between steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from bridge.ami.framer import AmiFramer
from bridge.core.calls import CallDecision
from bridge.detection.rules import DetectionRules
from bridge.detection.tracker import CallTracker
from bridge.sim.callbacks import only_classes
from bridge.sim.callgen import BANNER, Pbx

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
LEAST_PRIVILEGE = frozenset({"call", "agent"})  # read = call,agent: no dialplan class


def run_steps(
    rules: DetectionRules,
    scenario: Iterator[None],
    pbx: Pbx,
    step: timedelta,
    privileges: frozenset[str] | None = None,
) -> list[CallDecision]:
    """Each step of the scenario fed ``step`` after the one before."""
    tracker, framer, decisions = CallTracker(rules), AmiFramer(), []
    framer.feed(BANNER)
    now, running = T0, True
    while running:
        try:
            next(scenario)
        except StopIteration:
            running = False
        data = pbx.take()
        if privileges is not None:
            data = only_classes(data, privileges)
        decisions += [d for m in framer.feed(data) if (d := tracker.feed(m, now))]
        now += step
    assert tracker.open_calls == 0
    return decisions


class ShiftedClock:
    """The real time, moved on by what the test advances (a call's talk time)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)
