"""An admin's office filter in the inbox, over a real socket on a real
PostgreSQL database shared by two offices (bridge/web/office_filter.py):
the admin of office south picks north and reads north's inbox, threads and
report, read only; owners who are not admins see their own office only, and
whatever a cookie says, nobody acts on another office's threads from here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store import Store
from bridge.store.postgres import PostgresOptions, PostgresStore
from bridge.web.office_filter import OFFICE_COOKIE
from tests.support.postgres_server import PostgresServer
from tests.support.store_values import OTHER, Clock, a_text, decision, received
from tests.support.web import WebRig, served_inbox

NORTH, SOUTH = "north", "south"
NORTH_CALLER_NAME = "NORTH CUSTOMER"


@pytest.fixture
async def south(tmp_path: Path, postgres_server: PostgresServer) -> AsyncIterator[WebRig]:
    """South's inbox; north, another office in the same database, has a lead
    (#1: a missed call texted back, and the caller's reply)."""
    url = await postgres_server.fresh("web_offices")
    options = PostgresOptions(office=NORTH)
    async with await PostgresStore.open(url, clock=Clock(), options=options) as north:
        await north.record_decision(
            decision("north-1", caller_name=NORTH_CALLER_NAME), text=a_text()
        )
        await north.store_incoming(received("Can you come today?"), None)

    async def south_store(clock: Clock) -> Store:
        return await PostgresStore.open(url, clock=clock, options=PostgresOptions(office=SOUTH))

    async with served_inbox(tmp_path, open_store=south_store, office=SOUTH) as rig:
        yield rig


async def choose(rig: WebRig, office: str) -> int:
    response = await rig.client.post(
        "/office", data={"office": office, "csrf_token": await rig.token("/")},
        allow_redirects=False,
    )  # fmt: skip
    return response.status


async def test_an_admin_reads_another_offices_inbox_thread_and_report(south: WebRig) -> None:
    await south.store.record_decision(decision("south-1", caller=OTHER), text=a_text(OTHER))
    await south.login("ana")
    page = await (await south.client.get("/")).text()
    assert 'id="office-filter"' in page
    assert '<option value="south" selected>south (this one)</option>' in page
    assert '<option value="north">north</option>' in page
    assert "office-banner" not in page
    assert NORTH_CALLER_NAME not in page  # this office's own inbox first

    assert await choose(south, NORTH) == 303
    page = await (await south.client.get("/")).text()
    assert NORTH_CALLER_NAME in page
    assert 'id="thread-row-1"' in page  # north's #1 (south's own #1 is OTHER's)
    assert "Showing office <strong>north</strong>, read only" in page
    assert '<option value="north" selected>north</option>' in page
    rows = await (await south.client.get("/inbox/rows")).text()
    assert NORTH_CALLER_NAME in rows

    thread = await (await south.client.get("/threads/1")).text()
    assert "Can you come today?" in thread
    assert NORTH_CALLER_NAME in thread
    assert 'id="reply-form"' not in thread
    assert 'id="note-form"' not in thread

    report = await (await south.client.get("/report")).text()
    assert "Showing office <strong>north</strong>" in report

    assert await choose(south, SOUTH) == 303  # back to its own office
    page = await (await south.client.get("/")).text()
    assert NORTH_CALLER_NAME not in page
    assert "office-banner" not in page


async def test_nothing_is_done_to_a_thread_while_another_office_is_shown(
    south: WebRig,
) -> None:
    """A thread page of south's #1 left open in one tab, north chosen in
    another: the note must land nowhere, not on south's #1."""
    await south.store.record_decision(decision("south-1", caller=OTHER), text=a_text(OTHER))
    await south.login("ana")
    form_token = await south.token("/threads/1")
    assert await choose(south, NORTH) == 303
    for action, fields in (("note", {"body": "for #1"}), ("handled", {"how": "done"})):
        response = await south.client.post(
            f"/threads/1/{action}", data=fields | {"csrf_token": form_token},
            allow_redirects=False,
        )  # fmt: skip
        assert response.status == 409
        assert "choose south in the office filter" in await response.text()
    found = await south.store.thread(1)
    assert found is not None
    assert found[0].status != "handled"
    assert [event for event in found[1] if event.kind == "note"] == []


async def test_an_owner_who_is_not_an_admin_sees_only_this_office(south: WebRig) -> None:
    await south.login("mike")
    page = await (await south.client.get("/")).text()
    assert 'id="office-filter"' not in page
    assert await choose(south, NORTH) == 403
    south.client.session.cookie_jar.update_cookies({OFFICE_COOKIE: NORTH})  # forged
    page = await (await south.client.get("/")).text()
    assert NORTH_CALLER_NAME not in page
    assert "office-banner" not in page


async def test_an_office_not_in_the_database_is_refused_and_a_cookie_for_one_ignored(
    south: WebRig,
) -> None:
    await south.login("ana")
    assert await choose(south, "nowhere") == 400
    south.client.session.cookie_jar.update_cookies({OFFICE_COOKIE: "nowhere"})
    page = await (await south.client.get("/")).text()
    assert "office-banner" not in page
    assert '<option value="south" selected>' in page
    assert NORTH_CALLER_NAME not in page
