"""The bridge with `web:` configured serves the owner inbox: a missed call on
the AMI double shows up live and in the list, an answer from the thread page
leaves the simulated modem, and the server stops with the bridge. And
`textback set-password`, as an installer runs it."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp

from bridge.sim import callgen
from bridge.store import Store
from bridge.web.passwords import hash_password, verify_password
from tests.support.cli import TEXTBACK, textback
from tests.support.office import office
from tests.support.polling import until
from tests.support.web import PASSWORD, token

CALLER = "+15125559876"  # callgen's caller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def logged_in(base: str) -> aiohttp.ClientSession:
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with asyncio.timeout(10):
        while True:  # the web job starts with the others
            try:
                async with client.get(f"{base}/login") as response:
                    form = await response.text()
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.02)
    fields = {"owner": "mike", "password": PASSWORD, "csrf_token": token(form)}
    async with client.post(f"{base}/login", data=fields, allow_redirects=False) as response:
        assert response.status == 303
    return client


async def next_change(events: aiohttp.ClientResponse) -> dict[str, object]:
    async for raw in events.content:
        line = raw.decode().strip()
        if line.startswith("data: ") and '"kind"' in line:
            found: dict[str, object] = json.loads(line[6:])
            return found
    raise AssertionError("the stream ended")


async def test_the_bridge_serves_the_inbox_live_and_an_answer_leaves_the_modem(
    tmp_path: Path,
) -> None:
    port = free_port()
    web = {"port": port, "session_secret": "a-system-test-session-secret"}
    async with office(tmp_path, web=web) as shop:
        await shop.bridge.store.set_password_hash("mike", hash_password(PASSWORD))
        base = f"http://127.0.0.1:{port}"
        client = await logged_in(base)
        async with client, client.get(f"{base}/events") as events:
            await shop.missed_call(callgen.render("no_answer"))
            async with asyncio.timeout(5):
                change = await next_change(events)
            assert change == {"kind": "call", "new": True, "caller": "(512) 555-9876"}
            async with client.get(f"{base}/") as response:
                listing = await response.text()
            (thread,) = [t.id for t in await shop.bridge.store.threads()]
            assert f'id="thread-row-{thread}"' in listing
            assert "(512) 555-9876" in listing
            async with client.get(f"{base}/threads/{thread}") as response:
                page = await response.text()
            assert "rang out" in page
            answer = {"body": "On my way - Mike", "csrf_token": token(page)}
            async with client.post(f"{base}/threads/{thread}/reply", data=answer) as response:
                assert response.status == 200  # followed back to the thread page
            await until(lambda: any(s.text == "On my way - Mike" for s in shop.modem.engine.sent))
    with socket.socket() as probe:  # stopped with the bridge
        assert probe.connect_ex(("127.0.0.1", port)) != 0


async def test_set_password_from_stdin_and_an_unknown_owner(tmp_path: Path) -> None:
    store_path = tmp_path / "textback.db"
    async with await Store.open(store_path):
        pass  # `textback run` made it
    config = tmp_path / "textback.yaml"
    config.write_text(
        "lab: true\nbusiness: {name: Acme Roofing}\n"
        "ami: {username: textback, secret: not-used}\n"
        'lines: [{did: "+15125550100", name: Main line}]\n'
        "owners: [{id: mike, name: Mike}]\n"
        f"store: {{path: {store_path}}}\n"
    )
    process = await asyncio.create_subprocess_exec(
        *TEXTBACK, "set-password", "mike", "--password-stdin", "--config", str(config),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(b"a long enough password\n")
    assert process.returncode == 0, err
    assert "password set for mike" in out.decode()
    async with await Store.open(store_path) as store:
        hashed = await store.password_hash("mike")
        assert hashed is not None
        assert hashed.startswith("$argon2id$")
        assert await verify_password(hashed, "a long enough password")
    code, _, err = await textback("set-password", "nobody", "--config", str(config))
    assert code == 2
    assert "no owner 'nobody'" in err
    assert "Traceback" not in err
