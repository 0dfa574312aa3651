"""Follow-through with an injected clock (no sleeping): reminders, cold
threads, the daily digest and the nudge - across restarts - and the report."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.alerts.worker import AlertWorker
from bridge.app import follow_up_worker
from bridge.bus import Bus
from bridge.cli import main
from bridge.config import Channel
from bridge.core.calls import Outcome
from bridge.core.ledger import BOOKED, LOST, LeadStep
from bridge.core.texts import OutgoingText, OwnerAction, ReceivedText
from bridge.followup.worker import in_daytime
from bridge.sim.mail import MailCatcher
from bridge.store import Store
from tests.support.alerts import html_part as _html
from tests.support.alerts import plain_part as _text
from tests.support.expected import CALLER
from tests.support.follow_through import MIKE, T0, Clock, config_yaml, settings, texted_back
from tests.support.polling import until
from tests.support.store_values import decision

EMAIL: frozenset[Channel] = frozenset({"email"})
EMAIL_AND_SMS: frozenset[Channel] = frozenset({"email", "sms"})


async def reminders(store: Store) -> list[dict[str, object]]:
    return [a for a in await store.alerts() if a["kind"] == "reminder"]


async def status(store: Store, thread: int = 1) -> str:
    found = await store.thread(thread)
    assert found is not None
    return found[0].status


async def test_one_reminder_then_cold_across_a_restart(tmp_path: Path) -> None:
    cfg = settings(tmp_path)  # defaults: remind after 120 min, cold 24 h after that
    clock = Clock()
    async with await Store.open(cfg.store.path, clock=clock) as store:
        await texted_back(store, clock)
        worker = follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL_AND_SMS)
        clock.advance(minutes=119)
        await worker.tick()
        assert await reminders(store) == []
        clock.advance(minutes=1)
        await worker.tick()
        await worker.tick()
        sent = await reminders(store)
        assert [(a["channel"], a["recipient"]) for a in sent] == [
            ("email", "mike@acme.example"),
            ("sms", MIKE),  # business hours: by text too
        ]
        assert "call back (512) 555-9876" in str(sent[0]["subject"])
        sms = [r for r in await store.outbox() if r["kind"] == "owner_alert"]
        assert len(sms) == 1
        assert str(sms[0]["body"]).startswith("#1 Reminder: call back")

    # A restart: a new store connection and a new worker, the clock moved on.
    clock.advance(hours=23)
    async with await Store.open(cfg.store.path, clock=clock) as store:
        worker = follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL_AND_SMS)
        await worker.tick()
        assert len(await reminders(store)) == 2  # not repeated
        assert await status(store) == "awaiting_reply"
        clock.advance(hours=1)
        await worker.tick()
        assert await status(store) == "cold"
        assert len(await reminders(store)) == 2

        # A reply to a cold thread reopens it: a person must see it, and a new
        # wait (for an owner this time, 30 min) starts.
        await store.store_incoming(
            ReceivedText(CALLER, "Sorry, was at work. Still need it", 1, clock()), None
        )
        assert await status(store) == "replied"
        clock.advance(minutes=30)
        await worker.tick()
        assert len(await reminders(store)) == 4
        assert "waiting for an answer" in str((await reminders(store))[-2]["subject"])


async def test_an_owner_acting_stops_the_reminder(tmp_path: Path) -> None:
    cfg = settings(tmp_path, reply_wait_minutes=10)
    clock = Clock()
    async with await Store.open(cfg.store.path, clock=clock) as store:
        await texted_back(store, clock)
        await store.store_owner_text("mike", ReceivedText(MIKE, "CALLED 1", 1, clock()))
        clock.advance(minutes=5)
        await store.owner_action("mike", OwnerAction(1, "called"))
        clock.advance(hours=48)
        await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL).tick()
        assert await reminders(store) == []
        assert await status(store) == "handled"


async def test_reminder_email_is_a_call_back_task_with_a_tel_link(tmp_path: Path) -> None:
    smtp = MailCatcher()
    await smtp.start()
    cfg = settings(tmp_path, smtp.port)
    clock = Clock()
    try:
        async with await Store.open(cfg.store.path, clock=clock) as store:
            await texted_back(store, clock)
            alerts = AlertWorker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL)
            await alerts._queue_new_alerts()  # the missed call's own alert
            clock.advance(hours=3)
            worker = follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL)
            await worker.tick()  # no SMS: email only
            await alerts._send_due()
            # The missed call, the reminder, and (it is past 7:00) the digest.
            await until(lambda: len(smtp.mailbox.messages) == 3)
    finally:
        await smtp.stop()
    first, reminder, _ = smtp.mailbox.messages
    assert reminder["Subject"].startswith("Reminder: call back (512) 555-9876")
    assert reminder["In-Reply-To"] == first["Message-ID"]  # the same conversation
    assert f"Call them back: tel:{CALLER}" in _text(reminder)
    assert f'href="tel:{CALLER}"' in _html(reminder)


async def test_the_daily_digest_goes_once_a_day_whatever_restarts(tmp_path: Path) -> None:
    smtp = MailCatcher()
    await smtp.start()
    cfg = settings(tmp_path, smtp.port)
    clock = Clock(datetime(2026, 11, 24, 20, 0, tzinfo=UTC))  # Tuesday 14:00 in Chicago
    try:
        async with await Store.open(cfg.store.path, clock=clock) as store:
            await texted_back(store, clock, "won")  # thread 1: handled on Tuesday
            await store.owner_action("mike", OwnerAction(1, "done"))
            other = decision("open", caller="+15125550142", ended_at=clock())
            await store.record_decision(other)  # thread 2: still open
            # Threads 3 and 4 handled on Tuesday too: one booked at $450, one lost.
            await store.record_decision(decision("booked", caller="+15125550144"))
            await store.lead_step("mike", LeadStep(3, BOOKED, 45000))
            await store.record_decision(decision("lost", caller="+15125550145"))
            await store.lead_step("mike", LeadStep(4, LOST, reason="price"))
            clock.now = datetime(2026, 11, 25, 12, 59, tzinfo=UTC)  # Wednesday 6:59 there
            await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL).tick()
            assert not await store.digest_sent("mike", clock.now.date())
            clock.advance(minutes=2)  # 7:01
            await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL).tick()
        async with await Store.open(cfg.store.path, clock=clock) as store:  # restarted
            clock.advance(hours=3)
            await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL).tick()
            digests = [a for a in await store.alerts() if a["kind"] == "digest"]
            assert len(digests) == 1
            await AlertWorker(
                cfg, store, clock=clock, bus=Bus(), channels=EMAIL
            )._send_due()  # thread 2's reminder too
            await until(lambda: len(smtp.mailbox.messages) == 2)
            clock.advance(days=1)  # Thursday 10:01: thread 2 went cold, nothing to tell
            await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL).tick()
            assert await store.digest_sent("mike", clock.now.date())
            assert len([a for a in await store.alerts() if a["kind"] == "digest"]) == 1
            await store.record_decision(decision("friday", caller="+15125550143", ended_at=clock()))
            clock.advance(days=1)  # Friday 10:01: Friday's digest, with the new call
            await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL).tick()
            assert len([a for a in await store.alerts() if a["kind"] == "digest"]) == 2
    finally:
        await smtp.stop()
    (message,) = [m for m in smtp.mailbox.messages if m["Subject"].startswith("textback")]
    assert message["Subject"] == "textback Wed Nov 25: 1 open, 2 recovered yesterday"
    body = _text(message)
    # Worth as `textback report` counts it: the amount entered, else the average.
    open_part, _, recovered_part = body.partition("Recovered yesterday (2, $1,300):")
    assert "#2 (512) 555-0142" in open_part
    assert "tel:+15125550142" in open_part
    recovered_part, _, lost_part = recovered_part.partition("Lost yesterday (1):")
    assert [line.strip() for line in recovered_part.strip().splitlines()] == [
        "#3 (512) 555-0144 - booked $450", "#1 (512) 555-9876",
    ]  # fmt: skip
    assert lost_part.strip() == "#4 (512) 555-0145 - lost price"
    assert "<h3>Lost yesterday (1)</h3><ul><li>#4 (512) 555-0145 - lost price</li>" in _html(
        message
    )


async def test_no_digest_when_there_is_nothing_to_tell(tmp_path: Path) -> None:
    """A first start after 07:00 on a new install: nothing open, nothing recovered."""
    cfg = settings(tmp_path)
    clock = Clock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))  # Wednesday 9:00 in Chicago
    async with await Store.open(cfg.store.path, clock=clock) as store:
        await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL).tick()
        assert await store.digest_sent("mike", clock.now.date())  # the day is done with
        assert await store.alerts() == []


@pytest.mark.parametrize(
    ("utc_hour", "allowed"),
    [
        (13, False),  # 7:00 in Austin: too early
        (14, True),  # 8:00
        (1, True),  # 19:00 the evening before
        (2, False),  # 20:00: too late
    ],
)
def test_the_nudge_keeps_to_the_homeowners_daytime(utc_hour: int, allowed: bool) -> None:
    moment = datetime(2026, 11, 25, utc_hour, 0, tzinfo=UTC)
    assert in_daytime(CALLER, moment, "America/New_York") is allowed


def test_the_nudge_uses_the_area_codes_time_zone() -> None:
    noon_in_chicago = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    late_evening = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)  # 21:30 Chicago, 19:30 LA
    assert in_daytime("+13105550142", late_evening, "America/Chicago")  # Los Angeles
    assert not in_daytime(CALLER, late_evening, "America/Chicago")  # Austin
    assert in_daytime("+13105550142", noon_in_chicago, "America/Chicago")


async def test_one_nudge_only_in_daytime_and_never_after_an_opt_out(tmp_path: Path) -> None:
    cfg = settings(tmp_path, nudge={"enabled": True, "after_hours": 4})
    clock = Clock(datetime(2026, 11, 25, 23, 0, tzinfo=UTC))  # 17:00 in Austin
    async with await Store.open(cfg.store.path, clock=clock) as store:
        await texted_back(store, clock)
        worker = follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL_AND_SMS)

        async def nudges() -> list[str]:
            return [str(r["body"]) for r in await store.outbox() if r["kind"] == "nudge"]

        clock.advance(hours=4)  # 21:00 there: quiet hours
        await worker.tick()
        assert await nudges() == []
        clock.advance(hours=11)  # 8:00 next morning
        await worker.tick()
        await worker.tick()
        assert await nudges() == [
            "Hi, Mike at Acme Roofing again - still need a hand? Reply here any time and"
            " we'll take it from there."
        ]
        # A second thread for someone who opted out gets no nudge.
        other = "+15125550142"
        await store.set_opt_out(other, opted_out=True, keyword="STOP", source="sms", at=clock())
        text = OutgoingText(other, "hi", 1, clock() + timedelta(minutes=30))
        await store.record_decision(decision("call-2", caller=other, ended_at=clock()), text=text)
        clock.advance(hours=5)
        await worker.tick()
        assert len(await nudges()) == 1


async def test_no_nudge_a_day_past_its_time(tmp_path: Path) -> None:
    cfg = settings(tmp_path, nudge={"enabled": True, "after_hours": 4})
    clock = Clock()  # 9:00 in Austin
    async with await Store.open(cfg.store.path, clock=clock) as store:
        await texted_back(store, clock)
        clock.advance(hours=4 + 24)  # the bridge was down all that time
        await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL_AND_SMS).tick()
        assert [r for r in await store.outbox() if r["kind"] == "nudge"] == []


async def test_the_cap_counts_every_text_to_the_number(tmp_path: Path) -> None:
    cfg = settings(tmp_path, nudge={"enabled": True, "after_hours": 1})
    clock = Clock(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    async with await Store.open(cfg.store.path, clock=clock) as store:
        await texted_back(store, clock)
        for body in ("answer one", "answer two"):  # an owner answered twice
            await store.queue_text(
                OutgoingText(CALLER, body, 1, clock() + timedelta(hours=1), kind="reply")
            )
        clock.advance(hours=2)
        await follow_up_worker(cfg, store, clock=clock, bus=Bus(), channels=EMAIL_AND_SMS).tick()
        assert [r for r in await store.outbox() if r["kind"] == "nudge"] == []


async def test_report_figures_on_a_known_history(tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    clock = Clock()
    async with await Store.open(cfg.store.path, clock=clock) as store:
        # Three missed calls; two texted; one reply; one handled 40 min after
        # its call, another acted on (answered) after 10 min.
        await texted_back(store, clock, "a")
        clock.advance(minutes=40)
        await store.owner_action("mike", OwnerAction(1, "called"))
        await texted_back(store, clock, "b")  # same caller: a new thread (1 is closed)
        await store.store_incoming(ReceivedText(CALLER, "yes please", 1, clock()), None)
        clock.advance(minutes=10)
        answer = OutgoingText(CALLER, "On my way", 1, clock() + timedelta(hours=1), kind="reply")
        await store.owner_action("mike", OwnerAction(2, "reply", answer))
        await store.record_decision(decision("c", caller="+15125550142", ended_at=clock()))
        # An answered call and an old missed call before --since count for nothing.
        await store.record_decision(decision("d", outcome=Outcome.ANSWERED, ended_at=clock()))
        old = T0 - timedelta(days=30)
        await store.record_decision(decision("e", caller="+15125550143", ended_at=old))
    runner = CliRunner()
    config_path = tmp_path / "textback.yaml"
    config_path.write_text(config_yaml(cfg))
    result = await asyncio.to_thread(  # the command runs its own event loop
        runner.invoke,
        main,
        ["report", "--config", str(config_path), "--since", "2026-11-20", "--json"],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    ledger = figures.pop("ledger")  # the recovery ledger's figures: tests/system/test_ledger.py
    assert (ledger["leads"], ledger["handled"], ledger["recovered"]["value"]) == (3, 1, 850.0)
    assert [week["week"] for week in figures.pop("weeks")] == ["2026-11-23"]
    assert [line["name"] for line in figures.pop("lines")] == ["Main line"]
    assert figures == {
        "since": "2026-11-20T00:00:00-06:00",
        "missed_calls": 3,
        "texted": 2,
        "replied": 1,
        "handled": 1,
        "median_minutes_to_first_owner_action": 25.0,  # 40 and 10
        "average_job_value": 850.0,
        "estimated_recovered_value": 850.0,
    }
    table = await asyncio.to_thread(runner.invoke, main, ["report", "--config", str(config_path)])
    assert table.exit_code == 0, table.output
    rows = [" ".join(line.split()) for line in table.output.splitlines()]
    assert "missed calls 4 (4 leads)" in rows  # no --since: the old call too
    assert "texted back 2 (50%)" in rows
    assert "median time to first owner action 25 min" in rows
    assert "recovered value $850 (1 x $850 average)" in rows
