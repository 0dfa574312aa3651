"""What an owner does on a thread page: answer the caller (queued through the
outbox exactly as an answer by SMS is - bridge.core.texts.owner_answer and
the store's owner_action), a note (never texted), assign, mark handled or
called back, call back; and the reply box's live part count.

Forms post and are sent back to the thread (303); a refusal (an empty
answer, a caller who opted out) is the thread page again with the reason.
"""

from __future__ import annotations

import logging
import unicodedata

from aiohttp import web

from bridge.core import templates
from bridge.core.events import OwnerActed, TextQueued
from bridge.core.texts import OwnerAction, owner_answer
from bridge.web import office_filter, pages
from bridge.web.state import current_owner, inbox_of

log = logging.getLogger(__name__)

MAX_ANSWER = 1000  # characters: 7 texts at most, or a paste gone wrong
MAX_NOTE = 2000
_THREAD = "/threads/{id:[0-9]{1,18}}"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(f"{_THREAD}/reply", reply)
    router.add_post(f"{_THREAD}/note", note)
    router.add_post(f"{_THREAD}/assign", assign)
    router.add_post(f"{_THREAD}/handled", handled)
    router.add_post(f"{_THREAD}/call", call_back)
    router.add_post(f"{_THREAD}/parts", parts)


def clean(text: str) -> str:
    """What an owner typed, as it may go out: line ends as newlines, no other
    control or format characters (they reach the modem and terminals)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf")
    ).strip()


async def _field(request: web.Request, name: str) -> str:
    value = (await request.post()).get(name, "")
    return value if isinstance(value, str) else ""


def back(thread_id: int) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/threads/{thread_id}")


async def refused(request: web.Request, message: str, status: int) -> web.Response:
    values = await pages.thread_values(request)
    body = inbox_of(request).render(
        "thread.html", **await pages.common(request, **values, message=message)
    )
    return pages.html(body, status)


async def reply(request: web.Request) -> web.Response:
    await office_filter.refuse_if_elsewhere(request)
    inbox, summary, _ = await pages.visible_thread(request)
    owner = current_owner(request)
    body = clean(await _field(request, "body"))
    if not body:
        return await refused(request, "Nothing to send: write the answer first.", 400)
    if len(body) > MAX_ANSWER:
        return await refused(request, f"At most {MAX_ANSWER} characters in one answer.", 400)
    store = inbox.deps.store
    if summary.status == "opted_out" or await store.is_opted_out(summary.caller):
        return await refused(
            request, "This caller opted out of texts, so nothing was sent. Call them instead.", 409
        )
    size = templates.sms_size(body)
    action = owner_answer(summary.id, summary.caller, body, size.parts, inbox.deps.clock())
    await store.owner_action(owner.id, action)
    log.info("%s answered thread #%d from the inbox", owner.id, summary.id)
    inbox.bus.publish(TextQueued("reply"))
    inbox.bus.publish(OwnerActed(summary.id, owner.id, "reply"))
    raise back(summary.id)


async def note(request: web.Request) -> web.Response:
    await office_filter.refuse_if_elsewhere(request)
    inbox, summary, _ = await pages.visible_thread(request)
    owner = current_owner(request)
    body = clean(await _field(request, "body"))
    if not body or len(body) > MAX_NOTE:
        return await refused(request, f"A note is 1 to {MAX_NOTE} characters.", 400)
    await inbox.deps.store.add_note(summary.id, owner.id, body)
    inbox.bus.publish(OwnerActed(summary.id, owner.id, "note"))
    raise back(summary.id)


async def assign(request: web.Request) -> web.Response:
    await office_filter.refuse_if_elsewhere(request)
    inbox, summary, _ = await pages.visible_thread(request)
    owner = current_owner(request)
    chosen = await _field(request, "assignee")
    if chosen and inbox.owner(chosen) is None:
        return await refused(request, "No such owner to assign it to.", 400)
    await inbox.deps.store.assign(summary.id, chosen or None, by=owner.id)
    inbox.bus.publish(OwnerActed(summary.id, owner.id, "assigned"))
    raise back(summary.id)


async def handled(request: web.Request) -> web.Response:
    await office_filter.refuse_if_elsewhere(request)
    inbox, summary, _ = await pages.visible_thread(request)
    owner = current_owner(request)
    how = await _field(request, "how")
    if how not in ("called", "done"):
        return await refused(request, "Mark it handled or called back.", 400)
    await inbox.deps.store.owner_action(owner.id, OwnerAction(summary.id, how))
    log.info("thread #%d handled by %s from the inbox (%s)", summary.id, owner.id, how)
    inbox.bus.publish(OwnerActed(summary.id, owner.id, how))
    raise back(summary.id)


async def call_back(request: web.Request) -> web.Response:
    """Click-to-call, when the app has it: its words, as a fragment."""
    await office_filter.refuse_if_elsewhere(request)
    inbox, summary, _ = await pages.visible_thread(request)
    if inbox.deps.call_back is None:
        raise web.HTTPNotFound(text="calling from the inbox is not set up")
    words = await inbox.deps.call_back(summary.id, current_owner(request).id)
    return pages.html(inbox.render("said.html", words=words))


async def parts(request: web.Request) -> web.Response:
    """The reply box's size as the owner types; they are marked typing."""
    inbox, summary, _ = await pages.visible_thread(request)
    inbox.hub.typing(summary.id, current_owner(request).id)
    body = clean(await _field(request, "body"))
    size = templates.sms_size(body)
    return pages.html(
        inbox.render("parts.html", chars=len(body), size=size, too_long=len(body) > MAX_ANSWER)
    )
