"""An admin's office filter in a real browser (Debian's Chromium): two
offices in one real PostgreSQL database, the inbox of office south; its
admin picks north in the top bar, reads north's thread without a form to
act on it, and goes back to south. Every wait is the browser's own."""

from __future__ import annotations

from pathlib import Path

from bridge.store import Store
from bridge.store.postgres import PostgresOptions, PostgresStore
from tests.support import inbox_pages as pages
from tests.support.browser import Chromium
from tests.support.postgres_server import PostgresServer
from tests.support.store_values import OTHER, Clock, a_text, decision, received
from tests.support.web import PASSWORD, served_inbox

NORTH_NAME, SOUTH_NAME = "NORTH CUSTOMER", "SOUTH CUSTOMER"


async def test_an_admin_looks_at_another_office_and_comes_back(
    tmp_path: Path, chromium: Chromium, postgres_server: PostgresServer
) -> None:
    url = await postgres_server.fresh("browser_offices")
    async with await PostgresStore.open(url, options=PostgresOptions(office="north")) as north:
        await north.record_decision(decision("north-1", caller_name=NORTH_NAME), text=a_text())
        await north.store_incoming(received("Can you come today?"), None)

    async def south_store(clock: Clock) -> Store:
        return await PostgresStore.open(url, clock=clock, options=PostgresOptions(office="south"))

    async with served_inbox(tmp_path, open_store=south_store, office="south") as rig:
        await rig.store.record_decision(
            decision("south-1", caller=OTHER, caller_name=SOUTH_NAME), text=a_text(OTHER)
        )
        base = str(rig.client.make_url("")).rstrip("/")
        ana = await chromium.session()
        page = ana.page
        await page.goto(f"{base}/login")
        await page.fill(pages.OWNER_FIELD, "ana")
        await page.fill(pages.PASSWORD_FIELD, PASSWORD)
        async with page.expect_navigation():
            await page.click("#login-submit")
        await pages.inbox_row(page, SOUTH_NAME).wait_for()

        await page.select_option(pages.OFFICE_CHOICE, "north")
        async with page.expect_navigation():
            await page.click(pages.OFFICE_SHOW)
        await pages.expect_text(page.locator(pages.OFFICE_BANNER), "Showing office north")
        await pages.expect_no_row(page, SOUTH_NAME)
        await pages.inbox_row(page, NORTH_NAME).click()
        await pages.expect_text(page.locator(pages.TIMELINE), "Can you come today?")
        assert await page.locator(pages.REPLY_BOX).count() == 0  # read only: no forms
        assert await page.locator(pages.HANDLED_FORM).count() == 0

        await page.select_option(pages.OFFICE_CHOICE, "south")
        async with page.expect_navigation():
            await page.click(pages.OFFICE_SHOW)
        await pages.inbox_row(page, SOUTH_NAME).wait_for()
        assert await page.locator(pages.OFFICE_BANNER).count() == 0
        await pages.expect_no_row(page, NORTH_NAME)
        assert ana.errors == []
