"""An admin's office filter (docs/inbox.md): on a PostgreSQL store shared by
many offices, an admin picks which office's inbox, threads and report the
pages show. Another office's are read only here - its answers, notes and
call-backs go from its own bridge, whose modem and PBX they belong to - so
the actions refuse while one is chosen.

The choice is a cookie, set by a form (CSRF-checked like every form) and
honoured only for an admin and an office the store still holds; anything
else is this bridge's own office.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bridge.store import StoreError, WebStore
from bridge.web.state import current_owner, inbox_of, over_https

OFFICE_COOKIE = "textback_office"
_MAX_ID = 64


@dataclass(frozen=True, slots=True)
class Viewing:
    """What the pages read: this office's store, or another office's (read only)."""

    store: WebStore
    office: str | None = None  # None: this bridge's own office

    @property
    def read_only(self) -> bool:
        return self.office is not None


_VIEWING: web.RequestKey[Viewing] = web.RequestKey("viewing", Viewing)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/office", choose_office)


def own_office(request: web.Request) -> str:
    return inbox_of(request).config.office.id


async def viewing(request: web.Request) -> Viewing:
    """The office this request's pages show (worked out once per request)."""
    found = request.get(_VIEWING)
    if found is None:
        found = request[_VIEWING] = await _viewing(request)
    return found


async def _viewing(request: web.Request) -> Viewing:
    store = inbox_of(request).deps.store
    wanted = request.cookies.get(OFFICE_COOKIE, "")[:_MAX_ID]
    if not wanted or wanted == own_office(request) or not current_owner(request).admin:
        return Viewing(store)
    try:
        return Viewing(await store.office_view(wanted), wanted)
    except StoreError:  # gone from the database, or never in it: this office's own
        return Viewing(store)


async def choices(request: web.Request) -> list[str]:
    """The offices an admin may pick, this one first (the filter shows with
    two or more); none for anyone else."""
    if not current_owner(request).admin:
        return []
    return [own_office(request), *await inbox_of(request).deps.store.other_offices()]


async def choose_office(request: web.Request) -> web.Response:
    inbox = inbox_of(request)
    if not current_owner(request).admin:
        raise web.HTTPForbidden(text="only an admin chooses another office")
    chosen = (await request.post()).get("office", "")
    if not isinstance(chosen, str) or chosen not in await choices(request):
        raise web.HTTPBadRequest(text="no such office here")
    response = web.HTTPSeeOther("/")
    if chosen == own_office(request):
        response.del_cookie(OFFICE_COOKIE, path="/")
    else:
        response.set_cookie(
            OFFICE_COOKIE, chosen, httponly=True, samesite="Strict", path="/",
            max_age=int(inbox.lifetime().total_seconds()),
            secure=over_https(request, inbox.deps.web),
        )  # fmt: skip
    raise response


async def refuse_if_elsewhere(request: web.Request) -> None:
    """Actions act on this office's threads only: with another office shown,
    a form left open on a thread must not land on this office's thread of
    the same number."""
    shown = await viewing(request)
    if shown.read_only:
        raise web.HTTPConflict(
            text=f"refused: the inbox shows office {shown.office} (read only) - choose"
            f" {own_office(request)} in the office filter to act on its threads"
        )
