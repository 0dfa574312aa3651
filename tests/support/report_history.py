"""A known history for the report page's figures (the contract suite, the
page's tests): two lines over two business days in Chicago, one missed call of
each outcome, and what the report never counts; and an office whose second
line has a hostile name, with an owner of each line and an admin."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from bridge.bus import Bus
from bridge.config import Config
from bridge.core.calls import Outcome
from bridge.core.texts import OwnerAction
from bridge.ops.health import Snapshot
from bridge.store import Store
from bridge.web.passwords import hash_password
from bridge.web.server import build_app
from bridge.web.state import InboxDeps
from tests.support.store_values import (
    CALLER,
    LATER,
    LINE,
    OTHER,
    SECOND_LINE,
    T0,
    Clock,
    a_text,
    decision,
    received,
)

CHICAGO = ZoneInfo("America/Chicago")
THIRD, FOURTH = "+15125550143", "+15125550144"
LATE = datetime(2026, 11, 26, 4, 30, tzinfo=UTC)  # 22:30 on the 25th in Chicago
NEXT_DAY = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 9:00 on the 26th
UNTIL = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
HOSTILE_NAME = '<script>alert("line")</script>'
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def _missed(store: Store, clock: Clock, linkedid: str, at: datetime, **call: object) -> None:
    clock.now = at
    caller = call.get("caller", CALLER)
    text = a_text(str(caller)) if caller is not None else None
    await store.record_decision(decision(linkedid, started_at=at, ended_at=at, **call), text=text)


async def _send_all_but(store: Store, clock: Clock, unsent: str) -> None:
    for text in await store.due_texts(LATER):
        if text.to_number != unsent:
            await store.mark_sending(text.id, "modem")
            await store.mark_sent(text.id, [text.id], clock())


async def known_history(store: Store, clock: Clock) -> None:
    """On LINE, the 25th: called back after a reply (thread 1), texted with no
    reply, withheld (never texted). On SECOND_LINE: late on the 25th (the
    26th in UTC) texted and replied; the 26th, a text never sent. A rehearsal
    and an answered call, which no figure counts."""
    await _missed(store, clock, "won", T0)
    await _missed(store, clock, "quiet", T0 + timedelta(hours=1), caller=OTHER)
    await _missed(store, clock, "withheld", T0 + timedelta(hours=2), caller=None, withheld=True)
    await _missed(store, clock, "late", LATE, caller=THIRD, line=SECOND_LINE)
    await _missed(store, clock, "unsent", NEXT_DAY, caller=FOURTH, line=SECOND_LINE)
    await store.record_decision(decision("rehearsal", caller=FOURTH), dry_run=True)
    await store.record_decision(decision("picked-up", outcome=Outcome.ANSWERED, reason=None))
    await _send_all_but(store, clock, FOURTH)
    clock.now = NEXT_DAY + timedelta(minutes=10)
    await store.store_incoming(received("Yes please", at=clock()), None)
    await store.store_incoming(received("Tomorrow?", THIRD, at=clock()), None)
    await store.store_incoming(received("HELP", OTHER, at=clock()), "help")  # not a reply
    clock.advance(minutes=20)
    await store.owner_action("mike", OwnerAction(1, "called"))


def report_office(**web: object) -> Config:
    """Mike owns the main line, Sam the second (named HOSTILE_NAME), Ann is admin."""
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "timezone": "America/Chicago",
                         "average_job_value": 400},
            "ami": {"username": "textback", "secret": "not-a-real-secret"},
            "lines": [
                {"did": LINE, "name": "Main line", "owners": ["mike"]},
                {"did": SECOND_LINE, "name": HOSTILE_NAME, "owners": ["sam"]},
            ],
            "owners": [
                {"id": "mike", "name": "Mike"},
                {"id": "sam", "name": "Sam"},
                {"id": "ann", "name": "Ann", "admin": True},
            ],
            "web": web,
        },
        context={"region": "US"},
    )  # fmt: skip


@dataclass
class ReportRig:
    client: TestClient[Any, Any]
    clock: Clock

    async def login(self, owner: str) -> None:
        """As a browser: the login form, then its answer (the session cookie)."""
        form = await (await self.client.get("/login")).text()
        found = _CSRF.search(form)
        assert found, "no csrf_token on the login form"
        fields = {"owner": owner, "password": PASSWORD, "csrf_token": found.group(1)}
        response = await self.client.post("/login", data=fields, allow_redirects=False)
        assert response.status == 303, await response.text()

    async def page(self, path: str) -> tuple[int, str]:
        response = await self.client.get(path, allow_redirects=False)
        return response.status, await response.text()


@contextlib.asynccontextmanager
async def served_report(tmp_path: Path, now: datetime) -> AsyncIterator[ReportRig]:
    """The inbox app on a loopback socket over a store holding known_history,
    its clock at ``now``; every owner's password is PASSWORD."""
    clock = Clock()
    config = report_office()
    async with await Store.open(tmp_path / "report.db", clock=clock) as store:
        await known_history(store, clock)
        for owner in config.owners:
            await store.set_password_hash(owner.id, hash_password(PASSWORD))
        clock.now = now
        deps = InboxDeps(
            config, store, clock, b"a-test-only-session-secret",
            snapshot=lambda: Snapshot(clock(), "connected", {}),
        )  # fmt: skip
        client = TestClient(TestServer(build_app(deps, Bus()), host="127.0.0.1"))
        async with client:
            yield ReportRig(client, clock)
