"""The inbox's web server: aiohttp, its middlewares (security headers, the
login, CSRF), login and logout, the live stream, and the supervised job that
serves it (AppRunner/TCPSite, stopped cleanly when cancelled)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bridge.bus import Bus
from bridge.web import actions, office_filter, pages, report_page
from bridge.web.live import LiveHub, Stream
from bridge.web.passwords import verify_password
from bridge.web.security import LOGIN_COOKIE, SESSION_COOKIE, Signer
from bridge.web.state import (
    INBOX,
    SESSION,
    Inbox,
    InboxDeps,
    client_address,
    inbox_of,
    lines_of,
    over_https,
    session_of,
    template_environment,
)

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
PUBLIC = ("/login", "/static/")
MAX_BODY = 64 * 1024  # a reply, a note: never more
KEEP_ALIVE = 15.0  # seconds between comments on an idle /events stream
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _secured(request, exc)
        raise
    except Exception:
        log.exception("inbox: %s %s failed", request.method, request.path)
        failure = web.HTTPInternalServerError(text="something went wrong")
        _secured(request, failure)
        raise failure from None
    return _secured(request, response)


def _secured(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    if not request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


@web.middleware
async def logged_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC):
        return await handler(request)
    inbox = inbox_of(request)
    session = inbox.signer.session(request.cookies.get(SESSION_COOKIE), inbox.deps.clock())
    if session is None or session.sid in inbox.logged_out or inbox.owner(session.owner_id) is None:
        if request.method == "GET" and "HX-Request" not in request.headers:
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="log in again", headers={"HX-Redirect": "/login"})
    request[SESSION] = session
    return await handler(request)


@web.middleware
async def csrf_checked(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every POST carries the token of its session (or, to log in, of its
    login cookie): a form on another site cannot."""
    if request.method != "POST":
        return await handler(request)
    inbox = inbox_of(request)
    form = await request.post()
    token = request.headers.get("X-CSRF-Token") or form.get("csrf_token")
    token = token if isinstance(token, str) else None
    if request.path == "/login":
        sid = request.cookies.get(LOGIN_COOKIE, "")
    else:
        sid = session_of(request).sid if SESSION in request else ""
    if not sid or not inbox.signer.csrf_ok(sid, token):
        raise web.HTTPForbidden(
            text="refused: this form's security token is missing or out of date - reload the page"
        )
    return await handler(request)


# ------------------------------------------------------------ login


async def login_form(request: web.Request) -> web.Response:
    return _login_page(request, status=200, message="")


def _login_page(request: web.Request, *, status: int, message: str) -> web.Response:
    inbox = inbox_of(request)
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    body = inbox.render(
        "login.html", csrf_token=inbox.signer.csrf_token(nonce), message=message, owner=None
    )
    response = web.Response(text=body, content_type="text/html", status=status)
    response.set_cookie(
        LOGIN_COOKIE, nonce, httponly=True, samesite="Strict", path="/login",
        secure=over_https(request, inbox.deps.web),
    )  # fmt: skip
    return response


async def login(request: web.Request) -> web.Response:
    inbox = inbox_of(request)
    form = await request.post()
    owner_id = str(form.get("owner", "")).strip()[:40]
    password = str(form.get("password", ""))
    now = inbox.deps.clock()
    keys = (f"owner:{owner_id}", f"address:{client_address(request, inbox.deps.web)}")
    wait = inbox.throttle.retry_after(keys, now)
    if wait:
        return _throttled(request, wait)
    owner = inbox.owner(owner_id)
    hashed = await inbox.deps.store.password_hash(owner_id) if owner else None
    if owner is None or not await verify_password(hashed, password):
        inbox.throttle.failed(keys, now)
        log.warning("inbox: a wrong password for %r", owner_id if owner else "an unknown owner")
        wait = inbox.throttle.retry_after(keys, now)
        if wait:
            return _throttled(request, wait)
        return _login_page(request, status=401, message="That owner and password do not match.")
    inbox.throttle.forget(keys[0])
    response = web.HTTPSeeOther("/")
    cookie = inbox.signer.session_cookie(owner.id, now, inbox.lifetime())
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="Strict", path="/",
        max_age=int(inbox.lifetime().total_seconds()), secure=over_https(request, inbox.deps.web),
    )  # fmt: skip
    response.del_cookie(LOGIN_COOKIE, path="/login")
    log.info("inbox: %s logged in", owner.id)
    raise response


def _throttled(request: web.Request, wait: int) -> web.Response:
    response = _login_page(
        request, status=429,
        message=f"Too many wrong passwords: try again in {max(1, wait // 60)} min.",
    )  # fmt: skip
    response.headers["Retry-After"] = str(wait)
    return response


async def logout(request: web.Request) -> web.Response:
    inbox_of(request).log_out(session_of(request))
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(office_filter.OFFICE_COOKIE, path="/")
    raise response


# ------------------------------------------------------------ live


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events for this owner's lines (and the thread page it is on)."""
    inbox = inbox_of(request)
    thread = request.query.get("thread", "")
    thread_id = int(thread) if thread.isdigit() and len(thread) < 19 else None
    # Its headers go out with prepare(), before the middleware could add them.
    headers = {"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    response = web.StreamResponse(
        headers=headers | SECURITY_HEADERS | {"Cache-Control": "no-store"}
    )
    await response.prepare(request)
    stream = inbox.hub.connect(session_of(request).owner_id, lines_of(request), thread_id)
    try:
        await response.write(b"retry: 2000\n\n")
        await _pump(stream, response)
    except ConnectionResetError:
        pass  # the page closed
    finally:
        inbox.hub.disconnect(stream)
    return response


async def _pump(stream: Stream, response: web.StreamResponse) -> None:
    while True:
        message: str | None = ": keep-alive\n\n"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(KEEP_ALIVE):
                message = await stream.queue.get()
        if message is None:
            return  # dropped: it fell too far behind
        await response.write(message.encode())


# ------------------------------------------------------------ the app and its job


def build_app(deps: InboxDeps, bus: Bus) -> web.Application:
    hub = LiveHub(deps.store, clock=deps.clock, region=deps.config.business.region)
    hub.listen(bus)
    app = web.Application(
        middlewares=[security_headers, logged_in, csrf_checked], client_max_size=MAX_BODY
    )
    app[INBOX] = Inbox(deps, bus, hub, Signer(deps.secret), template_environment(deps.config))
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/events", events)
    app.router.add_static("/static/", STATIC, append_version=False)
    pages.add_routes(app.router)
    office_filter.add_routes(app.router)
    report_page.add_routes(app.router)
    actions.add_routes(app.router)
    return app


class InboxServer:
    """The supervised `web` job: serves until cancelled, then closes every
    connection (an open /events stream too) before it returns."""

    def __init__(self, deps: InboxDeps, bus: Bus):
        self.deps = deps
        self.app = build_app(deps, bus)
        self.port: int | None = None  # the bound port, once serving

    @property
    def hub(self) -> LiveHub:
        return self.app[INBOX].hub

    async def run(self) -> None:
        web_config = self.deps.web
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, web_config.host, web_config.port, reuse_address=True)
            await site.start()
            sockets = [s for s in (runner.addresses or []) if isinstance(s, tuple)]
            self.port = int(sockets[0][1]) if sockets else web_config.port
            log.info("owner inbox on http://%s:%d", web_config.host, self.port)
            await self.hub.run()
        finally:
            self.port = None
            await runner.cleanup()
