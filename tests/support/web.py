"""The owner inbox served on a real loopback socket (aiohttp's TestServer)
over a real store, with a bus the test publishes on: logging in, reading a
form's CSRF token, posting forms as a browser does."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bridge.bus import Bus
from bridge.config import Config
from bridge.ops.health import Snapshot
from bridge.store import Store
from bridge.web.passwords import hash_password
from bridge.web.server import build_app
from bridge.web.state import INBOX, InboxDeps
from sms_gateway.base import TransportStatus
from tests.support.store_values import LINE, SECOND_LINE, Clock

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_config(store_path: Path, office: str = "main", **web: Any) -> Config:
    """Mike owns the main line, Sam the second; Ana is an admin of neither."""
    return Config.model_validate(
        {
            "lab": True,
            "office": {"id": office},
            "business": {"name": "Acme Roofing"},
            "ami": {"username": "textback", "secret": "not-used-here"},
            "lines": [
                {"did": LINE, "name": "Main line", "owners": ["mike"]},
                {"did": SECOND_LINE, "name": "Second line", "owners": ["sam"]},
            ],
            "owners": [
                {"id": "mike", "name": "Mike"},
                {"id": "sam", "name": "Sam"},
                {"id": "ana", "name": "Ana", "admin": True},
            ],
            "store": {"path": str(store_path)},
            "web": {
                "session_secret": "a-test-only-session-secret",
                "canned_replies": [{"name": "On my way", "template": "{owner} of {business}"}],
            }
            | web,
        }
    )


@dataclass
class WebRig:
    client: TestClient[Any, Any]
    store: Store
    bus: Bus
    clock: Clock
    config: Config
    heard: list[object] = field(default_factory=list)

    async def login(self, owner: str = "mike", password: str = PASSWORD) -> int:
        """The login form filled in and sent; the answer's status."""
        form = await (await self.client.get("/login")).text()
        fields = {"owner": owner, "password": password, "csrf_token": token(form)}
        response = await self.client.post("/login", data=fields, allow_redirects=False)
        return response.status

    async def token(self, path: str = "/") -> str:
        return token(await (await self.client.get(path)).text())

    async def post(self, path: str, **fields: str) -> Any:
        """A form on the page at ``path``'s thread, with that page's token."""
        page = path.rsplit("/", 1)[0]
        fields.setdefault("csrf_token", await self.token(page))
        return await self.client.post(path, data=fields, allow_redirects=False)


def token(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no csrf_token on the page"
    return found.group(1)


@contextlib.asynccontextmanager
async def served_inbox(
    tmp_path: Path,
    *,
    call_back: Callable[[int, str], Awaitable[str]] | None = None,
    transports: Sequence[TransportStatus] = (),
    open_store: Callable[[Clock], Awaitable[Store]] | None = None,
    office: str = "main",
    **web: Any,
) -> AsyncIterator[WebRig]:
    """The inbox app and its live hub running for the block, on office
    ``office``'s store (``open_store``'s, or a SQLite file's); every owner's
    password is PASSWORD."""
    clock = Clock()
    config = web_config(tmp_path / "web.db", office, **web)
    opened = await (open_store or (lambda c: Store.open(config.store.path, clock=c)))(clock)
    async with opened as store:
        for owner in config.owners:
            await store.set_password_hash(owner.id, hash_password(PASSWORD))
        bus = Bus()
        deps = InboxDeps(
            config, store, clock, b"a-test-only-session-secret",
            snapshot=lambda: Snapshot(clock(), "connected", {"modem": True}),
            transports=lambda: transports, backlog=lambda: store.outbox_backlog(clock()),
            call_back=call_back,
        )  # fmt: skip
        app = build_app(deps, bus)
        hub = asyncio.create_task(app[INBOX].hub.run())
        rig = WebRig(TestClient(TestServer(app, host="127.0.0.1")), store, bus, clock, config)
        bus.subscribe(object, rig.heard.append)
        try:
            async with rig.client:
                yield rig
        finally:
            hub.cancel()
            await asyncio.gather(hub, return_exceptions=True)
