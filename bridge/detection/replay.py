"""Run a recorded AMI stream through the same framer and decision code as the
live bridge, with no network: what ``textback replay`` prints.

The recording is streamed in chunks, never read whole, and what is not AMI is
stopped early: a start with no banner and no message in ``START_WINDOW`` bytes
(a photo, a text file, /dev/zero), or ``SILENT_WINDOW`` bytes later on with no
message at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bridge.ami.framer import AmiFramer, AmiMessage, FrameError
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.detection.rules import DetectionRules
from bridge.detection.tracker import CallTracker

START_WINDOW = 64 * 1024  # a capture starts with the banner; a bare stream with a message
SILENT_WINDOW = 1024 * 1024  # far more than any real message (the framer caps them at 64 KiB)
KEPT_ERRORS = 20  # skipped messages listed; the rest are counted


@dataclass
class ReplayResult:
    decisions: list[CallDecision] = field(default_factory=list)
    errors: list[FrameError] = field(default_factory=list)  # the first KEPT_ERRORS
    skipped: int = 0  # every message skipped, listed or not
    banner: str | None = None
    messages: int = 0
    # Where reading stopped because the bytes were not AMI (0: they never were).
    not_ami_from: int | None = None


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


def replay(chunks: Iterable[bytes], rules: DetectionRules) -> ReplayResult:
    """Decide every call in the stream; calls still open at the end are ``unknown``."""
    result = ReplayResult()
    framer = AmiFramer()
    tracker = CallTracker(rules)
    clock = EvidenceClock()
    read = last_message_at = 0
    for chunk in chunks:
        read += len(chunk)
        for message in framer.feed(chunk):
            result.messages += 1
            last_message_at = read
            decision = tracker.feed(message, clock.observe(message))
            if decision is not None:
                result.decisions.append(decision)
        _keep_errors(result, framer)
        if _not_ami(result, framer, read, last_message_at, START_WINDOW):
            break
    else:
        framer.close()
        _keep_errors(result, framer)
        _not_ami(result, framer, read, last_message_at, 0)
    if result.not_ami_from != 0:
        result.decisions.extend(
            tracker.close_all(clock.now, Reason.TRACE_ENDED, "the recording ended during the call")
        )
    result.banner = framer.banner
    return result


def calls_back(decisions: Iterable[CallDecision]) -> dict[str, str]:
    """Outbound call -> the missed call it answers: the latest earlier call in
    the same recording, missed (or maybe missed) from the number it dialled."""
    answers: dict[str, str] = {}
    missed: dict[str, CallDecision] = {}  # number -> its latest missed call so far
    for d in sorted(decisions, key=lambda d: d.started_at):
        if d.outcome in (Outcome.MISSED, Outcome.UNKNOWN) and d.caller is not None:
            missed[d.caller] = d
        elif d.outcome is Outcome.OUTBOUND and d.callee is not None:
            earlier = missed.get(d.callee)
            if earlier is not None and earlier.started_at <= d.started_at:
                answers[d.linkedid] = earlier.linkedid
    return answers


def _not_ami(
    result: ReplayResult, framer: AmiFramer, read: int, last_message_at: int, start_window: int
) -> bool:
    """Record where the bytes stopped being AMI, if they did."""
    if result.messages == 0 and framer.banner is None and read >= start_window:
        result.not_ami_from = 0
    elif read - last_message_at > SILENT_WINDOW:
        result.not_ami_from = last_message_at
    return result.not_ami_from is not None


def _keep_errors(result: ReplayResult, framer: AmiFramer) -> None:
    """Count every skipped message, keep the first few: garbage must not fill memory."""
    errors = framer.take_errors()
    result.skipped += len(errors)
    result.errors.extend(errors[: max(0, KEPT_ERRORS - len(result.errors))])
