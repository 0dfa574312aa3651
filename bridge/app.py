"""The composition root: the running bridge built from its config.

The only module that knows every stage. Flow: AMI events and the dialplan's
FastAGI reports (bridge.detection.intake) -> decisions committed with their
text-back (bridge.detection.recorder, texting's plan) -> the outbox
(bridge.texting.outbox) -> a transport (sms_gateway) -> incoming texts
(bridge.conversations) -> owner alerts (bridge.alerts) -> follow-through
(bridge.followup). The stages talk through the store and the event bus
(bridge.bus), wired here once; one supervisor (bridge.supervisor) owns every
task.
"""

from __future__ import annotations

import functools
import logging
import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agi.server import AgiServer
from bridge.alerts import batch as alert_batch
from bridge.alerts.wording import OwnerWording
from bridge.alerts.worker import AlertWorker
from bridge.ami.framer import AmiMessage
from bridge.ami.link import AmiLink, LinkState
from bridge.ami.messaging import MessageSendActions
from bridge.app_settings import agi_settings, modem_settings, sip_settings
from bridge.bus import Bus
from bridge.config import Channel, Config
from bridge.conversations.inbound import InboundHandler
from bridge.core.callbacks import thread_link
from bridge.core.calls import CallDecision, describe
from bridge.core.events import (
    CallDecided,
    JobChanged,
    LinkChanged,
    ReplyStored,
    TextQueued,
    TransportChanged,
)
from bridge.core.numbers import to_e164
from bridge.core.texts import History, OutgoingText
from bridge.detection.dialplan import AMI_GRACE
from bridge.detection.intake import CallIntake
from bridge.detection.recorder import DecisionRecorder
from bridge.detection.records.sources import source_from_config
from bridge.detection.rules import DetectionRules
from bridge.detection.tracker import CallTracker
from bridge.followup.click_to_call import ClickToCall
from bridge.followup.worker import FollowUpWorker
from bridge.ops import health
from bridge.ops.heartbeat import Heartbeat
from bridge.ops.metrics import FleetMetrics, MetricsServer
from bridge.ops.patience import patient
from bridge.ops.retention import Pruner
from bridge.store import FollowUpStore, Store
from bridge.supervisor import JobStatus, Supervisor
from bridge.texting import plan
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from bridge.web.security import load_or_make_secret, secret_path
from bridge.web.server import InboxServer
from bridge.web.state import CallBack, InboxDeps
from sms_gateway.base import SmsTransport
from sms_gateway.gsm_modem import GsmModemTransport
from sms_gateway.sip_messages import SipMessageTransport

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DecisionListener = Callable[[CallDecision], None]
# Stopped in this order: nothing new comes in, what was decided is committed,
# the outbox finishes the text it is sending, then the transports close.
STOP_ORDER = ("intake", "record", "send", "transports", "owners", "ops")
# Refused logins, before the link was ever up, after which `run` gives up
# (exit code 4): a wrong secret does not fix itself.
REFUSALS_BEFORE_GIVING_UP = 5


def utc_now() -> datetime:
    return datetime.now(UTC)


