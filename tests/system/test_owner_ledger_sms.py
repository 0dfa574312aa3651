"""The recovery ledger by SMS, over the simulated modem: an owner's BOOKED /
WON / LOST text goes the owner-command path - stored with its step, the
thread handled, the note back saying what was recorded (capped like every
note), never a word to the homeowner - and the report counts it."""

from __future__ import annotations

from pathlib import Path

from bridge.core.ledger import BOOKED, LOST, WON, LeadState
from bridge.core.threads import ThreadSummary
from bridge.store import Store
from tests.support.expected import CALLER, trace
from tests.support.office import Office, office
from tests.support.polling import until, until_true

MIKE = "+15125550199"


def texts_to(o: Office, number: str) -> list[str]:
    return [s.text for s in o.modem.engine.sent if s.number == number]


async def state_is(store: Store, thread: int, wanted: LeadState) -> bool:
    return (await store.lead_states([thread])).get(thread) == wanted


async def summary(store: Store, thread: int) -> ThreadSummary:
    found = await store.thread_summary(thread)
    assert found is not None
    return found


async def test_an_owner_books_wins_and_loses_a_lead_by_text(tmp_path: Path) -> None:
    mike = {"id": "mike", "name": "Mike", "mobile": MIKE}
    async with office(tmp_path, owners=[mike]) as o:
        store = o.bridge.store
        await o.missed_call(trace("02_noanswer.ami"))
        o.bridge.alerts.wake()
        await until(lambda: len(texts_to(o, MIKE)) == 1 and len(texts_to(o, CALLER)) == 1)
        assert (await summary(store, 1)).status == "awaiting_reply"

        o.modem.receive(MIKE, "Booked 1 $450")
        await until(lambda: len(texts_to(o, MIKE)) == 2)
        assert texts_to(o, MIKE)[1] == "#1 (512) 555-9876 booked at $450 - marked handled."
        assert (await summary(store, 1)).status == "handled"  # no reminder comes
        assert await state_is(store, 1, LeadState(BOOKED, 45000))

        o.modem.receive(MIKE, "WON 1")
        await until(lambda: len(texts_to(o, MIKE)) == 3)
        assert texts_to(o, MIKE)[2] == "#1 (512) 555-9876 won at $450."

        # Not an amount: nothing recorded, and the note says why.
        o.modem.receive(MIKE, "BOOKED 1 2 pm")
        await until(lambda: len(texts_to(o, MIKE)) == 4)
        assert texts_to(o, MIKE)[3].startswith("textback: '2 pm' is not an amount")
        assert await state_is(store, 1, LeadState(WON, 45000))

        # A fourth note within 10 minutes is held back (an auto-reply must
        # not ping-pong), but the step itself is recorded.
        o.modem.receive(MIKE, "LOST 1 cancelled")
        await until_true(lambda: state_is(store, 1, LeadState(LOST, 45000, "cancelled")))
        assert len(texts_to(o, MIKE)) == 4

        found = await store.thread(1)
        assert found is not None
        thread, events = found
        steps = [(e.what, e.text) for e in events if e.what.startswith("owner mike")]
        assert steps == [
            ("owner mike: booked", "450.00"),
            ("owner mike: won", ""),  # no amount given: the booked one stands
            ("owner mike: lost", "cancelled"),
        ]
        assert thread.last_reply is None  # the owner's texts are commands, not replies
        assert len(texts_to(o, CALLER)) == 1  # nothing went to the homeowner
        assert {a["recipient"] for a in await store.alerts()} == {MIKE}
        (lead,) = (await store.report(None)).leads
        assert (lead.booked, lead.state.step, lead.handled) == (True, LOST, True)


async def test_a_step_on_no_thread_says_so(tmp_path: Path) -> None:
    mike = {"id": "mike", "name": "Mike", "mobile": MIKE}
    async with office(tmp_path, owners=[mike]) as o:
        o.modem.receive(MIKE, "WON 7 1,200")
        await until(lambda: len(texts_to(o, MIKE)) == 1)
        assert texts_to(o, MIKE)[0].startswith("textback: there is no thread #7.")
        (kept,) = await o.bridge.store.inbox()
        assert (kept["body"], kept["owner_id"], kept["thread_id"]) == ("WON 7 1,200", "mike", None)
