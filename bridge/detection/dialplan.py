"""The dialplan's own report of a call (FastAGI, agi/), as detection takes it.

The h extension runs just before the caller's Hangup reaches AMI, so when AMI
is following the call its view - fuller: queue members, IVRs, follow-me - must
win. A report of such a call is held a moment and dropped if AMI decides the
call meanwhile; only a report AMI cannot back up is decided from the report.
"""

from __future__ import annotations

from agi.report import DialplanReport
from bridge.core.calls import CallReport

# How long AMI's decision may trail the dialplan's report of the same call.
AMI_GRACE = 3.0  # seconds


class HeldReports:
    """Reports of calls AMI is still following, each until its moment is up."""

    def __init__(self, grace: float = AMI_GRACE):
        self.grace = grace
        self._held: dict[str, tuple[CallReport, float]] = {}

    def hold(self, report: CallReport, now: float) -> None:
        self._held[report.linkedid] = (report, now + self.grace)

    def drop(self, linkedid: str) -> bool:
        """AMI decided the call: its report is not needed. Whether one was held."""
        return self._held.pop(linkedid, None) is not None

    def due(self, now: float) -> list[CallReport]:
        """The reports AMI did not back up in time, no longer held."""
        late = [linkedid for linkedid, (_, at) in self._held.items() if at <= now]
        return [self._held.pop(linkedid)[0] for linkedid in late]

    def next_due(self) -> float | None:
        return min((at for _, at in self._held.values()), default=None)


def call_report(report: DialplanReport) -> CallReport:
    """The dialplan's report as agi/ knows it, as detection decides it."""
    answered = report.answered_time.strip() not in ("", "0") or report.dial_status == "ANSWER"
    return CallReport(
        linkedid=report.linkedid,
        channel=report.channel,
        context=report.context,
        exten=report.exten,
        caller_raw=report.caller_raw,
        caller_name=report.caller_name,
        did=report.did,
        dial_status=report.dial_status,
        vm_status=report.vm_status,
        vm_message_file=report.vm_message_file,
        queue_status=report.queue_status,
        answered_by=report.member or (report.dialed_peer or "a phone" if answered else ""),
        queue_abandoned=report.abandoned.strip().upper() == "TRUE",
        pbx_answered=report.channel_state.strip().lower() == "up",
    )
