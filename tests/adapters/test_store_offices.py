"""Many offices in one PostgreSQL database (migrations/0014_offices.sql):
each bridge's store sees and writes its own office's rows only, numbers its
threads from 1, and keeps its own opt-outs, passwords and call ids - with no
statement of the store naming the office (row security does)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from bridge.core.inbox import InboxQuery
from bridge.store import ReadOnlyStore, Store, StoreError
from bridge.store.postgres import MIGRATIONS, PostgresOptions, PostgresStore
from tests.support.postgres_server import PostgresServer
from tests.support.store_values import (
    CALLER,
    LATER,
    OTHER,
    T0,
    Clock,
    a_text,
    decision,
    received,
    stop,
)

NORTH, SOUTH = "north", "south"


async def _open(url: str, office: str) -> Store:
    return await PostgresStore.open(url, clock=Clock(), options=PostgresOptions(office=office))


@pytest.fixture
async def offices(postgres_server: PostgresServer) -> AsyncIterator[tuple[Store, Store, str]]:
    url = await postgres_server.fresh("offices")
    north, south = await _open(url, NORTH), await _open(url, SOUTH)
    try:
        yield north, south, url
    finally:
        await north.close()
        await south.close()


async def test_each_office_numbers_its_threads_from_one(offices: tuple[Store, Store, str]) -> None:
    north, south, _ = offices
    # The same linkedid at two PBXes (each Asterisk counts its own) is two calls.
    assert await north.record_decision(decision("1795617278.10"), text=a_text())
    assert await south.record_decision(decision("1795617278.10"), text=a_text())
    assert await north.record_decision(decision("1795617278.11", caller=OTHER), text=None)
    assert [t.id for t in await north.threads()] == [2, 1]
    assert [t.id for t in await south.threads()] == [1]
    assert len(await south.recent_calls()) == 1
    assert [t.to_number for t in await south.due_texts(LATER)] == [CALLER]


async def test_an_office_sees_nothing_of_another(offices: tuple[Store, Store, str]) -> None:
    north, south, _ = offices
    await north.record_decision(decision(), text=a_text())
    await north.store_incoming(received("Can you come today?"), None)
    await north.set_password_hash("mike", "north's hash")
    assert await south.threads() == []
    assert await south.thread(1) is None
    assert await south.recent_calls() == []
    assert await south.outbox() == []
    assert await south.inbox() == []
    assert await south.due_texts(LATER) == []
    assert (await south.report(None)).missed_calls == 0
    assert await south.password_hash("mike") is None
    # ... and what one office does to "its" thread 1 never reaches another's.
    await south.record_decision(decision("s-1"), text=None)
    await south.set_password_hash("mike", "south's hash")
    assert await north.password_hash("mike") == "north's hash"
    found = await north.thread(1)
    assert found is not None
    assert found[0].calls == 1


async def test_stop_holds_in_the_office_it_was_sent_to(offices: tuple[Store, Store, str]) -> None:
    north, south, _ = offices
    await north.record_decision(decision("n-1"), text=a_text())
    await south.record_decision(decision("s-1"), text=a_text())
    await north.store_incoming(received("STOP"), "stop", opt_out=stop())
    assert await north.is_opted_out(CALLER)
    assert not await south.is_opted_out(CALLER)  # another business's number: its own list
    assert [t["state"] for t in await south.outbox()] == ["queued"]


async def test_every_row_carries_its_office(offices: tuple[Store, Store, str]) -> None:
    north, south, url = offices
    await north.record_decision(decision("n-1"), text=a_text())
    await south.record_decision(decision("s-1"), text=a_text())
    admin = await asyncpg.connect(url.replace("textback@", "postgres@"))  # bypasses row security
    try:
        for table in ("calls", "threads", "outbox"):
            rows = await admin.fetch(f"SELECT office, count(*) FROM {table} GROUP BY 1 ORDER BY 1")  # noqa: S608 -- the test's own names
            assert [tuple(row) for row in rows] == [(NORTH, 1), (SOUTH, 1)], table
        offices_seen = await admin.fetch("SELECT id FROM offices ORDER BY id")
        assert {NORTH, SOUTH} <= {row["id"] for row in offices_seen}  # (and the template's)
    finally:
        await admin.close()


async def test_a_connection_that_names_no_office_reads_nothing(
    offices: tuple[Store, Store, str],
) -> None:
    north, _, url = offices
    await north.record_decision(decision(), text=a_text())
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.UndefinedObjectError, match=r"textback\.office"):
            await conn.fetch("SELECT * FROM threads")
    finally:
        await conn.close()


async def test_a_role_row_security_does_not_hold_for_is_refused(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.fresh("superuser")
    with pytest.raises(StoreError, match="superuser or BYPASSRLS") as refused:
        await PostgresStore.open(url.replace("textback@", "postgres@"))
    assert "ordinary role" in str(refused.value)


async def test_a_database_of_one_office_becomes_the_first_bridges_office(
    postgres_server: PostgresServer,
) -> None:
    """Before version 14 a database was one office's: migrated by office
    north's bridge, its rows are north's and north's numbers go on from them."""
    url = await postgres_server.empty("upgrade")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in MIGRATIONS[:3]:  # 11, 12, 13
            await conn.execute(migration.script)
        await conn.execute("INSERT INTO schema_version VALUES (13)")
        await conn.execute(
            "INSERT INTO threads (caller, status, created_at, last_activity_at)"
            " VALUES ($1, 'new', $2, $2)",
            CALLER,
            T0.isoformat(),
        )
    finally:
        await conn.close()
    north = await _open(url, NORTH)
    south = await _open(url, SOUTH)
    try:
        assert [t.id for t in await north.threads()] == [1]
        assert await south.threads() == []
        await north.record_decision(decision("n-2", caller=OTHER), text=None)
        await south.record_decision(decision("s-1", caller=OTHER), text=None)
        assert [t.id for t in await north.threads()] == [2, 1]
        assert [t.id for t in await south.threads()] == [1]
    finally:
        await north.close()
        await south.close()


