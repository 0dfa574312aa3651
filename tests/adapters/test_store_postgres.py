"""The PostgreSQL store against a real server: its migrations build exactly
the golden schema, the same one SQLite has at that version; and what SQLite
guarantees by being the only writer holds with several stores - several
bridges - writing to one database at once under READ COMMITTED."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import asyncpg
import pytest

from bridge.core.calls import CallDecision
from bridge.core.ledger import BOOKED, LeadState, LeadStep
from bridge.core.recording import HistoryOf, Planned
from bridge.core.texts import Cap
from bridge.core.threads import DueTimers
from bridge.store import Store
from bridge.store.errors import SchemaMismatch, StoreError
from bridge.store.postgres import (
    DEFAULT_OFFICE,
    MIGRATIONS,
    SCHEMA_VERSION,
    PostgresStore,
    redacted,
)
from bridge.store.sqlite import SCHEMA_VERSION as SQLITE_VERSION
from tests.support.postgres_schema import golden, schema, sqlite_names
from tests.support.postgres_server import PostgresServer
from tests.support.store_values import (
    CALLER,
    DOMAIN,
    LATER,
    T0,
    Clock,
    a_text,
    decision,
    email,
    received,
    stop,
)

BRIDGES = 6  # stores on one database, each its own pool: as many bridges would be
T = TypeVar("T")


@pytest.fixture
async def stores(postgres_server: PostgresServer) -> AsyncIterator[list[Store]]:
    url = await postgres_server.fresh("race")
    opened: list[Store] = [await PostgresStore.open(url, clock=Clock()) for _ in range(BRIDGES)]
    try:
        yield opened
    finally:
        for store in opened:
            await store.close()


async def at_once(stores: list[Store], act: Callable[[Store], Awaitable[T]]) -> list[T]:
    return list(await asyncio.gather(*(act(store) for store in stores)))


def test_postgres_follows_sqlites_versions_from_its_baseline() -> None:
    assert SCHEMA_VERSION == SQLITE_VERSION  # a new SQLite version needs its PostgreSQL file
    assert MIGRATIONS[0].name == "0011_baseline.sql"
    assert [m.version for m in MIGRATIONS] == list(range(11, SCHEMA_VERSION + 1))


async def test_a_new_store_has_exactly_the_golden_schema(postgres_server: PostgresServer) -> None:
    url = await postgres_server.empty()
    async with await PostgresStore.open(url) as store:
        assert await store.schema_version() == SCHEMA_VERSION
    assert await schema(url) == golden(SCHEMA_VERSION)


@pytest.mark.parametrize("version", range(11, SCHEMA_VERSION + 1))
async def test_the_files_up_to_each_version_build_exactly_its_golden_schema(
    postgres_server: PostgresServer, version: int
) -> None:
    url = await postgres_server.empty()
    conn = await asyncpg.connect(url, server_settings={"textback.office": DEFAULT_OFFICE})
    try:
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in MIGRATIONS[: version - MIGRATIONS[0].version + 1]:
            await conn.execute(migration.script)
        await conn.execute("INSERT INTO schema_version VALUES ($1)", version)
    finally:
        await conn.close()
    assert await schema(url) == golden(version)
    async with await PostgresStore.open(url) as store:  # and it upgrades to today's
        assert await store.schema_version() == SCHEMA_VERSION
    assert await schema(url) == golden(SCHEMA_VERSION)


# What a database several offices share has and a SQLite file (one office's)
# has not, from version 14 on: each row's office, and the fleet's own table.
FLEET_TABLES = {"offices"}
OFFICE_COLUMN = "office"


def test_each_version_has_the_tables_columns_and_indexes_sqlite_has() -> None:
    built = golden(SCHEMA_VERSION)["tables"]
    assert isinstance(built, dict)
    tables, indexes = sqlite_names(SCHEMA_VERSION)
    assert set(built) == set(tables) | FLEET_TABLES
    pg_indexes = {name for t in built.values() for name, _ in t["indexes"]}
    assert indexes <= pg_indexes  # plus PostgreSQL's own for primary keys and UNIQUE
    for table, sql in tables.items():
        # SQLite adds columns with ALTER TABLE: each appears as "name TYPE" in its CREATE.
        names = {column for column, *_ in built[table]["columns"]}
        declared = {part.strip().split()[0] for part in sql.split("(", 1)[1].split(",")}
        assert names - {OFFICE_COLUMN} <= declared | {"version"}, table
        assert (OFFICE_COLUMN in names) == (table != "schema_version"), table


async def test_bridges_starting_together_migrate_a_new_database_once(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.empty()
    opened = await asyncio.gather(*(PostgresStore.open(url) for _ in range(BRIDGES)))
    assert {await store.schema_version() for store in opened} == {SCHEMA_VERSION}
    for store in opened:
        await store.close()
    assert await schema(url) == golden(SCHEMA_VERSION)


async def test_a_newer_database_is_refused_with_what_to_do(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.fresh()
    async with await PostgresStore.open(url) as store:
        await store._conn.write("UPDATE schema_version SET version = 99")  # type: ignore[attr-defined]
    with pytest.raises(SchemaMismatch, match="upgrade textback") as refused:
        await PostgresStore.open(url)
    assert refused.value.found == 99


async def test_reading_an_unknown_database_says_so_without_the_password(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.url("nothing_here").replace("textback@", "textback:hunter2@")
    with pytest.raises(StoreError) as refused:
        await PostgresStore.open(url, read_only=True)
    assert "nothing_here" in str(refused.value)
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in redacted(url)


async def test_a_read_only_store_writes_nothing(postgres_server: PostgresServer) -> None:
    url = await postgres_server.fresh()
    async with await PostgresStore.open(url, read_only=True) as reader:
        assert await reader.recent_calls() == []
        with pytest.raises(StoreError, match="read-only"):
            await reader.record_decision(decision())


async def test_one_call_reported_by_every_bridge_is_one_decision_and_one_text(
    stores: list[Store],
) -> None:
    stored = await at_once(stores, lambda s: s.record_decision(decision("l1"), text=a_text()))
    assert sorted(stored) == [False] * (BRIDGES - 1) + [True]
    assert len(await stores[0].recent_calls()) == 1
    assert [t["kind"] for t in await stores[0].outbox()] == ["textback"]
    assert len(await stores[0].threads()) == 1


async def test_calls_from_one_caller_at_once_share_one_thread(stores: list[Store]) -> None:
    await at_once(stores, lambda s: s.record_decision(decision(f"l-{id(s)}"), text=None))
    (thread,) = await stores[0].threads()
    assert (thread.calls, thread.caller) == (BRIDGES, CALLER)


async def test_a_cap_holds_across_bridges(stores: list[Store]) -> None:
    cap = Cap(3, timedelta(minutes=10))
    ids = await at_once(stores, lambda s: s.queue_text(a_text(kind="reply"), cap=cap))
    assert len([i for i in ids if i is not None]) == 3
    assert len(await stores[0].outbox()) == 3


async def test_one_bridge_claims_a_due_text(stores: list[Store]) -> None:
    await stores[0].record_decision(decision(), text=a_text())
    (due,) = await stores[1].due_texts(LATER)
    claims = await at_once(stores, lambda s: s.mark_sending(due.id, "modem"))
    assert sorted(claims) == [False] * (BRIDGES - 1) + [True]
    assert [t["attempts"] for t in await stores[0].outbox()] == [1]


async def test_stop_received_by_every_bridge_is_confirmed_once(stores: list[Store]) -> None:
    await stores[0].record_decision(decision(), text=a_text())

    async def file_stop(store: Store) -> object:
        return await store.store_incoming(received("STOP"), "stop", opt_out=stop())

    filed = await at_once(stores, file_stop)
    assert sum(1 for f in filed if f is not None and f.choice_changed) == 1
    kinds = sorted((t["kind"], t["state"]) for t in await stores[0].outbox())
    assert kinds == [("confirmation", "queued"), ("textback", "cancelled")]
    assert await stores[0].is_opted_out(CALLER)


async def test_a_sim_copy_seen_by_every_bridge_is_stored_once(stores: list[Store]) -> None:
    text = received("Yes please", network_time=T0)
    filed = await at_once(stores, lambda s: s.store_incoming(text, None))
    assert len([f for f in filed if f is not None]) == 1
    assert len(await stores[0].inbox()) == 1


async def test_news_heard_by_every_bridge_is_alerted_once(stores: list[Store]) -> None:
    await stores[0].record_decision(decision(), text=a_text())
    (event,) = await stores[0].unalerted()
    queued = await at_once(stores, lambda s: s.queue_alerts([(event, [email()])], DOMAIN))
    assert sum(len(ids) for ids in queued) == 1
    assert len(await stores[0].alerts()) == 1


async def test_a_wait_is_reminded_once_however_many_bridges_see_it(stores: list[Store]) -> None:
    await stores[0].record_decision(decision(), text=None)
    due = DueTimers(T0 + timedelta(hours=1), T0 + timedelta(hours=1), T0, None)
    (state,) = await stores[0].due_threads(due)
    reminded = await at_once(stores, lambda s: s.remind(state, [email()], DOMAIN))
    assert sorted(reminded) == [False] * (BRIDGES - 1) + [True]
    assert len(await stores[0].alerts()) == 1


async def test_a_digest_goes_once_a_day_across_bridges(stores: list[Store]) -> None:
    day = T0.date()
    claimed = await at_once(stores, lambda s: s.queue_digest("mike", day, email(), DOMAIN))
    assert sorted(claimed) == [False] * (BRIDGES - 1) + [True]


async def test_the_same_ledger_step_from_every_bridge_is_recorded_once(
    stores: list[Store],
) -> None:
    await stores[0].record_decision(decision(), text=a_text())
    moved = await at_once(stores, lambda s: s.lead_step("office", LeadStep(1, BOOKED, 45000)))
    outcomes = sorted(m.outcome for m in moved if m is not None)
    assert outcomes == ["recorded"] + ["unchanged"] * (BRIDGES - 1)
    assert await stores[1].lead_states([1]) == {1: LeadState(BOOKED, 45000)}
    (_, events) = await stores[0].thread(1) or (None, [])
    assert [e.what for e in events].count("owner office: booked") == 1


async def test_one_run_of_decisions_recorded_by_every_bridge_is_one_decision_each(
    stores: list[Store],
) -> None:
    run = [decision("r1"), decision("r2")]

    def plan(d: CallDecision, history_of: HistoryOf) -> Planned:
        history = history_of(d.caller) if d.caller else None
        # The second call of the run sees the first one's text: no second text.
        first = history is not None and history.last_textback_at is None
        return Planned(a_text() if first else None)

    recorded = await at_once(stores, lambda s: s.record_in_order(run, plan, LATER))
    new = sorted(
        (r.decision.linkedid, r.planned.text is not None) for rs in recorded for r in rs if r.new
    )
    assert new == [("r1", True), ("r2", False)]
    assert [t["kind"] for t in await stores[0].outbox()] == ["textback"]
