"""The pages an owner reads: the inbox, a thread, and the fragments the live
updates fetch (the inbox's rows, a thread's events, who is there, the
health strip)."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bridge.core.inbox import VIEWS, WHO, Cursor, InboxPage, InboxQuery
from bridge.core.threads import ThreadEvent, ThreadSummary
from bridge.store import StoreError
from bridge.web import office_filter
from bridge.web.state import (
    Inbox,
    current_owner,
    inbox_of,
    lines_of,
    may_see,
    session_of,
)

# Where each thread event sits on the page: the caller's side or the office's.
SIDES = {"call": "caller", "in": "caller", "out": "office", "owner": "office",
         "alert": "system", "note": "note"}  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", inbox_page)
    router.add_get("/inbox/rows", inbox_rows)
    router.add_get("/health-strip", health_strip)
    router.add_get("/threads/{id:[0-9]{1,18}}", thread_page)
    router.add_get("/threads/{id:[0-9]{1,18}}/events", thread_events)
    router.add_get("/threads/{id:[0-9]{1,18}}/presence", thread_presence)


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, content_type="text/html", status=status)


async def common(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every full page's layout needs: who, the form token, the health strip."""
    inbox = inbox_of(request)
    session = session_of(request)
    return {
        "owner": current_owner(request),
        "offices": await office_filter.choices(request),
        "viewing": (await office_filter.viewing(request)).office,
        "csrf_token": inbox.signer.csrf_token(session.sid),
        "now": inbox.deps.clock(),
        "health": await health_values(inbox),
        **values,
    }


# ------------------------------------------------------------ the inbox


def inbox_query(request: web.Request) -> InboxQuery:
    """The filters from the address (view, state, q, after); anything unknown
    falls back to the default instead of failing."""
    params = request.query
    who = params.get("view", "all")
    view = params.get("state", "open")
    after = Cursor.parse(params.get("after", ""))
    return InboxQuery(
        owner_id=session_of(request).owner_id,
        who=who if who in WHO else "all",
        view=view if view in VIEWS else "open",
        lines=lines_of(request),
        search=params.get("q", "")[:100],
        after=after,
    )


def query_string(query: InboxQuery, **changes: str) -> str:
    values = {"view": query.who, "state": query.view, "q": query.search} | changes
    return urlencode({k: v for k, v in values.items() if v})


async def _page(request: web.Request) -> tuple[InboxQuery, InboxPage]:
    query = inbox_query(request)
    return query, await (await office_filter.viewing(request)).store.inbox_page(query)


def _rows_values(query: InboxQuery, page: InboxPage) -> dict[str, Any]:
    later = query_string(query, after=page.next.token()) if page.next else None
    return {
        "query": query,
        "rows": page.rows,
        "rows_url": "/inbox/rows?" + query_string(query, **_after(query)),
        "older_url": f"/?{later}" if later else None,
        "filter_url": lambda **changes: "/?" + query_string(query, **changes),
        "views": WHO,
        "states": VIEWS,
    }


def _after(query: InboxQuery) -> dict[str, str]:
    return {"after": query.after.token()} if query.after else {}


async def inbox_page(request: web.Request) -> web.Response:
    query, page = await _page(request)
    inbox = inbox_of(request)
    return html(inbox.render("inbox.html", **await common(request, **_rows_values(query, page))))


async def inbox_rows(request: web.Request) -> web.Response:
    """The list alone, for the live refresh."""
    query, page = await _page(request)
    inbox = inbox_of(request)
    values = _rows_values(query, page) | {"now": inbox.deps.clock()}
    return html(inbox.render("rows.html", **values))


# ------------------------------------------------------------ a thread


async def visible_thread(
    request: web.Request,
) -> tuple[Inbox, ThreadSummary, list[ThreadEvent]]:
    """The thread in the address, if this owner may see it; else 404 (the
    same whether it does not exist or is another line's)."""
    inbox = inbox_of(request)
    store = (await office_filter.viewing(request)).store
    found = await store.thread(int(request.match_info["id"]))
    if found is None or not may_see(request, found[0].line):
        raise web.HTTPNotFound(text="no such thread")
    return inbox, found[0], found[1]


async def thread_values(request: web.Request) -> dict[str, Any]:
    inbox, summary, events = await visible_thread(request)
    shown = await office_filter.viewing(request)
    store = shown.store
    row = await store.inbox_row(summary.id)
    canned = [
        (reply.name, inbox.deps.fill(reply.template, summary.line))
        for reply in inbox.deps.web.canned_replies
    ]
    return {
        "thread": summary,
        "row": row,
        "events": events,
        "sides": SIDES,
        "opted_out": summary.status == "opted_out" or await store.is_opted_out(summary.caller),
        "canned": canned,
        "owners": inbox.config.owners,
        "can_call": inbox.deps.call_back is not None and not shown.read_only,
        "presence": _presence(request, summary.id),
    }


def _presence(request: web.Request, thread_id: int) -> list[tuple[str, str]]:
    """Everyone else with the thread open: (name, viewing / typing)."""
    inbox = inbox_of(request)
    me = session_of(request).owner_id
    return [
        (owner.name if (owner := inbox.owner(owner_id)) else owner_id, state)
        for owner_id, state in sorted(inbox.hub.presence(thread_id).items())
        if owner_id != me
    ]


async def thread_page(request: web.Request) -> web.Response:
    values = await thread_values(request)
    return html(inbox_of(request).render("thread.html", **await common(request, **values)))


async def thread_events(request: web.Request) -> web.Response:
    values = await thread_values(request)
    return html(inbox_of(request).render("thread_events.html", **values))


async def thread_presence(request: web.Request) -> web.Response:
    _, summary, _ = await visible_thread(request)
    presence = _presence(request, summary.id)
    return html(inbox_of(request).render("presence.html", presence=presence, thread=summary))


# ------------------------------------------------------------ health


async def health_values(inbox: Inbox) -> dict[str, Any]:
    """The same facts as `textback health`, and the modem's own status."""
    deps = inbox.deps
    snapshot = deps.snapshot()
    backlog = None
    if deps.backlog is not None:
        with contextlib.suppress(StoreError):  # the store away: the strip says so below
            backlog = await deps.backlog()
    degraded = "; ".join(f"{name}: {why}" for name, why in snapshot.degraded.items())
    failure = backlog.last_failure if backlog and backlog.failed_last_hour else None
    return {
        "ami": snapshot.ami,
        "transports": list(deps.transports()),
        "backlog": backlog,
        "last_error": snapshot.store_words or degraded or inbox.hub.last_error or failure,
        "now": deps.clock(),
    }


async def health_strip(request: web.Request) -> web.Response:
    inbox = inbox_of(request)
    return html(inbox.render("health.html", health=await health_values(inbox)))
