"""panoramisk, bare: the gaps our AMI client (bridge.ami) and FastAGI server
(agi.server) close, each shown on the library itself. The strict xfails flip
to failures once panoramisk is fixed; the rest pin what it does today.

Our side of each is next to our code's tests: tests/unit/test_framer.py (the
parser), tests/adapters/test_ami_live.py (the link), tests/adapters/test_agi.py
(FastAGI)."""

from __future__ import annotations

import asyncio
import logging
import sys
from types import SimpleNamespace

import pytest
from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.fast_agi import Application

from bridge.sim.ami_server import FakeAsterisk, recorded_events
from tests.support.ami import SECRET
from tests.support.expected import trace
from tests.support.polling import until

# --- the parser: the same bytes as tests/unit/test_framer.py feeds ours ------------

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
LATIN1_NAME = BANNER + b"Event: Newchannel\r\nCallerIDName: M\xfcller\r\nUniqueid: 1.1\r\n\r\n"
UTF8_NAME = BANNER + "Event: Newchannel\r\nCallerIDName: Zoë Ñuñez\r\n\r\n".encode()
LF_ONLY = BANNER + b"Event: Hangup\nUniqueid: 1.1\nCause: 16\n\n"


def panoramisk_parse(data: bytes, chunks: list[int] | None = None) -> list[dict[str, str]]:
    """What bare panoramisk's AMIProtocol makes of the same bytes."""
    seen: list[dict[str, str]] = []
    protocol = AMIProtocol()
    protocol.connection_made(SimpleNamespace(write=lambda b: None, close=lambda: None))
    protocol.factory = SimpleNamespace(dispatch=lambda m: seen.append(dict(m.items())))
    protocol.encoding = "utf8"
    protocol.log = logging.getLogger("panoramisk-under-test")
    pieces = [data] if chunks is None else [data[: chunks[0]], data[chunks[0] :]]
    for piece in pieces:
        protocol.data_received(piece)
    return seen


@pytest.mark.xfail(strict=True, reason="panoramisk drops non-UTF-8 bytes: 'Mller'")
def test_latin1_caller_name_on_bare_panoramisk() -> None:
    (message,) = panoramisk_parse(LATIN1_NAME)
    assert message["CallerIDName"] == "Müller"


@pytest.mark.xfail(strict=True, reason="panoramisk decodes each read alone and loses the split ë")
def test_utf8_split_on_bare_panoramisk() -> None:
    split_at = UTF8_NAME.index("ë".encode()) + 1
    (message,) = panoramisk_parse(UTF8_NAME, [split_at])
    assert message["CallerIDName"] == "Zoë Ñuñez"


@pytest.mark.xfail(strict=True, reason="panoramisk only splits on CRLF CRLF")
def test_lf_only_on_bare_panoramisk() -> None:
    (message,) = panoramisk_parse(LF_ONLY)
    assert message["Event"] == "Hangup"


# --- the Manager (AMI) over a socket to the AMI double ------------------------------


async def test_bare_panoramisk_raises_nothing_on_a_refused_login(asterisk: FakeAsterisk) -> None:
    """The gap AmiLink closes: panoramisk only leaves authenticated=False."""
    asterisk.refuse_logins = True
    manager = Manager(
        host="127.0.0.1", port=asterisk.port, username="textback", secret=SECRET,
        ping_delay=60, loop=asyncio.get_running_loop(),
    )  # fmt: skip
    try:
        await manager.connect()  # returns as soon as TCP connects: no error
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.failed_logins >= 1)
        assert manager.authenticated is False
    finally:
        manager.close()


async def test_bare_panoramisk_loses_the_connection_on_a_failing_handler(
    asterisk: FakeAsterisk,
) -> None:
    """The gap AmiLink closes: the exception escapes into data_received."""
    manager = Manager(
        host="127.0.0.1", port=asterisk.port, username="textback", secret=SECRET,
        ping_delay=60, reconnect_timeout=60, loop=asyncio.get_running_loop(),
    )  # fmt: skip
    manager.register_event("DialBegin", _raise)
    try:
        await manager.connect()
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 0)
    finally:
        manager.close()