async def test_an_admin_reads_another_office_through_a_view_of_its_own(
    offices: tuple[Store, Store, str],
) -> None:
    north, south, _ = offices
    await north.record_decision(decision("n-1"), text=a_text())
    assert NORTH in await south.other_offices()
    assert SOUTH not in await south.other_offices()  # its own is not "other"
    view = await south.office_view(NORTH)
    page = await view.inbox_page(InboxQuery(owner_id="mike"))
    assert [row.summary.caller for row in page.rows] == [CALLER]
    found = await view.thread(1)
    assert found is not None
    assert found[0].calls == 1
    assert await south.threads() == []  # south's own store still sees south only
    with pytest.raises(ReadOnlyStore):
        await view.add_note(1, "mike", "written from another office")
    with pytest.raises(StoreError, match="no office 'nowhere'"):
        await south.office_view("nowhere")
    with pytest.raises(StoreError):
        await south.office_view(SOUTH)


async def test_a_thread_number_is_taken_without_waiting_for_another_transaction(
    offices: tuple[Store, Store, str],
) -> None:
    """Migration 15: one office's threads come from its sequence, so a
    transaction that opened a thread and has not committed yet holds up no
    other (version 14's counter row made the second wait for the first's
    commit); a number rolled back is skipped."""
    _, _, url = offices
    settings = {"textback.office": NORTH}
    first = await asyncpg.connect(url, server_settings=settings)
    second = await asyncpg.connect(url, server_settings=settings)
    insert = (
        "INSERT INTO threads (caller, status, created_at, last_activity_at)"
        " VALUES ($1, 'new', $2, $2) RETURNING id"
    )
    try:
        open_transaction = first.transaction()
        await open_transaction.start()
        assert await first.fetchval(insert, CALLER, T0.isoformat()) == 1
        async with asyncio.timeout(5):  # not held up by the first, still open
            assert await second.fetchval(insert, OTHER, T0.isoformat()) == 2
        await open_transaction.rollback()
        assert await second.fetchval(insert, CALLER, T0.isoformat()) == 3
    finally:
        await first.close()
        await second.close()


async def test_each_offices_numbers_go_on_through_the_upgrade_to_sequences(
    postgres_server: PostgresServer,
) -> None:
    """A database at version 14 (each office's last number in thread_numbers)
    upgraded to 15: each office's next thread takes the number after its last."""
    url = await postgres_server.empty("sequences")
    for office, threads in ((NORTH, 3), (SOUTH, 1)):
        conn = await asyncpg.connect(url, server_settings={"textback.office": office})
        try:
            if office == NORTH:
                await conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                for migration in MIGRATIONS[:4]:  # 11 to 14
                    await conn.execute(migration.script)
                await conn.execute("INSERT INTO schema_version VALUES (14)")
            await conn.execute(
                "INSERT INTO offices (id, first_seen) VALUES ($1, $2)", office, T0.isoformat()
            )
            for _ in range(threads):
                await conn.execute(
                    "INSERT INTO threads (caller, status, created_at, last_activity_at)"
                    " VALUES ($1, 'handled', $2, $2)",
                    CALLER,
                    T0.isoformat(),
                )
        finally:
            await conn.close()
    north, south = await _open(url, NORTH), await _open(url, SOUTH)
    try:
        await north.record_decision(decision("n-4"), text=None)
        await south.record_decision(decision("s-2"), text=None)
        assert [t.id for t in await north.threads()] == [4, 3, 2, 1]
        assert [t.id for t in await south.threads()] == [2, 1]
    finally:
        await north.close()
        await south.close()
