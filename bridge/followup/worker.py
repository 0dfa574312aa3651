"""Follow-through: no lead goes cold unnoticed.

From the store's timestamps and the injected clock, every tick reads the open
threads with a timer due (:func:`due_timers`: the store reads them from an
index of those moments, so the tick's work and memory follow what is due, not
every open thread) and decides per thread (pure: :func:`next_step`,
:func:`nudge_due`, :func:`in_daytime`):

- nobody moved for a while (the homeowner has not answered the text, or no
  owner acted on their reply): one reminder to the owners - a call-back task;
- still nothing after the reminder: the thread is marked cold;
- optionally, one nudge text to a homeowner who went quiet, only in their
  daytime and never past 3 texts a day;
- once a day, each owner's digest email.

Each change is conditional on the thread being as it was read, in the same
transaction as what it queues, so a restart neither loses nor repeats one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

from bridge.bus import Bus
from bridge.config import Channel, Config, FollowUpConfig, OwnerConfig
from bridge.core import templates
from bridge.core.alerts import AlertDraft
from bridge.core.events import TextQueued
from bridge.core.ledger import LeadState
from bridge.core.numbers import display
from bridge.core.texts import Cap, OutgoingText
from bridge.core.threads import DueTimers, FollowUpState, ThreadSummary
from bridge.store import FollowUpStore
from bridge.waiting import woken_or_after

log = logging.getLogger(__name__)

NUDGE_HOURS = (time(8, 0), time(20, 0))  # in the homeowner's own time zone
# At most 3 texts of any kind to one number in 24 hours, nudge included.
DAILY_CAP = Cap(3, timedelta(hours=24), any_kind=True)
NUDGE_WINDOW = timedelta(hours=24)  # how long after it is due a nudge may still go


def next_step(
    state: FollowUpState, now: datetime, rules: FollowUpConfig
) -> Literal["remind", "cold"] | None:
    if state.reminded_at is None:
        minutes = (
            rules.action_wait_minutes if state.status == "replied" else rules.reply_wait_minutes
        )
        return "remind" if now - state.waiting_since >= timedelta(minutes=minutes) else None
    if now - state.reminded_at >= timedelta(hours=rules.cold_after_hours):
        return "cold"
    return None


def due_timers(now: datetime, rules: FollowUpConfig) -> DueTimers:
    """The moments at or before which a thread's timer is due, as of ``now``:
    every thread :func:`next_step` or :func:`nudge_due` acts on is read, and
    only those."""
    nudge = None
    if rules.nudge.enabled:
        due = now - timedelta(hours=rules.nudge.after_hours)
        nudge = (due - NUDGE_WINDOW, due)
    return DueTimers(
        reply_wait_from=now - timedelta(minutes=rules.reply_wait_minutes),
        action_wait_from=now - timedelta(minutes=rules.action_wait_minutes),
        cold_from=now - timedelta(hours=rules.cold_after_hours),
        nudge_between=nudge,
    )


def nudge_due(state: FollowUpState, now: datetime, rules: FollowUpConfig) -> bool:
    """After ``after_hours`` of silence - but not a day past that (a bridge
    that was down for days does not nudge week-old leads)."""
    silent = now - state.waiting_since
    due = timedelta(hours=rules.nudge.after_hours)
    return (
        rules.nudge.enabled
        and state.status == "awaiting_reply"
        and state.nudged_at is None
        and due <= silent < due + NUDGE_WINDOW
    )


def in_daytime(number: str, now: datetime, fallback_zone: str) -> bool:
    """8 am to 8 pm where the homeowner is - in every zone their number may be in."""
    return all(
        NUDGE_HOURS[0] <= now.astimezone(zone).time() < NUDGE_HOURS[1]
        for zone in zones_of(number, fallback_zone)
    )


def zones_of(number: str, fallback_zone: str) -> list[ZoneInfo]:
    """The time zones a number's area code covers (phonenumbers' geodata)."""
    try:
        names = number_zones.time_zones_for_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        names = ()
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue  # "Etc/Unknown"
    return zones or [ZoneInfo(fallback_zone)]


class FollowUpWording(Protocol):
    """The words of what follow-up sends owners - the alerts stage's, handed in
    by the app (bridge.alerts.wording.OwnerWording)."""

    domain: str  # of the alert emails' Message-IDs

    def reminder(self, thread: ThreadSummary, since: str, now: datetime) -> list[AlertDraft]: ...

    def digest(
        self,
        owner: OwnerConfig,
        day: date,
        open_threads: Sequence[ThreadSummary],
        handled: Sequence[ThreadSummary],
        ledger: Mapping[int, LeadState] | None = None,
    ) -> AlertDraft | None:
        """``handled``: yesterday's; ``ledger``: the recovery ledger's state of those
        that have one (which were recovered, which lost, what each was worth)."""
        ...


# The nudge's words for a thread's line - texting's template filling, handed in.
NudgeText = Callable[[str | None], str]


class FollowUpWorker:
    def __init__(
        self,
        config: Config,
        store: FollowUpStore,
        *,
        clock: Callable[[], datetime],
        bus: Bus,
        channels: frozenset[Channel],
        wording: FollowUpWording,
        nudge_text: NudgeText,
        poll_every: float = 30.0,
    ):
        self.config = config
        self.store = store
        self.clock = clock
        self.channels = channels  # which of email and sms exist
        self._bus = bus
        self._wording = wording
        self._nudge_text = nudge_text
        self._poll_every = poll_every
        self._wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self.tick()
            await woken_or_after(self._wake, self._poll_every)

    async def tick(self) -> None:
        """One look at every timer that is due, as of the clock now."""
        now = self.clock()
        rules = self.config.follow_up
        for state in await self.store.due_threads(due_timers(now, rules)):
            step = next_step(state, now, rules)
            if step == "remind":
                await self._remind(state, now)
            elif step == "cold":
                if await self.store.mark_cold(state):
                    log.info(
                        "thread #%d (%s) went cold",
                        state.thread_id,
                        display(state.caller, self.config.business.region),
                    )
            elif nudge_due(state, now, rules):
                await self._nudge(state, now)
        await self._digests(now)

    async def _remind(self, state: FollowUpState, now: datetime) -> None:
        thread = await self.store.thread_summary(state.thread_id)
        if thread is None:
            return
        since = state.waiting_since.isoformat()
        drafts = self._wording.reminder(thread, since, now)
        if await self.store.remind(state, drafts, self._wording.domain):
            log.info(
                "reminded %d owner alert(s) about thread #%d (%s)",
                len(drafts), state.thread_id, display(state.caller, self.config.business.region),
            )  # fmt: skip
            if any(draft.channel == "sms" for draft in drafts):
                self._bus.publish(TextQueued("owner_alert"))

    async def _nudge(self, state: FollowUpState, now: datetime) -> None:
        if "sms" not in self.channels or await self.store.is_opted_out(state.caller):
            return
        if not in_daytime(state.caller, now, self.config.business.timezone):
            return  # looked at again next tick: it may be daytime there by then
        body = self._nudge_text(state.line)
        parts = templates.sms_size(body).parts
        text = OutgoingText(state.caller, body, parts, now + timedelta(hours=1), kind="nudge")
        # The daily cap is checked by the store, in the transaction that queues it.
        if await self.store.nudge(state, text, cap=DAILY_CAP):
            log.info(
                "nudged %s on thread #%d",
                display(state.caller, self.config.business.region),
                state.thread_id,
            )
            self._bus.publish(TextQueued("nudge"))

    async def _digests(self, now: datetime) -> None:
        zone = ZoneInfo(self.config.business.timezone)
        local = now.astimezone(zone)
        if local.time() < self.config.follow_up.digest_at:
            return
        day = local.date()
        midnight = datetime.combine(day, time(0), zone)
        pending = [
            owner
            for owner in self.config.owners
            if owner.email
            and owner.alerts.digest
            and self.config.smtp is not None
            and not await self.store.digest_sent(owner.id, day)
        ]
        if not pending:
            return
        # One read for every owner due: each gets the threads of their lines.
        open_, handled = await self.store.digest_threads(midnight - timedelta(days=1), midnight)
        ledger = await self.store.lead_states([thread.id for thread in handled])
        for owner in pending:
            mine, done = self._of(owner, open_), self._of(owner, handled)
            draft = self._wording.digest(owner, day, mine, done, ledger)
            if await self.store.queue_digest(owner.id, day, draft, self._wording.domain):
                log.info(
                    "daily digest for %s queued: %d open, %d handled",
                    owner.id, len(mine), len(done),
                )  # fmt: skip

    def _of(self, owner: OwnerConfig, threads: list[ThreadSummary]) -> list[ThreadSummary]:
        """The threads on the lines ``owner`` answers for."""
        return [t for t in threads if owner in self.config.owners_of(self.config.line_for(t.line))]