def _raise(manager: object, message: object) -> None:
    raise RuntimeError("bug in a handler")


def _bare_manager(asterisk: FakeAsterisk, **timers: int) -> Manager:
    return Manager(
        host="127.0.0.1", port=asterisk.port, username="textback", secret=SECRET,
        loop=asyncio.get_running_loop(), **timers,
    )  # fmt: skip


async def test_bare_panoramisk_never_notices_a_stalled_asterisk(asterisk: FakeAsterisk) -> None:
    """The gap AmiLink closes: panoramisk sends Ping but never checks the answer.
    (AmiLink notices within ping_interval + ping_timeout: tests/adapters/test_ami_live.py.)"""
    manager = _bare_manager(asterisk, ping_delay=1, ping_interval=1)
    lost: list[object] = []
    manager.on_disconnect = lambda manager, exc: lost.append(exc)
    try:
        await manager.connect()
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
        asterisk.stall()
        # Three Pings go unanswered; the library looks content with the link.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(3.5):
                await asterisk.wait_for(lambda: asterisk.logins > 1)
        assert lost == []
        assert manager._connected is True
    finally:
        manager.close()
        asterisk.resume()


async def test_bare_panoramisk_comes_back_after_close(asterisk: FakeAsterisk) -> None:
    """The gap AmiLink closes: close() leaves a scheduled reconnect in place.
    (Cancelling AmiLink.run() leaves nothing behind: tests/adapters/test_ami_live.py.)"""
    manager = _bare_manager(asterisk, ping_delay=60, reconnect_timeout=1)
    dropped = asyncio.Event()
    manager.on_disconnect = lambda manager, exc: dropped.set()
    try:
        await manager.connect()
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.logins == 1)
            await asterisk.drop_connections()
            await dropped.wait()
        manager.close()  # the caller is done with AMI...
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.logins == 2)  # ...and it logs in again
    finally:
        manager.close()


async def test_bare_panoramisk_buffers_an_endless_message_without_limit(
    asterisk: FakeAsterisk,
) -> None:
    """The gap AmiFramer closes (max_message_bytes, 64 KiB by default; test_framer.py): a
    message that never ends is kept, all of it, however large."""
    manager = _bare_manager(asterisk, ping_delay=60, reconnect_timeout=60)
    try:
        await manager.connect()
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
        await asterisk.broadcast_raw(b"Event: Flood\r\nJunk: " + b"x" * 4_000_000)
        await asterisk.broadcast_raw(b"y" * 1_000_000)

        def held() -> int:
            return sum(len(chunk) for chunk in manager.protocol.queue)

        await until(lambda: held() >= 5_000_000)
    finally:
        manager.close()


# --- FastAGI ----------------------------------------------------------------------


# A request cut off before its blank line, handed to bare panoramisk's handler
# while another task ticks: a frozen loop stops the ticks for good.
_BARE_HANDLER = """
import asyncio
from panoramisk.fast_agi import Application

async def main():
    reader = asyncio.StreamReader()
    reader.feed_data(b"agi_network: yes\\nagi_network_script: missed\\n")
    reader.feed_eof()  # the client hung up here
    app = Application(loop=asyncio.get_running_loop())

    async def tick():
        while True:
            print("tick", flush=True)
            await asyncio.sleep(0.05)

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.1)
    print("handling", flush=True)
    await app.handler(reader, None)
    print("returned", flush=True)
    ticker.cancel()

asyncio.run(main())
"""


@pytest.mark.xfail(strict=True, reason="panoramisk: an early disconnect freezes the event loop")
async def test_bare_panoramisk_survives_a_client_hanging_up_early() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _BARE_HANDLER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        while await process.stdout.readline() != b"handling\n":
            pass
        # The loop is alive if anything at all comes after this point.
        async with asyncio.timeout(3):
            assert await process.stdout.readline() in (b"tick\n", b"returned\n")
    finally:
        process.kill()
        await process.wait()


@pytest.mark.xfail(strict=True, reason="panoramisk wraps plain routes in asyncio.coroutine")
async def test_bare_panoramisk_takes_a_plain_route() -> None:
    Application(loop=asyncio.get_running_loop()).add_route("missed", lambda request: None)
