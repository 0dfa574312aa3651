"""Calls in: AMI events and the dialplan's reports fed to the tracker, and the
catch-up after each login - what Asterisk still has up, and its call records
for what ended while nothing was seen, or for a call seen only in part
(bridge.detection.records.awaiting).

The AMI callback only feeds the pure tracker (no waiting on disk while the
socket is read): decisions, and the state of calls in progress, go to the
recorder's queue (``emit``) in the order they happened. A call's state goes
as it stands once the events read with it are fed - a hang-up is a dozen
events, and the state of a call decided among them is never written at all -
so it is serialised once per read, not once per event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from agi.report import DialplanReport
from bridge.ami import actions
from bridge.ami.framer import AmiMessage
from bridge.ami.link import AmiLink, LinkState
from bridge.core.calls import CallDecision, OpenCall
from bridge.core.safe_text import printable
from bridge.detection.dialplan import AMI_GRACE, HeldReports, call_report
from bridge.detection.records.awaiting import AwaitingRecords, needs_records
from bridge.detection.records.rules import decide_cdrs
from bridge.detection.records.sources import CdrSource, CdrUnavailable, catch_up_start
from bridge.detection.tracker import CallTracker
from bridge.waiting import woken_or_after

log = logging.getLogger(__name__)

Emit = Callable[[CallDecision | OpenCall], None]
# Call records carry whole seconds of the PBX's clock: read a little earlier.
_RECORD_CLOCK_SLACK = timedelta(seconds=5)


class CallIntake:
    def __init__(
        self,
        tracker: CallTracker,
        emit: Emit,
        *,
        clock: Callable[[], datetime],
        records: CdrSource | None = None,
        max_catch_up: timedelta = timedelta(hours=24),
        agi_grace: float = AMI_GRACE,
    ):
        self.tracker = tracker
        self._sink = emit
        self._emit = self._out
        self._held = HeldReports(agi_grace)
        self._held_changed = asyncio.Event()
        self._awaiting = AwaitingRecords()
        self._awaiting_changed = asyncio.Event()
        self._clock = clock
        self.records = records
        self._max_catch_up = max_catch_up
        self._records_failing = False
        # Since when events may have been missed: the link went down, or the
        # bridge was not running. None while everything is being seen.
        self.blind_since: datetime | None = None
        self._was_connected = False
        self.caught_up = asyncio.Event()  # set after each catch-up
        self._changes_due = False  # calls changed, their states not yet emitted

    def restore(self, open_calls: list[OpenCall], seen_until: datetime | None) -> int:
        """Where the last run stopped: the calls it was following, and until
        when it saw everything. The first catch-up settles both."""
        self.blind_since = seen_until
        return self.tracker.restore(open_calls)

    def seeing_everything(self, link: AmiLink) -> bool:
        return link.is_connected() and self.blind_since is None

    # ------------------------------------------------------------ events in

    def on_event(self, message: AmiMessage) -> None:
        decision = self.tracker.feed(message, self._clock())
        if decision is not None:
            self._emit(decision)
        elif not self._changes_due:
            # After the rest of this read is fed (the loop's next turn).
            self._changes_due = True
            asyncio.get_running_loop().call_soon(self._emit_changes)

    def on_report(self, report: DialplanReport) -> None:
        """A call the dialplan reported over FastAGI. While AMI follows the call,
        AMI decides it and the report is held in reserve (bridge.detection.dialplan);
        else the report is decided by the same rules. The store keeps the first
        decision of a Linkedid, so AMI and AGI seeing one call text it once."""
        call = call_report(report)
        if self._was_connected and self.tracker.is_tracking(call.linkedid):
            self._held.hold(call, asyncio.get_running_loop().time())
            self._held_changed.set()
            return
        self._emit(self.tracker.decide_report(call, self._clock()))

    async def settle_reports(self) -> None:
        """Decide the held reports AMI did not back up within its grace."""
        loop = asyncio.get_running_loop()
        while True:
            self._held_changed.clear()
            for report in self._held.due(loop.time()):
                log.warning(
                    "call %s: AMI did not decide it within %.0f s of the dialplan's report;"
                    " decided from the report", printable(report.linkedid), self._held.grace,
                )  # fmt: skip
                self._emit(self.tracker.decide_report(report, self._clock()))
            due = self._held.next_due()
            wait = 3600.0 if due is None else max(0.0, due - loop.time())
            await woken_or_after(self._held_changed, wait)

    def _out(self, item: CallDecision | OpenCall) -> None:
        if isinstance(item, CallDecision):
            self._emit_changes()  # what changed before it goes before it
            if self._held.drop(item.linkedid):
                log.debug("call %s: AMI decided it; the dialplan's report is not needed",
                          item.linkedid)  # fmt: skip
            if self.records is not None and needs_records(item):
                self._awaiting.hold(item, asyncio.get_running_loop().time())
                self._awaiting_changed.set()
                return
        self._sink(item)

    async def settle_from_records_later(self) -> None:
        """Decide the calls seen only in part from their call records, once written."""
        loop = asyncio.get_running_loop()
        while True:
            self._awaiting_changed.clear()
            due_now = self._awaiting.due(loop.time())
            if due_now:
                found = await self._records_of(due_now)  # one read for all that are due
                for held in due_now:
                    decision = self._awaiting.settle(held.linkedid, found.get(held.linkedid))
                    if decision is not None:
                        self._sink(decision)
            due = self._awaiting.next_due()
            wait = 3600.0 if due is None else max(0.0, due - loop.time())
            await woken_or_after(self._awaiting_changed, wait)

    async def _records_of(self, held: list[CallDecision]) -> dict[str, CallDecision]:
        """The call records' decisions of these calls, by Linkedid; those not
        (yet) readable are missing."""
        if self.records is None:
            return {}
        since = min(h.started_at for h in held) - _RECORD_CLOCK_SLACK
        try:
            records = await self.records.since(since)
        except CdrUnavailable as exc:
            log.warning("cannot read the call records for %d call(s): %s", len(held), exc)
            return {}
        wanted = {h.linkedid for h in held}
        return {
            d.linkedid: d for d in decide_cdrs(records, self.tracker.rules) if d.linkedid in wanted
        }

    def on_link_state(self, state: LinkState) -> None:
        if state is not LinkState.CONNECTED and self._was_connected and self.blind_since is None:
            self.blind_since = self._clock()  # seen until the link dropped
            self.tracker.lost_sight()
        self._was_connected = state is LinkState.CONNECTED

    def _emit_changes(self) -> None:
        self._changes_due = False
        for changed in self.tracker.take_changed():
            self._emit(changed)

    # ------------------------------------------------------------ catching up

    async def catch_up(self, link: AmiLink) -> None:
        """After every login: settle calls that changed while we could not see -
        from what Asterisk still has up, and from its call records."""
        known_before = self.tracker.open_linkedids()
        reply = await link.send_action(actions.core_show_channels())
        if not reply.success:
            # Read as before (no channel listed, so open calls are settled as
            # unseen); the operator learns why the catch-up cannot see them.
            log.warning(
                "AMI refused CoreShowChannels (%s): add 'system' to this user's write= in"
                " manager.conf", printable(reply.message) or "no reason given",
            )  # fmt: skip
        channels = [event for event in reply.events if event.event == "CoreShowChannel"]
        if self.blind_since is not None and self.records is not None:
            still_up = {channel.get("Linkedid") for channel in channels}
            await self._from_records(self.records, self.blind_since, still_up)
        for decision in self.tracker.reconcile(channels, self._clock(), known_before):
            self._emit(decision)
        self._emit_changes()
        if self.blind_since is not None or link.connections > 1:
            log.info("AMI caught up: %d call(s) in progress", self.tracker.open_calls)
        self.blind_since = None
        self.caught_up.set()

    async def _from_records(
        self, source: CdrSource, blind_since: datetime, still_up: set[str]
    ) -> None:
        """The calls that ended while we saw nothing, as Asterisk recorded them."""
        now = self._clock()
        start = catch_up_start(blind_since - _RECORD_CLOCK_SLACK, now, self._max_catch_up)
        if start is None:
            return
        try:
            records = await source.since(start)
        except CdrUnavailable as exc:
            if not self._records_failing:
                log.warning("cannot catch up from the call records: %s", exc)
            self._records_failing = True
            return
        if self._records_failing:
            log.info("reading the call records again (%s)", source.describe())
        self._records_failing = False
        found = 0
        for from_records in decide_cdrs(records, self.tracker.rules):
            if from_records.linkedid in still_up:
                continue  # still going: AMI follows it from here
            decision = self.tracker.settle_from_records(from_records, now)
            if decision is not None:
                found += 1
                self._emit(decision)
        if found:
            log.info("%d call(s) ended while textback could not see: read from %s",
                     found, source.describe())  # fmt: skip

    async def keep_watermark(
        self,
        link: AmiLink,
        mark_seen: Callable[[datetime], Awaitable[None]],
        every: float,
    ) -> None:
        """While every event is being seen, the store learns until when: the
        next run's catch-up reads the call records from there."""
        while True:
            self.caught_up.clear()
            if self.seeing_everything(link):
                # Not past a call still waiting for its records: after a crash the
                # next run's catch-up must read that call's records too.
                waiting = self._awaiting.oldest_end()
                now = self._clock()
                await mark_seen(now if waiting is None else min(now, waiting))
            await woken_or_after(self.caught_up, every)

    async def expire_stale(self, every: float) -> None:
        """Close calls that sent nothing for longer than any real call lasts."""
        while True:
            await asyncio.sleep(every)
            for decision in self.tracker.expire(self._clock()):
                self._emit(decision)
