"""The inbox's defences, seen from a real browser (issue 12's Done means): a
homeowner's hostile text is shown as text and runs nothing; a form posted
without its CSRF token is refused and changes nothing; five wrong passwords
and the sixth try is throttled, even with the right one."""

from __future__ import annotations

from pathlib import Path

from tests.support import inbox_pages as pages
from tests.support.browser import Chromium
from tests.support.expected import CALLER, trace
from tests.support.inbox import PASSWORDS, inbox_office
from tests.support.polling import until_true

HOSTILE = (
    "<script>window.pwned = 'script'; alert('script')</script>"
    "<img src=x onerror=\"window.pwned = 'img'; alert('img')\"> fix my roof"
)


async def test_a_hostile_reply_is_shown_as_text_and_runs_nothing(
    tmp_path: Path, chromium: Chromium
) -> None:
    async with inbox_office(tmp_path) as inbox:
        decision = await inbox.office.missed_call(trace("02_noanswer.ami"))
        thread_id = await pages.thread_of(inbox, decision.linkedid)
        inbox.office.modem.receive(CALLER, HOSTILE)

        async def filed() -> bool:
            return any(row["body"] == HOSTILE for row in await inbox.office.bridge.store.inbox())

        await until_true(filed)
        mike = await chromium.session()
        await pages.log_in(mike.page, inbox, "mike")
        # In the inbox's row (the last message) and on the thread: the words, literally.
        await pages.expect_text(pages.inbox_row(mike.page, "fix my roof"), "<script>")
        await pages.open_thread(mike.page, inbox, thread_id)
        await pages.expect_event(mike.page, HOSTILE)
        page = mike.page
        assert await page.locator(f"{pages.TIMELINE} script").count() == 0
        assert await page.locator(f"{pages.TIMELINE} img").count() == 0
        assert await page.evaluate("window.pwned === undefined")
        assert mike.dialogs == []
        assert mike.errors == []  # not even a refusal: nothing tried to run


async def test_a_form_without_its_csrf_token_is_refused(tmp_path: Path, chromium: Chromium) -> None:
    async with inbox_office(tmp_path) as inbox:
        decision = await inbox.office.missed_call(trace("02_noanswer.ami"))
        thread_id = await pages.thread_of(inbox, decision.linkedid)
        mike = await chromium.session()
        await pages.log_in(mike.page, inbox, "mike")
        await pages.open_thread(mike.page, inbox, thread_id)
        page = mike.page
        # As a page on another site would post it: the same form, no token.
        await page.locator(pages.HANDLED_FORM).evaluate(
            "form => { form.querySelector('[name=csrf_token]').remove();"
            " form.setAttribute('hx-boost', 'false'); }"
        )
        async with page.expect_response(lambda r: r.request.method == "POST") as posted:
            await page.locator(pages.HANDLED_FORM).evaluate(
                "form => HTMLFormElement.prototype.submit.call(form)"
            )
        assert (await posted.value).status == 403
        summary = await inbox.office.bridge.store.thread_summary(thread_id)
        assert summary is not None
        assert summary.status != "handled"


async def test_five_wrong_passwords_and_the_next_try_is_throttled(
    tmp_path: Path, chromium: Chromium
) -> None:
    async with inbox_office(tmp_path) as inbox:
        browser = await chromium.session()
        message = browser.page.locator(pages.LOGIN_ERROR)
        for _ in range(4):
            response = await pages.fill_login(browser.page, inbox, "mike", "not the password")
            assert response.status == 401
            await pages.expect_text(message, "do not match")
        fifth = await pages.fill_login(browser.page, inbox, "mike", "not the password")
        assert fifth.status == 429  # the fifth wrong one starts the wait
        # Now the right password is refused too, until the wait is over.
        response = await pages.fill_login(browser.page, inbox, "mike", PASSWORDS["mike"])
        assert response.status == 429
        assert int(response.headers["retry-after"]) > 0
        await pages.expect_text(message, "too many wrong passwords")
        # Sam, from another browser on the same address, is throttled too (per address).
        other = await chromium.session()
        response = await pages.fill_login(other.page, inbox, "sam", PASSWORDS["sam"])
        assert response.status == 429
