"""Every statement the SQLite store runs for the bridge or a CLI command is
planned on an index: none reads a growing table (calls, outbox, inbox,
alerts, threads) from end to end, so years of history cost nothing per call,
poll or command (issue 17).

How the statements are collected: a scripted session calls every method of
every store interface (a test below fails when an interface gains a method
the session does not call), and each SQL statement the store sends to its
connection is captured with its parameters and the method that sent it. Each
is then planned with EXPLAIN QUERY PLAN, with those same parameters, on that
store. Without ANALYZE statistics SQLite plans as for large tables, so a
small store gives the plans a big one gets.

What a plan may do with a growing table:
- SEARCH it (an index or the primary key narrows what is read): allowed;
- SCAN it only in NEWEST_FIRST's methods, and only as a walk in index order
  that the statement's LIMIT stops (no temporary b-tree sorting all of it);
- walk one of PENDING_ONLY's partial indexes, which hold only the backlog;
- a SCAN of anything else (opt-outs, a JSON array, a subquery's result) is
  not history and is allowed.
RecordsStore's methods (every row, for tests and support) are not planned:
nothing in the bridge or its commands calls them.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge.config import FollowUpConfig
from bridge.core.callbacks import CALLED, REACHED, TRIED, ThreadLink
from bridge.core.calls import CallDecision, OpenCall, Outcome
from bridge.core.inbox import VIEWS, WHO, Cursor, InboxQuery
from bridge.core.ledger import BOOKED, LOST, WON, LeadStep
from bridge.core.recording import HistoryOf, Planned
from bridge.core.texts import Cap, OutgoingText, OwnerAction
from bridge.followup.worker import due_timers
from bridge.store import Store, StoreError, interfaces
from bridge.store.sqlite import SqliteStore
from tests.support.store_values import (
    CALLER,
    DOMAIN,
    LATER,
    LINE,
    OTHER,
    T0,
    Clock,
    a_text,
    decision,
    email,
    received,
    sms,
    stop,
)

GROWING = frozenset({"calls", "outbox", "inbox", "alerts", "threads", "lead_steps"})
NEWEST_FIRST = {
    "recent_calls": "`textback calls`: calls_by_end walked backwards, stopped at its limit",
    "threads": "`textback threads`: threads_listing (open first, newest), stopped at its limit",
    "inbox_page": "the inbox: its view's index (migration 12) newest first, stopped at a page"
    " (a search: at SEARCH_WINDOW threads)",
}
# Partial indexes that hold only what is still pending (news nobody heard
# yet): walking one reads the backlog, never the history.
PENDING_ONLY = {
    "calls_unalerted": "missed calls not yet alerted (answered calls are never in it)",
    "inbox_unalerted": "replies not yet alerted (STOP/HELP are never in it)",
    "threads_urgent": "urgent threads still open (the inbox's urgent view)",
}
# Not the store's own: the transaction's BEGIN, and the opener's pragmas.
_UNPLANNED = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|PRAGMA)\b", re.IGNORECASE)
_ALIAS = re.compile(r"\b(FROM|JOIN|UPDATE)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", re.IGNORECASE)
_KEYWORDS = {"where", "on", "set", "join", "left", "order", "group", "limit", "union", "values"}

calling: contextvars.ContextVar[str] = contextvars.ContextVar("calling", default="?")


@dataclass(frozen=True, slots=True)
class Statement:
    method: str
    sql: str
    params: Any


class Capture:
    """Every statement the store's connection runs, with the method that ran it
    (the connection's probe sees each on the database's thread, in the context
    of the trip's coroutine)."""

    def __init__(self, store: SqliteStore):
        self.db = store._db
        self.statements: list[Statement] = []
        self.called: set[str] = set()
        self.db.probe = self._record

    def _record(self, sql: str, params: Any) -> None:
        self.statements.append(Statement(calling.get(), sql, params))

    def stop(self) -> None:
        self.db.probe = None

    def method(self, store: Store, name: str) -> Callable[..., Awaitable[Any]]:
        """``store.name``, tagging what it runs with its name."""
        bound = getattr(store, name)

        async def traced(*args: Any, **kwargs: Any) -> Any:
            self.called.add(name)
            token = calling.set(name)
            try:
                return await bound(*args, **kwargs)
            finally:
                calling.reset(token)

        return traced

    async def plan(self, statement: Statement) -> list[str]:
        rows = await self.db.execute_fetchall(
            f"EXPLAIN QUERY PLAN {statement.sql}", statement.params
        )
        return [str(row[3]) for row in rows]


def interface_methods(*protocols: type) -> set[str]:
    return {
        name
        for protocol in protocols
        for name, value in vars(protocol).items()
        if not name.startswith("_") and callable(value)
    }


def planned_methods() -> set[str]:
    every = [
        p
        for p in vars(interfaces).values()
        if isinstance(p, type) and p.__module__ == interfaces.__name__
    ]
    return interface_methods(*every, Store) - interface_methods(interfaces.RecordsStore) - {
        "open", "close", "schema_version",
    }  # fmt: skip


class Session:
    """The store used as the bridge and its commands use it: every method."""

    def __init__(self, store: Store, capture: Capture, clock: Clock):
        self.store, self.capture, self.clock = store, capture, clock

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        return self.capture.method(self.store, name)

    async def run(self) -> None:
        await self.calls()
        await self.texts()
        await self.conversations()
        await self.alerts()
        await self.follow_up()
        await self.history()
        await self.links()
        await self.ledger()
        await self.web()

    async def web(self) -> None:
        """The owner inbox: every listing, a later page, a search; what owners do there."""
        for view in VIEWS:
            for who in WHO:
                for lines in (None, frozenset({LINE})):
                    query = InboxQuery("mike", who, view, lines)
                    page = await self.inbox_page(query)
                    await self.inbox_page(replace(query, search="555 0142 pipe"))
                    later = page.next or Cursor(T0.isoformat(), 1)
                    await self.inbox_page(replace(query, after=later))
                    await self.inbox_page(replace(query, after=later, search="Jane"))
        await self.inbox_row(1)
        await self.assign(1, "mike", by="ana")
        await self.add_note(1, "mike", "a note")
        await self.set_password_hash("mike", "$argon2id$x")
        await self.password_hash("mike")
        await self.other_offices()  # (a SQLite file has none: no statement at all)
        with pytest.raises(StoreError):
            await self.office_view("north")

    async def links(self) -> None:
        """Call-backs and a caller reached: each finds the number's open thread."""
        await self.record_decision(decision("new", caller="+15125550177"))
        tried = ThreadLink("+15125550177", TRIED, "tried to call back")
        await self.record_decision(decision("out-1", outcome=Outcome.OUTBOUND), link=tried)
        called = ThreadLink("+15125550177", CALLED, "called back by 201")
        await self.record_decision(decision("out-2", outcome=Outcome.OUTBOUND), link=called)
        hinted = ThreadLink("+15125550177", TRIED, "click-to-call", thread_id=1)
        await self.record_decision(decision("out-3", outcome=Outcome.OUTBOUND), link=hinted)
        reached = ThreadLink(CALLER, REACHED, "reached on a later call")
        await self.record_decision(decision("in-2", outcome=Outcome.ANSWERED), link=reached)

    async def ledger(self) -> None:
        """The recovery ledger's steps, by SMS and from the office, and what reads them."""
        await self.record_decision(decision("lead", caller="+15125550166"))
        booked = LeadStep(1, BOOKED, 45000)
        await self.store_owner_step("mike", received("BOOKED 1 450", "+15125550199"), booked)
        await self.lead_step("office", LeadStep(1, WON))
        await self.lead_step("office", LeadStep(2, LOST, reason="price"))
        await self.lead_states([1, 2, 3])
        await self.report(None)

    async def calls(self) -> None:
        await self.text_history(CALLER, T0)
        await self.record_decision(decision("a"), text=a_text())
        await self.record_decision(decision("b", outcome=Outcome.ANSWERED, reason=None))
        await self.record_decision(decision("c", caller=OTHER), dry_run=True)
        await self.save_open_calls([OpenCall("d", "{}", T0)])

        def plan(d: CallDecision, history_of: HistoryOf) -> Planned:
            history_of(d.caller or "")
            return Planned(a_text(d.caller or ""))

        burst = [OpenCall("f", "{}", T0), decision("f", caller="+15125550166")]
        await self.record_in_order(burst, plan, T0)
        await self.open_calls()
        await self.mark_seen(T0)
        await self.seen_until()

    async def texts(self) -> None:
        await self.recover_interrupted()
        (text, *_) = await self.due_texts(LATER)
        await self.held_slots("modem")
        await self.is_opted_out(CALLER)
        await self.mark_sending(text.id, "modem", [1])
        await self.mark_sent(text.id, [5], T0)
        await self.record_delivery(5, CALLER, True)
        queued = await self.queue_text(a_text(kind="reply"), thread_id=1, cap=Cap(3, timedelta(1)))
        await self.mark_sending(queued, "modem")
        await self.mark_retry(queued, "busy", LATER, maybe_sent=True)
        await self.mark_final(queued, "failed", "gave up")
        other = await self.queue_text(a_text(OTHER, kind="textback"))
        assert other is not None
        await self.claim_batch("modem", {other: [2]})
        await self.mark_batch_sent({other: [6]}, T0)
        await self.outbox_backlog(LATER)
        await self.set_opt_out(OTHER, opted_out=True, keyword="STOP", source="cli", at=T0)

    async def conversations(self) -> None:
        await self.store_incoming(received("is it you?"), None)
        await self.store_incoming(received("STOP", sender=OTHER), "stop", opt_out=stop(OTHER))
        answer = OwnerAction(1, "reply", OutgoingText(CALLER, "On my way", 1, LATER, "reply"))
        await self.store_owner_text("mike", received("1 On my way", "+15125550199"), answer)
        await self.owner_action("mike", OwnerAction(1, "called"))

    async def alerts(self) -> None:
        await self.record_decision(decision("e", caller="+15125550123"))
        await self.store_incoming(received("a reply", sender="+15125550123"), None)
        news = await self.unalerted()
        await self.thread(news[0].thread_id)
        await self.queue_alerts([(event, [email(), sms()]) for event in news], DOMAIN)
        (due, *_) = await self.due_alerts(LATER, "email")
        await self.mark_alert(due.id, "sent")
        owner = sms().recipient
        carried = await self.owner_alerts_due(owner, self.clock())
        await self.queue_batch(owner, carried, "textback: 2 missed calls", 1)

    async def follow_up(self) -> None:
        self.clock.advance(days=2)
        rules = FollowUpConfig.model_validate({"nudge": {"enabled": True}})
        (state, *_) = await self.due_threads(due_timers(self.clock(), rules))
        await self.thread_summary(state.thread_id)
        await self.remind(state, [email()], DOMAIN)
        await self.mark_cold(state)
        await self.nudge(state, a_text(kind="nudge"), cap=Cap(3, timedelta(1), any_kind=True))
        await self.digest_sent("mike", T0.date())
        await self.digest_threads(T0 - timedelta(days=1), LATER)
        await self.queue_digest("mike", T0.date(), email(), DOMAIN)

    async def history(self) -> None:
        await self.report(None)
        await self.report(T0)
        await self.report_breakdown(None, LATER, ZoneInfo("America/Chicago"))
        await self.report_breakdown(T0 - timedelta(days=90), T0, ZoneInfo("America/Chicago"))
        await self.recent_calls()
        await self.call("a")
        await self.threads()
        await self.threads(open_only=True)
        await self.thread(1)
        await self.prune(LATER + timedelta(days=400), dry_run=True)
        await self.prune(LATER + timedelta(days=400))


def offences(statement: Statement, plan: list[str]) -> list[str]:
    """The plan's reads of a growing table from end to end, unless allowed."""
    tables = {}
    for _, table, alias in _ALIAS.findall(statement.sql):
        tables[table] = table
        if alias and alias.lower() not in _KEYWORDS:
            tables[alias] = table
    bounded = (
        statement.method in NEWEST_FIRST
        and re.search(r"\bLIMIT\b", statement.sql, re.IGNORECASE) is not None
        and not any("TEMP B-TREE FOR ORDER BY" in line for line in plan)
    )
    found = []
    for line in plan:
        match = re.match(r"SCAN (\w+)(?: USING (?:COVERING )?INDEX (\w+))?", line)
        if match and tables.get(match[1]) in GROWING and not bounded:
            if match[2] in PENDING_ONLY:
                continue
            found.append(line)
    return found


@dataclass(frozen=True, slots=True)
class Captured:
    called: set[str]
    plans: list[tuple[Statement, list[str]]]


@pytest.fixture
async def captured(tmp_path: Path) -> Captured:
    clock = Clock()
    async with await SqliteStore.open(tmp_path / "plans.db", clock=clock) as store:
        capture = Capture(store)
        await Session(store, capture, clock).run()
        capture.stop()
        statements = [s for s in capture.statements if not _UNPLANNED.match(s.sql)]
        plans = [(s, await capture.plan(s)) for s in statements]
    return Captured(capture.called, plans)


async def test_the_session_calls_every_method_of_every_interface(captured: Captured) -> None:
    assert planned_methods() - captured.called == set(), "add them to Session"


async def test_no_statement_reads_a_growing_table_from_end_to_end(captured: Captured) -> None:
    assert len(captured.plans) > 50  # the session ran, and was captured
    # ... with what runs whole on the database's thread (one trip) too
    assert any(s.method == "record_decision" and "INSERT INTO threads" in s.sql
               for s, _ in captured.plans)  # fmt: skip
    bad = [
        f"{statement.method}: {' '.join(statement.sql.split())[:160]} -> {found}"
        for statement, plan in captured.plans
        if (found := offences(statement, plan))
    ]
    assert bad == []


def test_a_scan_of_history_is_caught() -> None:
    """The check itself: a filter off every index, an alias, an unbounded sort."""
    walk = Statement("unalerted", "SELECT * FROM calls c WHERE c.detail = ?", ("x",))
    assert offences(walk, ["SCAN c"]) == ["SCAN c"]
    newest = Statement("recent_calls", "SELECT * FROM calls ORDER BY ended_at DESC LIMIT 5", ())
    assert offences(newest, ["SCAN calls USING INDEX calls_by_end"]) == []
    assert offences(newest, ["SCAN calls", "USE TEMP B-TREE FOR ORDER BY"]) == ["SCAN calls"]
    assert offences(walk, ["SCAN opt_outs", "SEARCH c USING INDEX calls_by_thread"]) == []
    assert offences(walk, ["SCAN c USING INDEX calls_unalerted"]) == []
    assert offences(walk, ["SCAN c USING INDEX calls_by_end"]) == [
        "SCAN c USING INDEX calls_by_end"
    ]
