"""A busy office's leads, written through the store's own interfaces: what the
inbox's benchmark (bench/inbox.py) and its screenshots need in the store.

Each lead is a missed call from a new caller on one of the office's lines,
texted back and sent (most delivered); some call again while it is open;
about a third reply (some urgent, a few STOP); owners take them (assigned),
note, answer, call back or mark handled; what nobody touched is reminded and
goes cold as the follow-up would have it. Every owner's news is marked told
(no alert is left to send) and every text sent, so a bridge started on the
store afterwards has nothing queued. The store's clock must be ``clock``
(the seed moves it through the period).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bridge.config import FollowUpConfig
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.texts import OptOutChange, OutgoingText, OwnerAction, ReceivedText
from bridge.followup.worker import due_timers, next_step
from bridge.store import Store

LINES = (("+15125550100", "Main line"), ("+15125550111", "Emergency line"))
NAMES = (
    "Jane Caller", "Dave Ortiz", "WIRELESS CALLER", "Priya Natarajan", "Zoë Müller",
    "Tom Becker", "", "Maria Lopez", "Kenji Sato", "Bob & Sue O'Neil",
)  # fmt: skip
REPLIES = (
    "Need a quote to re-roof a 2-storey house",
    "Can you come Tuesday morning?",
    "Gutter came off in the storm, can you fix it this week?",
    "Who is this?",
    "Yes please call me back after 5",
    "Looking for a repair estimate, shingles blown off 🏠",
)
URGENT_REPLIES = (
    "Water is leaking through the ceiling, urgent!",
    "Tree fell on the roof, big leak - ASAP please",
)
OWNER_ANSWERS = ("On my way", "Can do Thursday 9am, does that work?", "Sending Dave at 2")
REASONS = (Reason.NOANSWER, Reason.CANCEL, Reason.VOICEMAIL, Reason.BUSY, Reason.QUEUE_ABANDON)
TEXT_BACK = "Sorry we missed your call - this is Mike at Acme Roofing. What can we help with?"
FOLLOW_UP = FollowUpConfig()


@dataclass
class SimClock:
    """The store's clock, moved by the seed through its period."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Seeded:
    threads: list[int] = field(default_factory=list)
    urgent: list[int] = field(default_factory=list)


async def seed_leads(
    store: Store, clock: SimClock, count: int, *, days: float = 90, seed: int = 12
) -> Seeded:
    """``count`` leads (one thread each) over the ``days`` before ``clock.now``,
    which is where the clock is left."""
    rng = random.Random(seed)
    end = clock.now
    step = timedelta(days=days) / max(count, 1)
    seeded = Seeded()
    for n in range(count):
        clock.now = end - step * (count - n)
        if n % 100 == 99:  # what the follow-up did meanwhile
            await follow_up_round(store, clock.now)
        await one_lead(store, clock, n, rng, seeded)
    clock.now = end
    await follow_up_round(store, end)
    await tell_owners(store)
    return seeded


async def one_lead(store: Store, clock: SimClock, n: int, rng: random.Random, out: Seeded) -> None:
    caller = f"+1{rng.choice(('512', '737', '210'))}{5550000 + n % 10_000 + n // 10_000:07d}"
    line, line_name = LINES[0] if rng.random() < 0.8 else LINES[1]
    name = rng.choice(NAMES)
    text = OutgoingText(caller, TEXT_BACK, 1, clock.now + timedelta(minutes=30))
    await store.record_decision(missed(n, caller, name, line, line_name, clock.now, rng), text=text)
    if rng.random() < 0.15:  # called again before anyone answered
        clock.now += timedelta(minutes=rng.randint(2, 20))
        second = missed(n + 10**6, caller, name, line, line_name, clock.now, rng)
        await store.record_decision(second, text_skip="texted-recently")
    await send_queued(store, clock.now, delivered=rng.random() < 0.85)
    found = await store.call(f"1790000000.{n}")
    if found is None or found.thread_id is None:
        return
    thread = found.thread_id
    out.threads.append(thread)
    await answer(store, clock, thread, caller, line, rng, out)
    await tell_owners(store)


