"""The owner inbox in a real browser (issue 12's Done means): Debian's Chromium,
driven by Playwright, against the whole bridge over the AMI double and the
simulated modem. Each flow is what an owner does: log in, watch a missed
call arrive live, answer it and see the text leave the modem, work a thread
with a colleague, assign it, mark it handled. Every wait is on a condition
(the browser's own, or tests.support.polling), never a sleep."""

from __future__ import annotations

from pathlib import Path

from tests.support import inbox_pages as pages
from tests.support.browser import Chromium
from tests.support.expected import CALLER, trace
from tests.support.inbox import inbox_office
from tests.support.polling import until, until_true

CALLER_NATIONAL = "(512) 555-9876"  # CALLER as an office in the US reads it


async def test_an_owner_logs_in_and_out(tmp_path: Path, chromium: Chromium) -> None:
    async with inbox_office(tmp_path) as inbox:
        mike = await chromium.session()
        await mike.page.goto(inbox.url("/"))
        await pages.expect_login_form(mike.page)  # not logged in: the login page
        await pages.log_in(mike.page, inbox, "mike")
        await pages.expect_inbox(mike.page, "Mike")
        await pages.log_out(mike.page)
        await mike.page.goto(inbox.url("/"))
        await pages.expect_login_form(mike.page)
        assert mike.errors == []


async def test_a_missed_call_appears_live_with_a_count_in_the_title(
    tmp_path: Path, chromium: Chromium
) -> None:
    async with inbox_office(tmp_path) as inbox:
        mike = await chromium.session()
        await pages.log_in(mike.page, inbox, "mike")
        title = await mike.page.title()
        await pages.expect_no_row(mike.page, CALLER_NATIONAL)
        await inbox.office.missed_call(trace("02_noanswer.ami"))
        row = pages.inbox_row(mike.page, CALLER_NATIONAL)
        await row.wait_for()  # without a reload: the event stream brought it
        assert "Main line" in await row.inner_text()
        await pages.expect_title(mike.page, f"(1) {title}")
        assert mike.errors == []


async def test_an_answer_typed_in_the_thread_reaches_the_callers_phone(
    tmp_path: Path, chromium: Chromium
) -> None:
    async with inbox_office(tmp_path) as inbox:
        modem = inbox.office.modem
        decision = await inbox.office.missed_call(trace("02_noanswer.ami"))
        await until(lambda: len(modem.engine.sent) == 1)  # the text-back
        thread_id = await pages.thread_of(inbox, decision.linkedid)
        mike = await chromium.session()
        await pages.log_in(mike.page, inbox, "mike")
        await pages.inbox_row(mike.page, CALLER_NATIONAL).click()
        await pages.expect_thread(mike.page, thread_id)
        answer = "On my way - Mike, about 20 minutes"
        await pages.type_reply(mike.page, answer)
        await pages.expect_part_count(mike.page, 1)
        await pages.send_reply(mike.page)
        await until(lambda: len(modem.engine.sent) == 2, within=10)
        assert (modem.engine.sent[1].number, modem.engine.sent[1].text) == (CALLER, answer)
        await pages.expect_event(mike.page, answer)
        assert mike.errors == []


async def test_a_colleague_sees_who_is_viewing_and_the_answer_live(
    tmp_path: Path, chromium: Chromium
) -> None:
    async with inbox_office(tmp_path) as inbox:
        decision = await inbox.office.missed_call(trace("02_noanswer.ami"))
        thread_id = await pages.thread_of(inbox, decision.linkedid)
        mike, sam = await chromium.session(), await chromium.session()
        await pages.log_in(mike.page, inbox, "mike")
        await pages.log_in(sam.page, inbox, "sam")
        await pages.open_thread(sam.page, inbox, thread_id)
        await pages.open_thread(mike.page, inbox, thread_id)
        await pages.expect_presence(sam.page, "Mike", "viewing")
        await pages.expect_presence(mike.page, "Sam", "viewing")
        await pages.type_reply(mike.page, "Can do Thursday 9am")
        await pages.expect_presence(sam.page, "Mike", "typing")
        await pages.send_reply(mike.page)
        await pages.expect_event(sam.page, "Can do Thursday 9am")  # no reload on Sam's side
        await until(lambda: len(inbox.office.modem.engine.sent) == 2, within=10)
        assert mike.errors == sam.errors == []


async def test_a_thread_is_assigned_to_a_colleague(tmp_path: Path, chromium: Chromium) -> None:
    async with inbox_office(tmp_path) as inbox:
        decision = await inbox.office.missed_call(trace("02_noanswer.ami"))
        thread_id = await pages.thread_of(inbox, decision.linkedid)
        mike = await chromium.session()
        await pages.log_in(mike.page, inbox, "mike")
        await pages.open_thread(mike.page, inbox, thread_id)
        await pages.assign(mike.page, "sam")
        await pages.expect_assignee(mike.page, "sam")

        async def sams() -> bool:
            row = await inbox.office.bridge.store.inbox_row(thread_id)
            return row is not None and row.assigned_to == "sam"

        await until_true(sams)
        await mike.page.goto(inbox.url("/?view=mine"))
        await pages.expect_no_row(mike.page, CALLER_NATIONAL)  # Sam's now, not Mike's
        assert mike.errors == []


async def test_a_thread_is_marked_handled(tmp_path: Path, chromium: Chromium) -> None:
    async with inbox_office(tmp_path) as inbox:
        decision = await inbox.office.missed_call(trace("02_noanswer.ami"))
        thread_id = await pages.thread_of(inbox, decision.linkedid)
        mike = await chromium.session()
        await pages.log_in(mike.page, inbox, "mike")
        await pages.open_thread(mike.page, inbox, thread_id)
        await pages.mark_handled(mike.page)
        await pages.expect_status(mike.page, "handled")

        async def handled() -> bool:
            summary = await inbox.office.bridge.store.thread_summary(thread_id)
            return summary is not None and summary.status == "handled"

        await until_true(handled)
        await mike.page.goto(inbox.url("/"))
        await pages.expect_no_row(mike.page, CALLER_NATIONAL)  # open threads only
        await mike.page.goto(inbox.url("/?state=handled"))
        await pages.inbox_row(mike.page, CALLER_NATIONAL).wait_for()
        assert mike.errors == []
