"""What every route of the inbox shares: the deps the app hands in, the
signer, the throttle, the live hub, the templates; and the request helpers
(who is logged in, what they see, rendering a page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from bridge.bus import Bus
from bridge.config import Config, OwnerConfig, WebConfig
from bridge.core.numbers import display
from bridge.core.texts import Backlog
from bridge.ops.health import Snapshot
from bridge.store import WebStore
from bridge.web import words
from bridge.web.access import can_see, lines_seen_by
from bridge.web.live import LiveHub
from bridge.web.security import Session, Signer, Throttle
from sms_gateway.base import TransportStatus

CallBack = Callable[[int, str], Awaitable[str]]  # thread id, owner id -> the words to show


@dataclass(frozen=True)
class InboxDeps:
    """What the app hands the inbox (bridge.app builds it)."""

    config: Config
    store: WebStore
    clock: Callable[[], datetime]
    secret: bytes
    # The same facts as `textback health`: the heartbeat's snapshot, and each
    # transport's own status (a modem's signal and operator).
    snapshot: Callable[[], Snapshot]
    transports: Callable[[], Sequence[TransportStatus]] = tuple
    backlog: Callable[[], Awaitable[Backlog]] | None = None  # the store's outbox_backlog
    # A canned reply's template filled for a thread's line, as texting fills its templates.
    fill: Callable[[str, str | None], str] = lambda template, line: template
    call_back: CallBack | None = None

    @property
    def web(self) -> WebConfig:
        assert self.config.web is not None
        return self.config.web


@dataclass
class Inbox:
    deps: InboxDeps
    bus: Bus
    hub: LiveHub
    signer: Signer
    templates: jinja2.Environment
    throttle: Throttle = field(default_factory=Throttle)
    logged_out: dict[str, int] = field(default_factory=dict)  # session id -> its expiry

    @property
    def config(self) -> Config:
        return self.deps.config

    def owner(self, owner_id: str) -> OwnerConfig | None:
        return next((o for o in self.config.owners if o.id == owner_id), None)

    def lifetime(self) -> timedelta:
        return timedelta(hours=self.deps.web.session_hours)

    def log_out(self, session: Session) -> None:
        now = self.deps.clock().timestamp()
        for sid, expires in list(self.logged_out.items()):
            if expires <= now:
                del self.logged_out[sid]
        self.logged_out[session.sid] = session.expires

    def render(self, name: str, **values: Any) -> str:
        return self.templates.get_template(name).render(**values)


INBOX: web.AppKey[Inbox] = web.AppKey("inbox", Inbox)
# Where the login middleware leaves the request's Session.
SESSION: web.RequestKey[Session] = web.RequestKey("session", Session)


def inbox_of(request: web.Request) -> Inbox:
    return request.app[INBOX]


def session_of(request: web.Request) -> Session:
    found = request.get(SESSION)
    assert isinstance(found, Session), "routes behind the login only"
    return found


def current_owner(request: web.Request) -> OwnerConfig:
    owner = inbox_of(request).owner(session_of(request).owner_id)
    assert owner is not None  # the auth middleware checked
    return owner


def lines_of(request: web.Request) -> frozenset[str] | None:
    return lines_seen_by(inbox_of(request).config, current_owner(request))


def may_see(request: web.Request, line: str | None) -> bool:
    return can_see(lines_of(request), line)


def from_trusted_proxy(request: web.Request, web_config: WebConfig) -> bool:
    try:
        peer = ip_address(request.remote or "")
    except ValueError:
        return False
    return any(peer in network for network in web_config.trusted_proxies)


def client_address(request: web.Request, web_config: WebConfig) -> str:
    """The browser's address: the proxy's X-Forwarded-For only from a trusted proxy."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and from_trusted_proxy(request, web_config):
        return forwarded.split(",")[-1].strip()[:64]
    return request.remote or "unknown"


def over_https(request: web.Request, web_config: WebConfig) -> bool:
    if web_config.secure_cookies or request.secure:
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").lower()
    return proto == "https" and from_trusted_proxy(request, web_config)


def template_environment(config: Config) -> jinja2.Environment:
    """Autoescape on for every template: callers' names and texts are untrusted."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bridge.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    region, zone = config.business.region, ZoneInfo(config.business.timezone)

    def local(at: str | datetime | None, form: str = "%a %b %-d, %-I:%M %p") -> str:
        if at is None:
            return ""
        moment = datetime.fromisoformat(at) if isinstance(at, str) else at
        return moment.astimezone(zone).strftime(form)

    names = {line.did: line.name for line in config.lines}
    env.filters["number"] = lambda e164: display(e164, region)
    env.filters["line_name"] = lambda did: names.get(did, display(did, region)) if did else "-"
    env.filters["local"] = local
    env.globals["chip"] = words.chip
    env.globals["row_chip"] = words.row_chip
    env.globals["event_words"] = words.event_words
    env.globals["waited"] = words.waited
    env.globals["business"] = config.business.name
    owners = {owner.id: owner.name for owner in config.owners}
    env.globals["owner_name"] = lambda owner_id: owners.get(owner_id, owner_id)
    return env
