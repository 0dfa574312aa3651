"""RecorderStore, IntakeStore and the calls side of HistoryStore: a call is
decided once, with its thread and its text-back; calls in progress and the
AMI watermark survive a restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bridge.core.calls import OpenCall, Outcome, Reason
from bridge.core.texts import OutgoingText
from bridge.store import ConstraintViolation, Store
from tests.support.store_values import (
    CALLER,
    LATER,
    LINE,
    OTHER,
    SECOND_LINE,
    T0,
    Clock,
    Opener,
    a_text,
    decision,
)


async def test_a_decision_is_stored_once_whatever_is_replayed(store: Store) -> None:
    assert await store.record_decision(decision()) is True
    assert await store.record_decision(decision()) is False
    assert await store.record_decision(decision(outcome=Outcome.ANSWERED)) is False
    (row,) = await store.recent_calls()
    assert (row.outcome, row.reason, row.caller, row.withheld) == (
        "missed",
        "NOANSWER",
        "+15125559876",
        False,
    )


async def test_a_call_is_stored_as_it_was_decided(store: Store) -> None:
    call = decision(
        "vm-1", reason=Reason.VOICEMAIL, voicemail_left=True, answered_by=None, source="agi",
        withheld=False, started_at=T0 - timedelta(seconds=40), detail="left a voicemail",
    )  # fmt: skip
    await store.record_decision(call, dry_run=True, text_skip="left-a-voicemail")
    stored = await store.call("vm-1")
    assert stored is not None
    assert stored.as_json() | {"started_at": None, "ended_at": None} == {
        "linkedid": "vm-1", "caller": CALLER, "caller_name": "Jane Caller", "line": LINE,
        "line_name": "Main line", "outcome": "missed", "reason": "VOICEMAIL", "withheld": False,
        "voicemail_left": True, "dial_status": "NOANSWER", "answered_by": None,
        "started_at": None, "ended_at": None, "detail": "left a voicemail", "dry_run": True,
        "text_skip": "left-a-voicemail", "text": None, "thread": None,
    }  # fmt: skip
    assert datetime.fromisoformat(stored.started_at) == T0 - timedelta(seconds=40)
    assert datetime.fromisoformat(stored.ended_at) == T0
    assert stored.source == "agi"
    assert await store.call("never-seen") is None


async def test_decisions_survive_a_restart(backend: Opener, clock: Clock) -> None:
    async with await backend(clock) as store:
        await store.record_decision(decision("a"))
        await store.record_decision(decision("b", outcome=Outcome.ANSWERED, reason=None))
    async with await backend(clock) as store:
        assert {c.linkedid for c in await store.recent_calls()} == {"a", "b"}
        assert await store.record_decision(decision("a")) is False


async def test_two_processes_racing_on_one_call_store_it_once(
    backend: Opener, clock: Clock
) -> None:
    async with await backend(clock) as first, await backend(clock) as second:
        results = await asyncio.gather(
            first.record_decision(decision()), second.record_decision(decision())
        )
    assert sorted(results) == [False, True]


async def test_untrusted_text_is_stored_as_data(store: Store) -> None:
    nasty = "x'); DROP TABLE calls; --\x1b[2J"
    await store.record_decision(decision(caller_name=nasty, caller_raw=nasty))
    (row,) = await store.recent_calls()
    assert row.caller_name == nasty


async def test_a_text_back_is_queued_in_the_same_transaction_as_its_decision(
    store: Store,
) -> None:
    assert await store.record_decision(decision(), text=a_text()) is True
    # The same call again, however it arrives, never queues a second text.
    assert await store.record_decision(decision(), text=a_text()) is False
    (queued,) = await store.due_texts(LATER)
    (call,) = await store.recent_calls()
    assert (queued.to_number, queued.kind, queued.linkedid) == (
        "+15125559876", "textback", decision().linkedid,
    )  # fmt: skip
    assert call.text_state == "queued"


async def test_a_skipped_text_back_keeps_its_reason(store: Store) -> None:
    await store.record_decision(decision(), text_skip="opted-out")
    (call,) = await store.recent_calls()
    assert await store.due_texts(LATER) == []
    assert (call.text_skip, call.text_state) == ("opted-out", None)
    assert call.as_json()["text_skip"] == "opted-out"


async def test_history_feeds_cooldown_cap_and_opt_out(store: Store) -> None:
    now = datetime.now(UTC)
    empty = await store.text_history("+15125559876", now)
    assert (empty.opted_out, empty.last_textback_at, empty.textbacks_last_hour) == (
        False,
        None,
        0,
    )
    await store.record_decision(decision("a"), text=a_text())
    await store.record_decision(decision("b", caller="+15125550142"), text=a_text("+15125550142"))
    seen = await store.text_history("+15125559876", T0)
    assert seen.last_textback_at == T0
    assert seen.textbacks_last_hour == 2
    assert seen.ever_texted is False  # queued is not sent
    await store.set_opt_out("+15125559876", opted_out=True, keyword="STOP", source="sms", at=now)
    stopped = await store.text_history("+15125559876", now)
    assert stopped.opted_out is True
    states = {call.caller: call.text_state for call in await store.recent_calls()}
    # Opting out cancels what was still queued to that number, and only that.
    assert states == {"+15125559876": "cancelled", "+15125550142": "queued"}
    await store.set_opt_out("+15125559876", opted_out=False, keyword="START", source="sms", at=now)
    assert (await store.text_history("+15125559876", now)).opted_out is False


async def test_history_counts_only_live_text_backs_in_the_last_hour(store: Store) -> None:
    await store.record_decision(decision("a"), text=a_text())
    await store.record_decision(decision("b", caller=OTHER), text=a_text(OTHER))
    (first, second) = await store.due_texts(LATER)
    await store.mark_sending(first.id, "modem")
    await store.mark_sent(first.id, [1], T0)
    await store.mark_final(second.id, "failed", "no such number")
    mine, theirs = await store.text_history(CALLER, T0), await store.text_history(OTHER, T0)
    assert (mine.ever_texted, mine.last_textback_at, mine.textbacks_last_hour) == (True, T0, 1)
    assert (theirs.ever_texted, theirs.last_textback_at) == (False, None)  # failed: not a text
    assert mine.textbacks_last_minute == 1
    soon = await store.text_history(CALLER, T0 + timedelta(seconds=61))
    assert (soon.textbacks_last_minute, soon.textbacks_last_hour) == (0, 1)
    later = await store.text_history(CALLER, T0 + timedelta(minutes=61))
    assert (later.textbacks_last_hour, later.last_textback_at) == (0, T0)


async def test_concurrent_writers_never_share_a_transaction(store: Store) -> None:
    """The decision recorder and the outbox worker use one connection at once
    (found by bench/latency.py: 'cannot start a transaction within a transaction')."""
    first = await store.queue_text(a_text("+15125550142"))
    assert first is not None

    async def worker() -> None:
        for _ in range(30):
            await store.mark_sending(first, "modem")
            await store.mark_retry(first, "again", datetime.now(UTC))

    await asyncio.gather(
        worker(),
        *(
            store.record_decision(decision(f"call-{n}", caller=f"+1737555{n:04d}"),
                                  text=a_text(f"+1737555{n:04d}"))
            for n in range(30)
        ),
    )  # fmt: skip
    assert len(await store.recent_calls(100)) == 30
    assert len(await store.due_texts(LATER, limit=100)) == 31


async def test_a_refused_write_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(ConstraintViolation):
        await store.queue_text(OutgoingText("+1", "x", 1, T0, kind="spam"))
    assert await store.due_texts(LATER) == []
    assert await store.queue_text(OutgoingText(CALLER, "ok", 1, T0)) is not None


async def test_a_missed_call_opens_a_thread_that_later_calls_join(store: Store) -> None:
    await store.record_decision(decision("a"), text=a_text())
    await store.record_decision(decision("b", reason=Reason.BUSY), text_skip="texted-recently")
    await store.record_decision(decision("c", line=SECOND_LINE))  # another line: its own
    calls = {call.linkedid: call.thread_id for call in await store.recent_calls()}
    assert calls["a"] == calls["b"] != calls["c"]
    assert None not in calls.values()
    threads = {t.id: t for t in await store.threads()}
    assert (threads[calls["a"]].calls, threads[calls["a"]].status) == (2, "new")
    assert threads[calls["c"]].line == SECOND_LINE
    (text,) = await store.due_texts(LATER)
    assert text.from_line == LINE  # a text goes out from its thread's line


async def test_only_leads_open_threads(store: Store) -> None:
    await store.record_decision(decision("answered", outcome=Outcome.ANSWERED, reason=None))
    await store.record_decision(decision("desk", outcome=Outcome.INTERNAL, reason=None))
    await store.record_decision(decision("hidden", caller=None, withheld=True))
    await store.record_decision(decision("rehearsal", caller=OTHER), dry_run=True)
    await store.record_decision(
        decision("unseen", outcome=Outcome.UNKNOWN, reason=Reason.LINK_LOST, caller=OTHER)
    )
    threads = {call.linkedid: call.thread_id for call in await store.recent_calls()}
    assert [name for name, thread in threads.items() if thread is not None] == ["unseen"]
    (news,) = await store.unalerted()  # a rehearsal is news to nobody
    assert (news.kind, news.caller, news.unsure) == ("missed_call", OTHER, True)


async def test_recent_calls_are_newest_first(store: Store) -> None:
    for n in range(5):
        await store.record_decision(decision(f"c{n}", ended_at=T0 + timedelta(minutes=n)))
    assert [c.linkedid for c in await store.recent_calls(3)] == ["c4", "c3", "c2"]


async def test_calls_in_progress_keep_their_latest_state_until_decided(
    backend: Opener, clock: Clock
) -> None:
    async with await backend(clock) as store:
        assert await store.open_calls() == []
        await store.save_open_calls(
            [OpenCall("a", '{"v": 1}', T0), OpenCall("b", '{"v": 1}', T0 + timedelta(seconds=1))]
        )
        await store.save_open_calls([OpenCall("a", '{"v": 2}', T0 + timedelta(seconds=2))])
    async with await backend(clock) as store:  # a restart finds them
        assert await store.open_calls() == [
            OpenCall("b", '{"v": 1}', T0 + timedelta(seconds=1)),
            OpenCall("a", '{"v": 2}', T0 + timedelta(seconds=2)),
        ]
        await store.record_decision(decision("a"))
        assert [c.linkedid for c in await store.open_calls()] == ["b"]
        # A call decided before (AMI and AGI both report it) is no longer open either.
        await store.save_open_calls([OpenCall("a", "{}", T0 + timedelta(seconds=3))])
        await store.record_decision(decision("a"))
        assert [c.linkedid for c in await store.open_calls()] == ["b"]


async def test_the_watermark_only_moves_forward(backend: Opener, clock: Clock) -> None:
    async with await backend(clock) as store:
        assert await store.seen_until() is None
        await store.mark_seen(T0)
        await store.mark_seen(T0 - timedelta(minutes=5))  # a late writer: never back
        assert await store.seen_until() == T0
    async with await backend(clock) as store:
        await store.mark_seen(T0 + timedelta(seconds=30))
        assert await store.seen_until() == T0 + timedelta(seconds=30)
