"""What Debian's Chromium, driven headless by Playwright, really does with the
inbox's Content-Security-Policy: the page's own script file runs; inline
script and inline event handlers (a hostile caller's `<script>`, `<img
onerror>`) do not, and each refusal reaches the session's error list. The
inbox's hostile-reply test rests on exactly this (tests/support/browser.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.support.browser import Chromium
from tests.support.polling import until

CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"
PAGES = {
    "/": (
        "text/html",
        "<!doctype html><title>before</title><p id=words>words</p>"
        "<script src=/own.js></script>"
        "<script>document.title = 'inline ran'; window.ran = 'inline'</script>"
        "<img src=/missing.png onerror=\"window.ran = 'onerror'\">",
    ),
    "/own.js": ("text/javascript", "document.getElementById('words').textContent = 'own ran';"),
}


@asynccontextmanager
async def serve_pages() -> AsyncIterator[str]:
    """PAGES over HTTP/1.0 on 127.0.0.1, each with the CSP header; yields the base URL."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        path = request.split(" ", 2)[1]
        kind, body = PAGES.get(path, ("text/plain", "not here"))
        status = "200 OK" if path in PAGES else "404 Not Found"
        data = body.encode()
        writer.write(
            f"HTTP/1.0 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(data)}\r\n"
            f"Content-Security-Policy: {CSP}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


async def test_only_the_pages_own_script_runs_under_the_inbox_csp(chromium: Chromium) -> None:
    async with serve_pages() as base:
        session = await chromium.session()
        page = session.page
        await page.goto(f"{base}/")
        await page.wait_for_function("document.getElementById('words').textContent === 'own ran'")
        await page.wait_for_function("document.images[0].complete")
        # Both refusals reported: the inline script and the onerror handler.
        await until(lambda: len(refusals(session.errors)) == 2)
        assert await page.title() == "before"
        assert await page.evaluate("window.ran === undefined")
        assert session.dialogs == []


def refusals(errors: list[str]) -> list[str]:
    return [e for e in errors if "Content Security Policy" in e]
