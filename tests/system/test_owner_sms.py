"""Owners by SMS, over the simulated modem: alerts reach their phones, their
answers reach the homeowner, CALLED/DONE close the thread, and an urgent
reply pages whoever is on call even after hours."""

from __future__ import annotations

from pathlib import Path

from bridge.conversations import owner_commands
from bridge.store import Store
from tests.support.expected import CALLER, trace
from tests.support.office import Office, office
from tests.support.polling import until, until_true

MIKE = "+15125550199"
SUE = "+15125550188"


def texts_to(o: Office, number: str) -> list[str]:
    return [s.text for s in o.modem.engine.sent if s.number == number]


async def status_is(store: Store, thread: int, wanted: str) -> bool:
    found = await store.thread(thread)
    return found is not None and found[0].status == wanted


async def test_an_owner_answers_a_homeowner_from_their_phone(tmp_path: Path) -> None:
    mike = {"id": "mike", "name": "Mike", "mobile": MIKE}
    async with office(tmp_path, owners=[mike]) as o:
        store = o.bridge.store
        await o.missed_call(trace("02_noanswer.ami"))
        o.bridge.alerts.wake()
        await until(lambda: len(texts_to(o, MIKE)) == 1 and len(texts_to(o, CALLER)) == 1)
        assert texts_to(o, MIKE)[0].startswith("#1 Missed call from (512) 555-9876 at ")
        assert "texted them. Reply '1 your text' to text them" in texts_to(o, MIKE)[0]

        o.modem.receive(CALLER, "Need a roof repair quote")
        await until_true(lambda: status_is(store, 1, "replied"))
        o.bridge.alerts.wake()
        await until(lambda: len(texts_to(o, MIKE)) == 2)
        assert texts_to(o, MIKE)[1] == (
            "#1 (512) 555-9876: Need a roof repair quote - reply '1 your text' to answer"
        )

        # The owner's answer goes to the homeowner, from the business's number.
        o.modem.receive(MIKE, "1 I can come by at 3pm today - Mike")
        await until(lambda: len(texts_to(o, CALLER)) == 2)
        assert texts_to(o, CALLER)[1] == "I can come by at 3pm today - Mike"
        await until_true(lambda: status_is(store, 1, "awaiting_reply"))

        # Anything else from an owner gets the usage, never reaches a homeowner.
        o.modem.receive(MIKE, "what do I do?")
        await until(lambda: len(texts_to(o, MIKE)) == 3)
        assert texts_to(o, MIKE)[2] == owner_commands.USAGE
        o.modem.receive(MIKE, "7 hello")
        await until(lambda: len(texts_to(o, MIKE)) == 4)
        assert texts_to(o, MIKE)[3].startswith("textback: there is no thread #7.")

        o.modem.receive(MIKE, "done 1")
        await until_true(lambda: status_is(store, 1, "handled"))
        await until(lambda: len(texts_to(o, MIKE)) == 5)
        assert texts_to(o, MIKE)[4] == "#1 (512) 555-9876 marked handled."
        found = await store.thread(1)
        assert found is not None
        summary, events = found
        whats = [e.what for e in events]
        assert "owner mike: reply" in whats
        assert "owner mike: done" in whats
        assert "missed_call alert to mike by sms (sent)" in whats
        assert "reply alert to mike by sms (sent)" in whats
        assert len(texts_to(o, CALLER)) == 2  # nothing the owner typed besides the answer
        # The thread's last reply is the homeowner's, never the owner's command.
        assert summary.last_reply == "Need a roof repair quote"
        # The owner's own texts are commands, not replies: no alert about them.
        assert all(a["recipient"] == MIKE for a in await store.alerts())
        assert len(await store.alerts()) == 2


async def test_called_marks_handled_and_an_opted_out_thread_is_not_texted(
    tmp_path: Path,
) -> None:
    mike = {"id": "mike", "name": "Mike", "mobile": MIKE}
    async with office(tmp_path, owners=[mike]) as o:
        store = o.bridge.store
        await o.missed_call(trace("02_noanswer.ami"))
        await until(lambda: len(texts_to(o, CALLER)) == 1)
        o.modem.receive(CALLER, "STOP")
        await until_true(lambda: status_is(store, 1, "opted_out"))
        await until(lambda: len(texts_to(o, CALLER)) == 2)  # the one confirmation
        o.modem.receive(MIKE, "1 Still need that quote?")
        await until(lambda: any("opted out" in t for t in texts_to(o, MIKE)))
        assert len(texts_to(o, CALLER)) == 2
        o.modem.receive(MIKE, "CALLED #1")
        await until_true(lambda: status_is(store, 1, "handled"))


async def test_an_urgent_reply_pages_the_on_call_owner_after_hours(tmp_path: Path) -> None:
    email_only = {"missed_call": ["email"], "reply": ["email"], "reminder": ["email"]}
    owners = [
        # The line's owner wants no texts after hours...
        {"id": "mike", "name": "Mike", "mobile": MIKE, "alerts": {"after_hours": email_only}},
        # ...and Sue is on call tonight, with the same rules.
        {
            "id": "sue",
            "name": "Sue",
            "mobile": SUE,
            "on_call": True,
            "alerts": {"after_hours": email_only},
        },
    ]
    async with office(tmp_path, owners=owners, hours={"mon-sun": "closed"}) as o:
        store = o.bridge.store
        await o.missed_call(trace("02_noanswer.ami"))
        await until(lambda: len(texts_to(o, CALLER)) == 1)
        assert "We're closed now" in texts_to(o, CALLER)[0]
        o.modem.receive(CALLER, "thanks, tomorrow is fine")
        await until_true(lambda: status_is(store, 1, "replied"))
        o.modem.receive(CALLER, "Actually a pipe just BURST, water everywhere!")

        async def urgent() -> bool:
            found = await store.thread(1)
            return found is not None and found[0].urgent

        await until_true(urgent)
        # Woken at once: no waiting for the alert worker's poll.
        await until(lambda: len(texts_to(o, SUE)) == 1, within=1.5)
        assert texts_to(o, SUE)[0].startswith(
            "URGENT #1 (512) 555-9876: Actually a pipe just BURST, water everywhere!"
        )
        assert texts_to(o, SUE)[0].endswith(f"Call them: {CALLER}")
        # Nobody was texted for the missed call or the ordinary reply.
        assert texts_to(o, MIKE) == []


async def test_an_owners_auto_reply_cannot_start_a_ping_pong(tmp_path: Path) -> None:
    mike = {"id": "mike", "name": "Mike", "mobile": MIKE}
    async with office(tmp_path, owners=[mike]) as o:
        store = o.bridge.store
        for n in range(5):
            o.modem.receive(MIKE, f"I'm driving, I'll get back to you ({n})")

        async def all_stored() -> bool:
            return len([r for r in await store.inbox() if r["owner_id"] == "mike"]) == 5

        await until_true(all_stored)

        async def notices_settled() -> bool:
            rows = [r for r in await store.outbox() if r["kind"] == "owner_notice"]
            return len(rows) == 3 and all(r["state"] == "sent" for r in rows)

        await until_true(notices_settled)
        assert texts_to(o, MIKE) == [owner_commands.USAGE] * 3