async def answer(
    store: Store,
    clock: SimClock,
    thread: int,
    caller: str,
    line: str,
    rng: random.Random,
    out: Seeded,
) -> None:
    """What the caller and the owners did with the lead."""
    roll = rng.random()
    clock.now += timedelta(minutes=rng.randint(1, 90))
    if roll < 0.03:
        stop = OptOutChange(
            True, "stop", "sms", OutgoingText(caller, "Unsubscribed.", 1, clock.now)
        )
        await store.store_incoming(
            ReceivedText(caller, "STOP", 1, clock.now, line=line), "stop", opt_out=stop
        )
        await send_queued(store, clock.now)
        return
    if roll < 0.35:
        urgent = rng.random() < 0.12
        words = rng.choice(URGENT_REPLIES if urgent else REPLIES)
        await store.store_incoming(
            ReceivedText(caller, words, 1, clock.now, line=line), None, urgent=urgent
        )
        if urgent:
            out.urgent.append(thread)
    act = rng.random()
    owner = rng.choice(("mike", "mike", "sam"))
    if act < 0.6 and rng.random() < 0.5:  # taken by someone in the inbox first
        await store.assign(thread, owner, "mike")
    if rng.random() < 0.05:
        await store.add_note(thread, owner, "Left a voicemail too; try after 5")
    if act < 0.15:
        reply = OutgoingText(
            caller, rng.choice(OWNER_ANSWERS), 1, clock.now + timedelta(hours=1), "reply"
        )
        await store.owner_action(owner, OwnerAction(thread, "reply", reply))
        await send_queued(store, clock.now)
    if act < 0.45:
        clock.now += timedelta(minutes=rng.randint(5, 240))
        await store.owner_action(owner, OwnerAction(thread, "done"))
    elif act < 0.55:
        await store.owner_action(owner, OwnerAction(thread, "called"))


def missed(
    n: int,
    caller: str,
    name: str,
    line: str,
    line_name: str,
    at: datetime,
    rng: random.Random,
) -> CallDecision:
    reason = rng.choice(REASONS)
    return CallDecision(
        linkedid=f"1790000000.{n}", outcome=Outcome.MISSED, reason=reason, caller=caller,
        caller_raw=caller, caller_name=name, line=line, line_name=line_name,
        started_at=at - timedelta(seconds=rng.randint(8, 60)), ended_at=at,
        voicemail_left=rng.random() < 0.5 if reason is Reason.VOICEMAIL else None,
        dial_status=str(reason) if reason is not Reason.QUEUE_ABANDON else None,
        detail=f"seeded: {reason}",
    )  # fmt: skip


async def send_queued(store: Store, now: datetime, *, delivered: bool = True) -> None:
    """Every due text sent, as the outbox worker would; delivered if told so."""
    for text in await store.due_texts(now, limit=50):
        if not await store.mark_sending(text.id, "modem"):
            continue
        reference = text.id % 255
        await store.mark_sent(text.id, [reference], now)
        if delivered and text.to_number:
            await store.record_delivery(reference, text.to_number, True)


async def tell_owners(store: Store) -> None:
    """Owners' news marked told, with no alert (the seeded office has no alert routes)."""
    news = await store.unalerted()
    if news:
        await store.queue_alerts([(event, []) for event in news], "acme.example")


async def follow_up_round(store: Store, now: datetime) -> None:
    """Reminders and cold threads, as the follow-up's tick makes them."""
    for state in await store.due_threads(due_timers(now, FOLLOW_UP)):
        step = next_step(state, now, FOLLOW_UP)
        if step == "remind":
            await store.remind(state, [], "acme.example")
        elif step == "cold":
            await store.mark_cold(state)
