"""A known history for the report page's figures (the contract suite, the
page's tests): two lines over two business days in Chicago, one missed call of
each outcome, and what the report never counts; and an office whose second
line has a hostile name, with an owner of each line and an admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.config import Config
from bridge.core.calls import Outcome
from bridge.core.texts import OwnerAction
from bridge.store import Store
from tests.support.store_values import (
    CALLER,
    LATER,
    LINE,
    OTHER,
    SECOND_LINE,
    T0,
    Clock,
    a_text,
    decision,
    received,
)

CHICAGO = ZoneInfo("America/Chicago")
THIRD, FOURTH = "+15125550143", "+15125550144"
LATE = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)  # 22:30 on the 25th in Chicago
NEXT_DAY = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 9:00 on the 26th
UNTIL = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOSTILE_NAME = '<script>alert("line")</script>'


async def _missed(store: Store, clock: Clock, linkedid: str, at: datetime, **call: object) -> None:
    clock.now = at
    caller = call.get("caller", CALLER)
    text = a_text(str(caller)) if caller is not None else None
    await store.record_decision(decision(linkedid, started_at=at, ended_at=at, **call), text=text)


async def _send_all_but(store: Store, clock: Clock, unsent: str) -> None:
    for text in await store.due_texts(LATER):
        if text.to_number != unsent:
            await store.mark_sending(text.id, "modem")
            await store.mark_sent(text.id, [text.id], clock())


async def known_history(store: Store, clock: Clock) -> None:
    """On LINE, the 25th: called back after a reply (thread 1), texted with no
    reply, withheld (never texted). On SECOND_LINE: late on the 25th (the
    26th in UTC) texted and replied; the 26th, a text never sent. A rehearsal
    and an answered call, which no figure counts."""
    await _missed(store, clock, "won", T0)
    await _missed(store, clock, "quiet", T0 + timedelta(hours=1), caller=OTHER)
    await _missed(store, clock, "withheld", T0 + timedelta(hours=2), caller=None, withheld=True)
    await _missed(store, clock, "late", LATE, caller=THIRD, line=SECOND_LINE)
    await _missed(store, clock, "unsent", NEXT_DAY, caller=FOURTH, line=SECOND_LINE)
    await store.record_decision(decision("rehearsal", caller=FOURTH), dry_run=True)
    await store.record_decision(decision("picked-up", outcome=Outcome.ANSWERED, reason=None))
    await _send_all_but(store, clock, FOURTH)
    clock.now = NEXT_DAY + timedelta(minutes=10)
    await store.store_incoming(received("Yes please", at=clock()), None)
    await store.store_incoming(received("Tomorrow?", THIRD, at=clock()), None)
    await store.store_incoming(received("HELP", OTHER, at=clock()), "help")  # not a reply
    clock.advance(minutes=20)
    await store.owner_action("mike", OwnerAction(1, "called"))


def report_office(**web: object) -> Config:
    """Mike owns the main line, Sam the second (named HOSTILE_NAME), Ann is admin."""
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "timezone": "America/Chicago",
                         "average_job_value": 400},
            "ami": {"username": "textback", "secret": "not-a-real-secret"},
            "lines": [
                {"did": LINE, "name": "Main line", "owners": ["mike"]},
                {"did": SECOND_LINE, "name": HOSTILE_NAME, "owners": ["sam"]},
            ],
            "owners": [
                {"id": "mike", "name": "Mike"},
                {"id": "sam", "name": "Sam"},
                {"id": "ann", "name": "Ann", "admin": True},
            ],
            "web": web,
        },
        context={"region": "US"},
    )  # fmt: skip
