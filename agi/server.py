"""The FastAGI server, on panoramisk's ``Application`` with its two defects
fixed (see ../shared/library-notes.md, each shown by a test on the bare
library in tests/upstream/test_panoramisk.py):

- a client that disconnects before the blank line ending its request made
  the library's handler loop on ``read()`` at end of file without ever
  yielding, freezing the whole event loop; here the request is read with a
  bounded ``readuntil`` under a timeout, and a short one is logged and closed;
- a plain (non-async) route failed to register (the library wraps it with
  ``asyncio.coroutine``, gone since Python 3.11); here it is wrapped in a
  coroutine function.

Only the routes' callers decide anything: ``missed`` turns the request into a
:class:`agi.report.DialplanReport` and hands it to the bridge, which decides
it with the same rules as an AMI call. The server binds to loopback unless the
config says otherwise, and then answers only the listed PBX addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from panoramisk.fast_agi import Application, Request

from agi.report import DialplanReport, arguments, call_report
from agi.settings import AgiSettings

log = logging.getLogger(__name__)

ReportHandler = Callable[[DialplanReport], None]
Route = Callable[[Request], Awaitable[None]] | Callable[[Request], None]

MAX_REQUEST_BYTES = 16 * 1024  # Asterisk's agi_* variables are well under 2 KiB


class FixedApplication(Application):  # type: ignore[misc]
    """panoramisk's FastAGI application, with a handler that cannot freeze the
    loop and routes that may be plain functions."""

    def __init__(self, *, header_timeout: float, allow: Callable[[str], bool]):
        super().__init__(default_encoding="utf-8", loop=asyncio.get_running_loop())
        self.header_timeout = header_timeout
        self._allow = allow
        self._refused: set[str] = set()

    def add_route(self, path: str, endpoint: Route) -> None:
        if asyncio.iscoroutinefunction(endpoint):
            super().add_route(path, endpoint)
            return
        plain = endpoint

        async def run_plain(request: Request) -> None:
            plain(request)

        super().add_route(path, run_plain)

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else ""
        try:
            if not self._allow(address):
                if address not in self._refused:  # once per address, not per call
                    self._refused.add(address)
                    log.warning("FastAGI: refused %s (not in agi.allow)", printable(address))
                return
            headers = await self._read_request(reader, address)
            if headers is not None:
                await self._dispatch(headers, reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader, address: str
    ) -> OrderedDict[str, str] | None:
        try:
            async with asyncio.timeout(self.header_timeout):
                raw = await reader.readuntil(b"\n\n")
        except asyncio.IncompleteReadError:
            log.warning("FastAGI: %s hung up before the end of its request", printable(address))
            return None
        except asyncio.LimitOverrunError:
            log.warning("FastAGI: %s sent an oversized request", printable(address))
            return None
        except TimeoutError:
            log.warning("FastAGI: %s sent no complete request in time", printable(address))
            return None
        lines = raw.decode("utf-8", errors="replace").splitlines()
        return OrderedDict(line.split(": ", 1) for line in lines if ": " in line)

    async def _dispatch(
        self, headers: OrderedDict[str, str], reader: asyncio.StreamReader, writer: Any
    ) -> None:
        script = headers.get("agi_network_script", "")
        route = self._route.get(script)
        if route is None:
            log.warning("FastAGI: no route %r", printable(script, 60))
            return
        request = Request(app=self, headers=headers, reader=reader, writer=writer)
        try:
            await route(request)
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("FastAGI: the channel went away during %r", script)
        except Exception:
            log.exception("FastAGI: route %r failed", script)


class AgiServer:
    """``await run()`` serves until cancelled."""

    def __init__(self, settings: AgiSettings, on_report: ReportHandler):
        self.settings = settings
        self._on_report = on_report
        self.port: int | None = None  # bound port, once serving
        self.ready = asyncio.Event()

    def allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.settings.allow)

    async def run(self) -> None:
        app = FixedApplication(header_timeout=self.settings.header_timeout, allow=self.allowed)
        app.add_route("missed", self._missed)
        server = await asyncio.start_server(
            app.handler, self.settings.host, self.settings.port, limit=MAX_REQUEST_BYTES
        )
        self.port = server.sockets[0].getsockname()[1]
        log.info("FastAGI listening on %s:%d", self.settings.host, self.port)
        self.ready.set()
        try:
            async with server:
                await server.serve_forever()
        finally:
            self.ready.clear()

    async def _missed(self, request: Request) -> None:
        linkedid = None
        if "linkedid" not in arguments(request.headers):
            # An older dialplan line: ask the channel itself.
            answer = await request.send_command('GET VARIABLE "CHANNEL(linkedid)"')
            value = answer.get("result", ("", ""))
            linkedid = value[1] if value[0] == "1" else None
        report = call_report(request.headers, linkedid)
        if report is None:
            log.warning("FastAGI: a request named no call; ignored")
            return
        self._on_report(report)


def printable(text: str, limit: int = 200) -> str:
    """Untrusted text (a peer's address, a script name) for a log line: every
    non-printable character escaped, so nothing can forge a line."""
    shown = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        for ch in text[:limit]
    )
    return shown + ("…" if len(text) > limit else "")
