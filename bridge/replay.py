"""Run a recorded AMI stream through the same framer and decision code as the
live bridge, with no network: what ``textback replay`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bridge.ami_framer import AmiFramer, AmiMessage, FrameError
from bridge.calls import CallDecision, CallTracker, DetectionRules, Reason


@dataclass
class ReplayResult:
    decisions: list[CallDecision] = field(default_factory=list)
    errors: list[FrameError] = field(default_factory=list)
    banner: str | None = None
    messages: int = 0


class EvidenceClock:
    """Time as the recording shows it.

    A recording has no wall clock, but ``Timestamp`` headers (manager.conf
    ``timestampevents = yes``) and every channel's ``Uniqueid`` (the epoch
    second it was created) say when things happened; time never goes back.
    """

    def __init__(self) -> None:
        self.now = datetime.fromtimestamp(0, UTC)

    def observe(self, message: AmiMessage) -> datetime:
        for key in ("Timestamp", "Uniqueid", "DestUniqueid"):
            value = message.get(key)
            if value:
                try:
                    seen = datetime.fromtimestamp(float(value), UTC)
                except (ValueError, OverflowError, OSError):
                    continue
                if seen > self.now:
                    self.now = seen
        return self.now


def replay(data: bytes, rules: DetectionRules, chunk_size: int = 65536) -> ReplayResult:
    """Decide every call in ``data``; calls still open at the end are ``unknown``."""
    result = ReplayResult()
    framer = AmiFramer()
    tracker = CallTracker(rules)
    clock = EvidenceClock()
    for start in range(0, len(data), chunk_size):
        for message in framer.feed(data[start : start + chunk_size]):
            result.messages += 1
            decision = tracker.feed(message, clock.observe(message))
            if decision is not None:
                result.decisions.append(decision)
    framer.close()
    result.decisions.extend(
        tracker.close_all(clock.now, Reason.TRACE_ENDED, "the recording ended during the call")
    )
    result.errors = framer.take_errors()
    result.banner = framer.banner
    return result
