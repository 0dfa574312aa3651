"""Screenshots of the inbox, a thread and the report page at a desktop's and
a phone's width, kept as the run's artifacts (build/screenshots, or the folder
$TEXTBACK_SCREENSHOTS names). The copies embedded in docs/inbox.md are these,
made with TEXTBACK_SCREENSHOTS=docs/img. Each page is also checked the way a
person on a phone would notice: nothing wider than the screen, no script
error on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.sim.leads import LINES, SimClock, seed_leads
from bridge.store import Store
from tests.support import inbox_pages as pages
from tests.support.browser import DESKTOP, PHONE, Chromium, Session
from tests.support.expected import CALLER, trace
from tests.support.inbox import InboxOffice, inbox_office
from tests.support.polling import until_true

WIDTHS = {"desktop": DESKTOP, "phone": PHONE}


async def seeded(tmp_path: Path, leads: int = 40) -> None:
    """A few weeks of an office's leads in tmp_path/textback.db, before the bridge starts."""
    clock = SimClock()
    async with await Store.open(tmp_path / "textback.db", clock=clock) as store:
        await seed_leads(store, clock, leads, days=14)


async def a_fresh_lead(inbox: InboxOffice) -> int:
    """A missed call just now, texted back, and the caller's answer: the thread shown."""
    decision = await inbox.office.missed_call(trace("07_voicemail_left.ami"))
    thread_id = await pages.thread_of(inbox, decision.linkedid)
    inbox.office.modem.receive(CALLER, "Hi, water is coming through the kitchen ceiling, urgent")

    async def replied() -> bool:
        summary = await inbox.office.bridge.store.thread_summary(thread_id)
        return summary is not None and summary.status == "replied"

    await until_true(replied)
    return thread_id


async def fits_the_screen(session: Session) -> None:
    """Nothing on the page is wider than the window (no sideways scrolling)."""
    overflow = await session.page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px wider than the screen"


@pytest.mark.parametrize("width", WIDTHS)
async def test_screenshots_of_the_inbox_and_a_thread(
    tmp_path: Path, chromium: Chromium, width: str
) -> None:
    await seeded(tmp_path)
    async with inbox_office(tmp_path, lines=LINES) as inbox:
        thread_id = await a_fresh_lead(inbox)
        mike = await chromium.session(viewport=WIDTHS[width])
        await pages.log_in(mike.page, inbox, "mike")
        await pages.inbox_row(mike.page, "(512) 555-9876").wait_for()
        await fits_the_screen(mike)
        shot = await mike.screenshot(f"inbox-{width}")
        assert shot.stat().st_size > 10_000
        await pages.open_thread(mike.page, inbox, thread_id)
        await pages.expect_event(mike.page, "kitchen ceiling")
        await pages.type_reply(mike.page, "On my way, 20 minutes - Mike")
        await pages.expect_part_count(mike.page, 1)
        await fits_the_screen(mike)
        shot = await mike.screenshot(f"thread-{width}")
        assert shot.stat().st_size > 10_000
        assert mike.errors == []


@pytest.mark.parametrize("width", WIDTHS)
async def test_screenshots_of_the_report(tmp_path: Path, chromium: Chromium, width: str) -> None:
    await seeded(tmp_path, leads=120)
    async with inbox_office(tmp_path, lines=LINES) as inbox:
        mike = await chromium.session(viewport=WIDTHS[width])
        await pages.log_in(mike.page, inbox, "mike")
        answer = await mike.page.goto(inbox.url("/report?days=30"))
        if answer.status == 404:  # the report page comes with branch webreport
            pytest.skip("NO REPORT PAGE yet: /report answers 404 (branch webreport not merged)")
        await pages.open_report(mike.page, inbox, days=30)
        await fits_the_screen(mike)
        shot = await mike.screenshot(f"report-{width}")
        assert shot.stat().st_size > 10_000
        assert mike.errors == []
