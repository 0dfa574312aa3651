"""The running bridge: one supervisor that owns every task.

Flow: AMI event (bridge.ami), or the dialplan's FastAGI report (agi) ->
decision (bridge.calls) -> text-back plan (bridge.textback) -> store
(bridge.store) -> outbox (bridge.outbox) -> transport (sms_gateway) ->
inbound texts (bridge.inbound) -> owner alerts (bridge.alerts) ->
follow-through (bridge.followup).
The AMI callback only feeds the pure tracker; decisions go through a queue to
the one task that commits them, so the event loop never waits on disk while
reading the socket. A decision is committed before anything acts on it, and on
shutdown the queue is drained into the store before the tasks end.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from agi.server import AgiServer
from bridge.alerts.worker import AlertWorker
from bridge.ami.framer import AmiMessage
from bridge.ami.link import AmiLink, LinkState
from bridge.config import Config
from bridge.conversations.inbound import InboundHandler
from bridge.core.calls import CallDecision, CallReport, OpenCall, Outcome
from bridge.core.numbers import caller_label, display
from bridge.core.safe_text import printable
from bridge.core.texts import History
from bridge.detection.records.rules import decide_cdrs
from bridge.detection.records.sources import (
    CdrSource,
    CdrUnavailable,
    catch_up_start,
    source_from_config,
)
from bridge.detection.tracker import CallTracker, DetectionRules
from bridge.followup.worker import FollowUpWorker
from bridge.ops import health
from bridge.store import Store
from bridge.texting import plan as textback
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from bridge.waiting import woken_or_after
from sms_gateway.base import SmsTransport
from sms_gateway.gsm_modem import GsmModemTransport
from sms_gateway.sip_messages import SipMessageTransport

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DecisionListener = Callable[[CallDecision], None]


# Call records carry whole seconds of the PBX's clock: read a little earlier.
_RECORD_CLOCK_SLACK = timedelta(seconds=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Bridge:
    """Construct, then ``await run()``; cancel the task running it to stop."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        dry_run: bool = False,
        clock: Clock = utc_now,
        on_decision: DecisionListener | None = None,
        expire_every: float = 60.0,
        heartbeat_every: float = health.HEARTBEAT_EVERY,
        store_retry_min: float = 0.5,
        transport: SmsTransport | None = None,
    ):
        self.config = config
        self.store = store
        self.dry_run = dry_run
        self.clock = clock
        self.tracker = CallTracker(DetectionRules.from_config(config))
        self._text_rules = textback.text_policy(config)
        self._beat_now = asyncio.Event()  # a change the heartbeat should show at once
        self.link = AmiLink(
            config.ami, self._on_event, on_connected=self._catch_up, on_state=self._on_link_state
        )
        # Since when events may have been missed: the link went down, or the
        # bridge was not running. None while everything is being seen.
        self._blind_since: datetime | None = None
        self._was_connected = False
        # Texting: the modem (or a given transport) and SIP through Asterisk,
        # the outbox worker, inbound texts.
        available: dict[str, SmsTransport] = {}
        self.sip: SipMessageTransport | None = None
        if not dry_run:
            if transport is None and config.modem is not None:
                transport = GsmModemTransport(config.modem)
            if transport is not None:
                available["modem"] = transport
            if config.sip is not None:
                self.sip = SipMessageTransport(
                    config.sip,
                    self.link,
                    region=config.business.region,
                    default_line=config.lines[0].did,
                    clock=clock,
                )
                available["sip"] = self.sip
        self.transports = Transports.for_config(config, available)
        self.outbox = (
            OutboxWorker(store, self.transports, clock=clock, home=config.business.region)
            if available
            else None
        )
        sms = self.outbox is not None  # owners can be texted too
        self.alerts = AlertWorker(config, store, clock=clock, sms=sms, on_queued=self._wake_workers)
        self.follow_up = FollowUpWorker(
            config, store, clock=clock, sms=sms, on_queued=self._wake_workers
        )
        self.inbound = InboundHandler(
            config, store, clock=clock, on_queued=self._wake_workers, on_urgent=self.alerts.wake
        )
        # Asterisk's own call records: what happened while we could not see.
        self.call_records = source_from_config(config)
        self._records_failing = False
        # The dialplan's reports, decided by the same rules (agi/).
        self.agi = AgiServer(config.agi, self._on_agi_report) if config.agi else None
        # What the recorder commits, in order: decisions, and the state of calls
        # in progress (so a restart can finish them).
        self._decisions: asyncio.Queue[CallDecision | OpenCall] = asyncio.Queue()
        self._on_decision = on_decision
        self._expire_every = expire_every
        self._heartbeat_every = heartbeat_every
        self._store_retry_min = store_retry_min

    async def run(self) -> None:
        log.info(
            "textback bridge starting for %s%s",
            self.config.business.name,
            " (dry run: decisions are recorded; nobody is texted or emailed)"
            if self.dry_run
            else "",
        )
        await self._restore()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.link.run(), name="ami-link")
                tasks.create_task(self._record_decisions(), name="record-decisions")
                tasks.create_task(self._expire_stale_calls(), name="expire-stale-calls")
                tasks.create_task(self._heartbeat(), name="heartbeat")
                if not self.dry_run:  # a dry run contacts nobody: no alerts, reminders, digests
                    tasks.create_task(self.alerts.run(), name="owner-alerts")
                    tasks.create_task(self.follow_up.run(), name="follow-up")
                if self.agi is not None:
                    tasks.create_task(self.agi.run(), name="fastagi")
                for name, transport in self.transports.available.items():
                    tasks.create_task(transport.run(self.inbound), name=f"sms-{name}")
                if self.outbox is not None:
                    tasks.create_task(self.outbox.run(), name="outbox")
        finally:
            log.info("textback bridge stopped")

    async def _restore(self) -> None:
        """Pick up where the last run stopped: the calls it was following, and
        since when it has seen nothing (the first catch-up settles both)."""
        restored = self.tracker.restore(await self.store.open_calls())
        self._blind_since = await self.store.seen_until()
        if restored:
            log.info(
                "%d call(s) were in progress when textback last stopped: settled once AMI is up",
                restored,
            )

    def _on_link_state(self, state: LinkState, detail: str) -> None:
        if state is not LinkState.CONNECTED and self._was_connected and self._blind_since is None:
            self._blind_since = self.clock()  # seen until the link dropped
        self._was_connected = state is LinkState.CONNECTED
        self._beat_now.set()

    async def _heartbeat(self) -> None:
        """For `textback health`: a file, rewritten while the bridge is alive.
        While every event is being seen, the store learns until when."""
        path = health.heartbeat_path(self.config.store.path)
        failing = False
        while True:
            self._beat_now.clear()
            if self.link.is_connected() and self._blind_since is None:
                await self.store.mark_seen(self.clock())
            snapshot = health.Snapshot(
                self.clock(),
                self.link.state.value,
                {n: t.status().connected for n, t in self.transports.available.items()},
            )
            try:
                await asyncio.to_thread(health.write, path, snapshot)
                failing = False
            except OSError as exc:
                if not failing:
                    log.warning("cannot write the heartbeat %s: %s", path, exc)
                failing = True
            await woken_or_after(self._beat_now, self._heartbeat_every)

    def _wake_workers(self) -> None:
        """Something was stored: a text may be waiting. The alert worker is left
        to its own poll (seconds): woken here, it would compete for the store
        with the text the caller is waiting for (measured by bench/latency.py)."""
        if self.outbox is not None:
            self.outbox.wake()

    # ------------------------------------------------------------ AMI side

    def _on_event(self, message: AmiMessage) -> None:
        if self.sip is not None and self.sip.accepts(message):
            self.sip.hand_over(message)  # an inbound text, raised by the dialplan
            return
        decision = self.tracker.feed(message, self.clock())
        for changed in self.tracker.take_changed():
            self._decisions.put_nowait(changed)
        if decision is not None:
            self._decisions.put_nowait(decision)

    def _on_agi_report(self, report: CallReport) -> None:
        """A call the dialplan reported: the store keeps the first decision of
        a Linkedid, so AMI and AGI seeing the same call text it once."""
        self._decisions.put_nowait(self.tracker.decide_report(report, self.clock()))

    async def _catch_up(self, link: AmiLink) -> None:
        """After every login: settle calls that changed while we could not see -
        from what Asterisk still has up, and from its call records."""
        known_before = self.tracker.open_linkedids()
        reply = await link.send_action({"Action": "CoreShowChannels"})
        messages = reply if isinstance(reply, list) else [reply]
        channels = [
            AmiMessage.from_pairs(list(m.items()))
            for m in messages
            if m.get("Event") == "CoreShowChannel"
        ]
        if self._blind_since is not None and self.call_records is not None:
            still_up = {channel.get("Linkedid") for channel in channels}
            await self._catch_up_from_records(self.call_records, self._blind_since, still_up)
        for decision in self.tracker.reconcile(channels, self.clock(), known_before):
            self._decisions.put_nowait(decision)
        for changed in self.tracker.take_changed():
            self._decisions.put_nowait(changed)
        if self._blind_since is not None or link.connections > 1:
            log.info("AMI caught up: %d call(s) in progress", self.tracker.open_calls)
        self._blind_since = None
        self._beat_now.set()  # the store learns at once that we see everything again

    async def _catch_up_from_records(
        self, source: CdrSource, blind_since: datetime, still_up: set[str]
    ) -> None:
        """The calls that ended while we saw nothing, as Asterisk recorded them."""
        assert self.config.cdr is not None
        now = self.clock()
        limit = timedelta(hours=self.config.cdr.max_catch_up_hours)
        start = catch_up_start(blind_since - _RECORD_CLOCK_SLACK, now, limit)
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
                self._decisions.put_nowait(decision)
        if found:
            log.info("%d call(s) ended while textback could not see: read from %s",
                     found, source.describe())  # fmt: skip

    async def _expire_stale_calls(self) -> None:
        while True:
            await asyncio.sleep(self._expire_every)
            for decision in self.tracker.expire(self.clock()):
                self._decisions.put_nowait(decision)

    # ------------------------------------------------------------ store side

    async def _record_decisions(self) -> None:
        in_flight: list[CallDecision | OpenCall] = []
        try:
            while True:
                in_flight = [await self._decisions.get(), *self._waiting()]
                await self._store_in_order(in_flight)
                in_flight = []
        except asyncio.CancelledError:
            # Stopping: what was decided is still committed before we go. A
            # write the cancel cut short was rolled back, so it is written again.
            await asyncio.shield(self._store_in_order([*in_flight, *self._waiting()], once=True))
            raise

    def _waiting(self) -> list[CallDecision | OpenCall]:
        items = []
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                items.append(self._decisions.get_nowait())
        return items

    async def _store_in_order(
        self, items: list[CallDecision | OpenCall], *, once: bool = False
    ) -> None:
        """Decisions one by one; the open calls' states between them one batch
        each (a call's latest state only). ``once``: no retrying (stopping)."""
        batch: dict[str, OpenCall] = {}
        for item in [*items, None]:
            if isinstance(item, OpenCall):
                batch[item.linkedid] = item
                continue
            if batch:
                save = functools.partial(self.store.save_open_calls, list(batch.values()))
                await self._until_stored(save, once)
                batch = {}
            if item is not None:
                record = functools.partial(self._record, item)
                await self._until_stored(record, once, item.linkedid)

    async def _until_stored(
        self, write: Callable[[], Awaitable[None]], once: bool, linkedid: str = ""
    ) -> None:
        """A failed write (disk full, database locked) is kept and retried."""
        delay = self._store_retry_min
        failing = False
        while True:
            what = f"call {linkedid}" if linkedid else "the calls in progress"
            try:
                await write()
            except (sqlite3.Error, OSError) as exc:
                if once:
                    log.error("stopping: %s not stored: %s", what, exc)
                    return
                if not failing:
                    log.error("cannot store %s (will retry): %s", what, exc)
                    failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if failing:
                log.info("the store accepts writes again")
            return

    async def _record(self, decision: CallDecision) -> None:
        now = self.clock()
        history = (
            await self.store.text_history(decision.caller, now)
            if decision.caller and decision.is_missed
            else History()
        )
        can_send = "dry-run" if self.dry_run else None if self.outbox else "no-sms-transport"
        plan = textback.plan(
            self.config, self._text_rules, decision, history, now, can_send=can_send
        )
        is_new = await self.store.record_decision(
            decision, dry_run=self.dry_run, text_skip=plan.skip, text=plan.text
        )
        if not is_new:
            log.debug("call %s was already decided; ignored", decision.linkedid)
            return
        self._wake_workers()
        log.info(
            "%s%s",
            describe(decision, self.config.business.region),
            f"; not texted: {plan.skip}" if plan.skip else "",
        )
        if self._on_decision is not None:
            self._on_decision(decision)


def describe(decision: CallDecision, home: str) -> str:
    """One log line per decision, safe for any terminal."""
    d = decision
    reason = f" ({d.reason.value})" if d.reason else ""
    line = f" to {printable(d.line_name or display(d.line, home))}" if d.line else ""
    who = caller_label(
        d.caller, d.caller_raw, home, withheld=d.withheld,
        desk=d.outcome in (Outcome.INTERNAL, Outcome.OUTBOUND),
    )  # fmt: skip
    call = printable(d.linkedid)
    name = (
        f" {printable(d.caller_name)!s}" if d.caller_name and d.caller_name != "<unknown>" else ""
    )
    detail = printable(d.detail)
    return f"call {call}: {d.outcome.value}{reason} from {who}{name}{line} - {detail}"