def follow_up_worker(
    config: Config,
    store: FollowUpStore,
    *,
    clock: Clock,
    bus: Bus,
    channels: frozenset[Channel],
    poll_every: float = 30.0,
) -> FollowUpWorker:
    """Follow-up with the alerts stage's words and texting's nudge text handed in."""
    template = config.follow_up.nudge.template

    def nudge_text(line: str | None) -> str:
        return plan.fill(config, template, line, first_text=False)

    return FollowUpWorker(
        config, store, clock=clock, bus=bus, channels=channels,
        wording=OwnerWording(config, channels), nudge_text=nudge_text, poll_every=poll_every,
    )  # fmt: skip


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
        restart_min: float = 1.0,
        agi_grace: float = AMI_GRACE,
        call_back: CallBack | None = None,
    ):
        self.config = config
        self.store = store
        self.dry_run = dry_run
        self.clock = clock
        self.bus = Bus()
        self._build_detection(store_retry_min, agi_grace)
        self._build_texting(transport)
        channels = self._channels()
        self.alerts = AlertWorker(config, store, clock=clock, bus=self.bus, channels=channels)
        self.follow_up = follow_up_worker(
            config, store, clock=clock, bus=self.bus, channels=channels
        )
        # Click-to-call (CALL 12, the inbox's button): (thread id, owner id) -> words.
        self.click_to_call = ClickToCall(
            config, store, self.link, clock=clock, bus=self.bus, enabled=not dry_run
        )
        self.call_back = self.click_to_call.call_back
        self.inbound = InboundHandler(
            config, store, clock=clock, bus=self.bus, call_back=self.call_back
        )
        self.heartbeat = Heartbeat(
            health.heartbeat_file(config.store), self._snapshot, every=heartbeat_every
        )
        self.metrics = self._build_metrics()
        keep = config.store.keep_days
        self.pruner = None if keep is None else Pruner(store, keep, clock=clock)
        self.supervisor = Supervisor(
            stop_order=STOP_ORDER, on_change=self._job_changed, restart_min=restart_min
        )
        # The inbox's Call button is click-to-call unless a test hands in its own.
        web_call = call_back or self.call_back
        self.web = self._build_web(web_call) if config.web is not None else None
        self._wire(on_decision)
        self._add_jobs(expire_every, heartbeat_every)

    # ------------------------------------------------------------ building

    def _build_detection(self, store_retry_min: float, agi_grace: float) -> None:
        config = self.config
        self.tracker = CallTracker(DetectionRules.from_config(config))
        self.recorder = DecisionRecorder(
            self.store,
            self._planner(),
            self.bus,
            clock=self.clock,
            describe=lambda decision: describe(decision, config.business.region),
            dry_run=self.dry_run,
            retry_min=store_retry_min,
            link=functools.partial(
                thread_link,
                min_talk_seconds=config.follow_up.callback_min_talk_seconds,
                zone=zoneinfo.ZoneInfo(config.business.timezone),
            ),
            hold=config.store.hold,
            # The heartbeat is built after detection: looked up when the store goes or comes.
            on_state=lambda: self.heartbeat.beat_soon(),
        )
        records = source_from_config(config)
        limit = timedelta(hours=config.cdr.max_catch_up_hours) if config.cdr else timedelta(0)
        self.intake = CallIntake(
            self.tracker, self.recorder.put, clock=self.clock, records=records,
            max_catch_up=limit, agi_grace=agi_grace,
        )  # fmt: skip
        self.link = AmiLink(
            config.ami,
            self._on_ami_event,
            on_connected=self.intake.catch_up,
            on_state=self._link_changed,
            refusals_before_giving_up=REFUSALS_BEFORE_GIVING_UP,
        )
        # The dialplan's reports, decided by the same rules (agi/).
        self.agi = (
            AgiServer(agi_settings(config.agi), self.intake.on_report) if config.agi else None
        )

    def _build_texting(self, transport: SmsTransport | None) -> None:
        """The modem (or a given transport) and SIP through Asterisk; none in a dry run."""
        config = self.config
        available: dict[str, SmsTransport] = {}
        self.sip: SipMessageTransport | None = None
        if not self.dry_run:
            if transport is None and config.modem is not None:
                transport = GsmModemTransport(modem_settings(config.modem))
            if transport is not None:
                available["modem"] = transport
            if config.sip is not None:
                self.sip = SipMessageTransport(
                    sip_settings(config.sip),
                    MessageSendActions(self.link),
                    normalise=functools.partial(to_e164, region=config.business.region),
                    default_line=config.lines[0].did,
                    clock=self.clock,
                )
                available["sip"] = self.sip
        self.transports = Transports.for_config(config, available)
        self.outbox = (
            OutboxWorker(
                self.store,
                self.transports,
                clock=self.clock,
                home=config.business.region,
                bus=self.bus,
                batch=functools.partial(alert_batch.batch, config),
            )
            if available
            else None
        )

    def _build_web(self, call_back: CallBack | None) -> InboxServer:
        """The owner inbox, on the same store and bus, with texting's way of
        filling a template and the same health facts as `textback health`."""
        config, store = self.config, self.store
        assert config.web is not None
        given = config.web.session_secret
        secret = (
            given.get_secret_value().encode()
            if given is not None
            else load_or_make_secret(secret_path(store.path))
        )
        transports = self.transports.available

        def fill(template: str, line: str | None) -> str:
            return plan.fill(config, template, line, first_text=False)

        deps = InboxDeps(
            config, store, self.clock, secret, snapshot=self._snapshot,
            transports=lambda: [t.status() for t in transports.values()],
            backlog=lambda: store.outbox_backlog(self.clock()), fill=fill, call_back=call_back,
        )  # fmt: skip
        return InboxServer(deps, self.bus)

    def _build_metrics(self) -> MetricsServer | None:
        """The /metrics endpoint, when configured: counts from the bus, levels
        (the link, the transports, the backlog) read at each scrape."""
        settings = self.config.metrics
        if settings is None:
            return None
        transports = self.transports.available
        fleet = FleetMetrics(
            business=self.config.business.name,
            store=self.store,
            clock=self.clock,
            ami_state=lambda: self.link.state.value,
            transports=lambda: [t.status() for t in transports.values()],
            held=lambda: self.recorder.held,
        )
        return MetricsServer(fleet, settings.host, settings.port)

    def _channels(self) -> frozenset[Channel]:
        """How owners can be reached at all: email with smtp, sms with a transport."""
        email: set[Channel] = {"email"} if self.config.smtp is not None else set()
        sms: set[Channel] = {"sms"} if self.outbox is not None else set()
        return frozenset(email | sms)

    def _planner(
        self,
    ) -> Callable[[CallDecision, History, datetime], tuple[OutgoingText | None, str | None]]:
        rules = plan.text_policy(self.config)
        config, dry_run = self.config, self.dry_run

        def planned(
            decision: CallDecision, history: History, now: datetime
        ) -> tuple[OutgoingText | None, str | None]:
            can_send = "dry-run" if dry_run else None if self.outbox else "no-sms-transport"
            result = plan.plan(config, rules, decision, history, now, can_send=can_send)
            return result.text, result.skip

        return planned

    def _wire(self, on_decision: DecisionListener | None) -> None:
        bus = self.bus
        if self.outbox is not None:
            outbox = self.outbox
            bus.subscribe(TextQueued, lambda _: outbox.wake())
        # An urgent reply pages whoever is on call at once; other news waits
        # for the alert worker's own poll (seconds), so it never competes for
        # the store with the text a caller is waiting for (bench/latency.py).
        bus.subscribe(ReplyStored, lambda e: self.alerts.wake() if e.urgent else None)
        for kind in (LinkChanged, TransportChanged, JobChanged):
            bus.subscribe(kind, lambda _: self.heartbeat.beat_soon())
        if on_decision is not None:
            bus.subscribe(CallDecided, lambda e: on_decision(e.decision))
        if self.metrics is not None:
            self.metrics.metrics.listen(bus)
        for name, transport in self.transports.available.items():
            transport.on_state = self._transport_changed(name)

    def _add_jobs(self, expire_every: float, heartbeat_every: float) -> None:
        """In start order: intake first, then what acts on it. An auxiliary job
        waits out an unreachable store (bridge.ops.patience)."""

        def add(name: str, run: Callable[[], Awaitable[None]], **how: Any) -> None:
            if not how["core"]:
                run = patient(name, run, self.bus)
            self.supervisor.add(name, run, **how)

        add("ami-link", self.link.run, core=True, group="intake")
        if self.agi is not None:
            add("fastagi", self.agi.run, core=False, group="intake")
            add("dialplan-reports", self.intake.settle_reports, core=False, group="intake")
        if self.web is not None:  # owners' actions come in here too: stopped with intake
            add("web", self.web.run, core=False, group="intake")
        add("expire-stale-calls", lambda: self.intake.expire_stale(expire_every),
            core=False, group="intake")  # fmt: skip
        if self.intake.records is not None:
            add("calls-seen-in-part", self.intake.settle_from_records_later, core=False,
                group="intake")  # fmt: skip
        add("recorder", self.recorder.run, core=True, group="record")
        if self.outbox is not None:
            add("outbox", self.outbox.run, core=False, group="send", stop=self.outbox.stop,
                grace=10.0)  # fmt: skip
        for name, transport in self.transports.available.items():
            run = functools.partial(transport.run, self.inbound)
            add(f"sms-{name}", run, core=False, group="transports")
        if not self.dry_run:  # a dry run contacts nobody: no alerts, reminders, digests
            add("owner-alerts", self.alerts.run, core=False, group="owners")
            add("follow-up", self.follow_up.run, core=False, group="owners")
            add("click-to-call", self.click_to_call.run, core=False, group="owners")
        add("heartbeat", self.heartbeat.run, core=False, group="ops")
        if self.metrics is not None:
            add("metrics", self.metrics.run, core=False, group="ops")
        if self.pruner is not None:
            add("prune", self.pruner.run, core=False, group="ops")
        add("watermark", lambda: self.intake.keep_watermark(
            self.link, self.store.mark_seen, heartbeat_every), core=False, group="ops")  # fmt: skip

    # ------------------------------------------------------------ running

    async def run(self) -> None:
        """Until cancelled; raises CoreFailure if AMI intake or the recorder fails."""
        log.info(
            "textback bridge starting for %s%s",
            self.config.business.name,
            " (dry run: decisions are recorded; nobody is texted or emailed)"
            if self.dry_run
            else "",
        )
        restored = self.intake.restore(await self.store.open_calls(), await self.store.seen_until())
        if restored:
            log.info(
                "%d call(s) were in progress when textback last stopped: settled once AMI is up",
                restored,
            )
        try:
            await self.supervisor.run()
        finally:
            log.info("textback bridge stopped")

    def _on_ami_event(self, message: AmiMessage) -> None:
        # An inbound SIP text comes as a UserEvent the shipped dialplan raises;
        # everything else is about calls. The transport takes plain headers.
        if self.sip is not None and message.event == "UserEvent":
            headers = message.as_dict()
            if self.sip.accepts(headers):
                self.sip.hand_over(headers)
                return
        self.intake.on_event(message)

    def _link_changed(self, state: LinkState, detail: str) -> None:
        self.intake.on_link_state(state)
        self.bus.publish(LinkChanged(state.value, detail))

    def _transport_changed(self, name: str) -> Callable[[bool, str], None]:
        return lambda connected, detail: self.bus.publish(TransportChanged(name, connected, detail))

    def _job_changed(self, status: JobStatus) -> None:
        self.bus.publish(
            JobChanged(status.name, status.state.value, status.restarts, status.last_error)
        )

    def _snapshot(self) -> health.Snapshot:
        return health.Snapshot(
            self.clock(),
            self.link.state.value,
            {name: t.status().connected for name, t in self.transports.available.items()},
            {job.name: job.last_error for job in self.supervisor.degraded()},
            self.recorder.away_since,
            self.recorder.held,
        )
