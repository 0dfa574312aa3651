"""The inbox's pages as an owner uses them, for the browser tests: every
route, element id and word of the markup they rely on is here, in one place
(docs/inbox.md names the same ids for whoever changes the templates).

Each ``expect_*`` waits for its condition with the browser's own wait
(Playwright's locators retry until WAIT_MS), never a sleep.
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.browser import WAIT_MS
from tests.support.inbox import NAMES, PASSWORDS, InboxOffice
from tests.support.polling import until_true

Page = Any  # playwright.async_api.Page
Locator = Any

# The markup's names (bridge/web/templates).
LOGIN_FORM = "form#login-form"
OWNER_FIELD = "#login-owner"
PASSWORD_FIELD = "#login-password"
LOGIN_ERROR = "#login-message"
WHO_AM_I = "#who"
LOGOUT = "#logout"
INBOX_LIST = "#inbox"
INBOX_ROW = "#thread-list .thread-row"
THREAD = "#thread"
TIMELINE = "#event-list"
REPLY_BOX = "#reply-body"
REPLY_SEND = "#reply-send"
PART_COUNT = "#reply-parts"
PRESENCE = "#presence"
ASSIGN_SELECT = "#assignee"
ASSIGN_SEND = "#assign-save"
ASSIGNEE = "#thread-assigned"
HANDLED_FORM = "form#handled-form"
HANDLED = "#mark-done"
STATUS = "#thread-status"
LIVE = "body[data-stream=open]"  # the page's /events stream is connected
REPORT = "#report"
OFFICE_CHOICE = "#office-choice"
OFFICE_SHOW = "#office-show"
OFFICE_BANNER = "#office-banner"
REPORT_CHART = "#report svg"


async def log_in(page: Page, inbox: InboxOffice, owner: str) -> None:
    """Log in as ``owner`` with the right password and land on the inbox,
    its live stream connected."""
    await fill_login(page, inbox, owner, PASSWORDS[owner])
    await page.locator(INBOX_LIST).wait_for()
    await expect_live(page)


async def expect_live(page: Page) -> None:
    """The page listens on /events (what happens before would not reach it)."""
    await page.locator(LIVE).wait_for(state="attached")


async def fill_login(page: Page, inbox: InboxOffice, owner: str, password: str) -> Any:
    """Submit the login form; the response to the POST."""
    await page.goto(inbox.url("/login"))
    await page.fill(OWNER_FIELD, owner)
    await page.fill(PASSWORD_FIELD, password)
    # Wait for the page the POST loads too: a goto while it still loads would
    # interrupt it ("navigation interrupted by another navigation").
    async with (
        page.expect_navigation(),
        page.expect_response(
            lambda r: r.url.endswith("/login") and r.request.method == "POST"
        ) as posted,
    ):
        await page.locator(LOGIN_FORM).evaluate("form => form.requestSubmit()")
    return await posted.value


async def expect_login_form(page: Page) -> None:
    await page.locator(LOGIN_FORM).wait_for()
    assert re.search(r"/login(\?|$)", page.url), page.url


async def expect_inbox(page: Page, owner_name: str) -> None:
    await page.locator(INBOX_LIST).wait_for()
    await expect_text(page.locator(WHO_AM_I), owner_name)


async def log_out(page: Page) -> None:
    await page.click(LOGOUT)
    await page.locator(LOGIN_FORM).wait_for()


def inbox_row(page: Page, caller: str) -> Locator:
    """The inbox's row for ``caller`` (as the page shows the number)."""
    return page.locator(INBOX_ROW, has_text=caller).first


async def expect_no_row(page: Page, caller: str) -> None:
    await page.locator(INBOX_LIST).wait_for()
    await expect(page.locator(INBOX_ROW, has_text=caller)).to_have_count(0, timeout=WAIT_MS)


async def thread_of(inbox: InboxOffice, linkedid: str) -> int:
    """The thread a decided call joined, from the store."""
    found: list[int] = []

    async def stored() -> bool:
        call = await inbox.office.bridge.store.call(linkedid)
        if call is not None and call.thread_id is not None:
            found.append(call.thread_id)
        return bool(found)

    await until_true(stored)
    return found[0]


async def open_thread(page: Page, inbox: InboxOffice, thread_id: int) -> None:
    await page.goto(inbox.url(f"/threads/{thread_id}"))
    await expect_thread(page, thread_id)
    await expect_live(page)


async def expect_thread(page: Page, thread_id: int) -> None:
    await page.locator(f"{THREAD}[data-thread='{thread_id}']").wait_for()


async def type_reply(page: Page, words: str) -> None:
    """Type as a person does, key by key (the page hears each: part count, typing)."""
    await page.locator(REPLY_BOX).press_sequentially(words)


async def expect_part_count(page: Page, parts: int) -> None:
    """The count the server made of what is in the box: ``parts`` texts."""
    counted = page.locator(f"{PART_COUNT}[data-parts='{parts}']")
    await expect_text(counted, f"{parts} text" if parts == 1 else f"{parts} texts")


async def send_reply(page: Page) -> None:
    await page.click(REPLY_SEND)


async def expect_event(page: Page, words: str) -> None:
    """``words`` shown on the thread's timeline (it may arrive live)."""
    await page.locator(TIMELINE).get_by_text(words, exact=False).first.wait_for()


async def expect_presence(page: Page, owner_name: str, doing: str) -> None:
    """The page says ``owner_name`` is ``doing`` (viewing, typing) this thread."""
    marker = page.locator(PRESENCE).get_by_text(re.compile(rf"{owner_name}\b.*\b{doing}"))
    await marker.first.wait_for()


async def assign(page: Page, owner: str) -> None:
    await page.select_option(ASSIGN_SELECT, owner)
    await page.click(ASSIGN_SEND)


async def expect_assignee(page: Page, owner: str) -> None:
    """The thread is ``owner``'s (an id: mike), by the page's word and mark."""
    await page.locator(f"{ASSIGNEE}[data-assigned='{owner}']").wait_for()
    await expect_text(page.locator(ASSIGNEE), NAMES[owner])


async def mark_handled(page: Page) -> None:
    await page.click(HANDLED)


async def expect_status(page: Page, status: str) -> None:
    """The thread's status (as stored: handled, replied...)."""
    await page.locator(f"{STATUS}[data-status='{status}']").wait_for()


async def open_report(page: Page, inbox: InboxOffice, period: str) -> None:
    """The report for ``period`` (7, 30, 90, all), its charts drawn."""
    await page.goto(inbox.url(f"/report?period={period}"))
    await page.locator(REPORT).wait_for()
    await page.locator(REPORT_CHART).first.wait_for()


async def expect_title(page: Page, title: str) -> None:
    await expect(page).to_have_title(title, timeout=WAIT_MS)


async def expect_text(locator: Locator, words: str) -> None:
    """Until ``locator``'s text holds ``words`` (any case; it may be swapped in live)."""
    await expect(locator).to_contain_text(words, ignore_case=True, timeout=WAIT_MS)


def expect(locator: Locator) -> Any:
    """Playwright's retrying assertions (imported here: without Playwright the
    browser fixture skips before any page helper runs)."""
    from playwright.async_api import expect as playwright_expect

    return playwright_expect(locator)
