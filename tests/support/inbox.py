"""The bridge with its owner inbox on (web:), over the AMI double and the
simulated modem, and two owners of the Main line who can log in: Mike and Sam.

The page's own words and element ids the browser tests rely on are in
tests/support/inbox_pages.py, in one place, so a change of markup is one edit.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bridge.web.passwords import hash_password
from tests.support.office import NO_ALERTS, Office, office
from tests.support.polling import until_true

PASSWORDS = {"mike": "correct horse battery", "sam": "sam's own passphrase"}
NAMES = {"mike": "Mike", "sam": "Sam"}
SESSION_SECRET = "inbox-tests-session-secret-0123456789"
MAIN_LINE = (("+15125550100", "Main line"),)


def owners() -> list[dict[str, object]]:
    quiet = {"business_hours": NO_ALERTS, "after_hours": NO_ALERTS}
    return [
        {"id": "mike", "name": "Mike", "mobile": "+15125550199", "alerts": quiet},
        {"id": "sam", "name": "Sam", "mobile": "+15125550198", "alerts": quiet},
    ]


def free_port() -> int:
    """A loopback port nothing listens on (the config takes no port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class InboxOffice:
    office: Office
    base: str  # http://127.0.0.1:PORT

    def url(self, path: str = "/") -> str:
        return f"{self.base}{path}"


@asynccontextmanager
async def inbox_office(
    tmp_path: Path, *, lines: Sequence[tuple[str, str]] = MAIN_LINE, **options: object
) -> AsyncIterator[InboxOffice]:
    """The office of tests/support/office.py with the inbox on a free loopback
    port, both owners' passwords set, served before the block starts. The
    store is tmp_path/textback.db: seed it first for a fuller inbox."""
    port = free_port()
    extra = {
        "web": {"port": port, "session_secret": SESSION_SECRET},
        "lines": [{"did": did, "name": name, "owners": ["mike", "sam"]} for did, name in lines],
    }
    async with office(tmp_path, owners=owners(), extra=extra, **options) as o:  # type: ignore[arg-type]
        for owner, password in PASSWORDS.items():  # as `textback set-password` does
            await o.bridge.store.set_password_hash(owner, hash_password(password))
        inbox = InboxOffice(o, f"http://127.0.0.1:{port}")
        await served(inbox.url("/login"))
        yield inbox


async def served(url: str, within: float = 10) -> None:
    """Until the web job answers ``url`` (it starts with the bridge's other jobs)."""
    async with aiohttp.ClientSession() as client:

        async def answers() -> bool:
            try:
                async with client.get(url) as response:
                    return response.status == 200
            except aiohttp.ClientConnectionError:
                return False

        await until_true(answers, within)
