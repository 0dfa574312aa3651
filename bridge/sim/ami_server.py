"""A stand-in for Asterisk's manager interface, on a real loopback socket.

It speaks the AMI wire protocol as Asterisk 22 does - the banner, ``Login``
with a secret check (a refused login is answered and the socket closed),
``ActionID`` echoed on every response, ``Ping``, ``Logoff``,
``CoreShowChannels`` listing the channels that are up right now,
``MessageSend`` answered as main/message.c answers it, ``Originate`` as
main/manager.c does (bridge.sim.originate) - and plays call
scenarios from ``.ami`` recordings byte for byte. Tests and
``textback demo`` run the real bridge against it; faults come on cue: drop
every connection, stall (stop answering but keep the socket open), refuse
logins, restart with a new banner.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bridge.ami.framer import AmiFramer, AmiMessage
from bridge.detection.records.cdr import CdrRecord
from bridge.sim.cdr import RECOMMENDED, CdrEngine, append_csv
from bridge.sim.dialplan import inbound_text_event
from bridge.sim.originate import originate_reply

log = logging.getLogger(__name__)

_MESSAGE_END = re.compile(rb"\r?\n\r?\n")
_PRIVILEGE = re.compile(rb"^Privilege: ([^\r\n]*)", re.MULTILINE)


def recorded_events(data: bytes) -> list[bytes]:
    """The event messages of a recording, as raw bytes, without the banner,
    the Login response and FullyBooted (the server sends its own at login)."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    out = []
    for block in _MESSAGE_END.split(data):
        if not block.strip():
            continue
        if block.startswith(b"Response:") or block.startswith(b"Event: FullyBooted"):
            continue
        out.append(block + b"\r\n\r\n")
    return out


@dataclass(frozen=True)
class SentMessage:
    destination: str
    sender: str
    body: str
    at: float = field(default_factory=time.monotonic)  # when the action arrived
    # Its Variable lines: the headers PJSIP would add to the SIP MESSAGE.
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class _Session:
    writer: asyncio.StreamWriter
    authenticated: bool = False
    events: bool = True


@dataclass
class FakeAsterisk:
    """Start with ``await FakeAsterisk(...).start()``; ``port`` is then bound."""

    username: str = "textback"
    secret: str = "lab-not-a-secret"  # noqa: S105 -- a loopback test double's own
    host: str = "127.0.0.1"
    port: int = 0
    version: str = "11.0.0"
    refuse_logins: bool = False
    actions: list[AmiMessage] = field(default_factory=list)  # every action received
    # MessageSend: what the AMI user may do, which message technologies are
    # loaded, and whether the SIP stack takes the message.
    write_classes: frozenset[str] = frozenset({"system", "message"})
    # manager.conf's read=: an event reaches the user only if its class is here.
    read_classes: frozenset[str] = frozenset({"call", "dialplan", "agent", "system", "user"})
    # The dialplan's contexts, for ShowDialPlan (write=config or reporting).
    dialplan_contexts: frozenset[str] = frozenset(
        {"from-trunk", "from-internal", "textback-report", "textback-sms-in"}
    )
    message_techs: frozenset[str] = frozenset({"pjsip"})
    message_send_fails: bool = False
    endpoints: frozenset[str] = frozenset({"provider-trunk"})  # PJSIP endpoints configured
    fully_booted: bool = True  # send FullyBooted after login (an eventfilter may drop it)
    clock_offset: float = 0.0  # seconds this PBX's clock is ahead
    messages: list[SentMessage] = field(default_factory=list)  # what MessageSend handed on
    channels: dict[str, AmiMessage] = field(default_factory=dict)  # up right now
    # The call records Asterisk writes for the calls played (bridge/sim/cdr.py),
    # appended to cdr_csv as cdr_csv appends Master.csv.
    cdr_csv: Path | None = None
    cdrs: list[CdrRecord] = field(default_factory=list)
    cdr_engine: CdrEngine = field(default_factory=lambda: CdrEngine(RECOMMENDED))
    _channel_bridge: dict[str, str] = field(default_factory=dict)
    _channel_app: dict[str, tuple[str, str]] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _sessions: set[_Session] = field(default_factory=set)
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _stalled: asyncio.Event = field(default_factory=asyncio.Event)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _booted_at: float = field(default_factory=time.monotonic)
    logins: int = 0
    failed_logins: int = 0

    async def start(self) -> FakeAsterisk:
        self._stalled.set()  # set = not stalled
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.resume()  # a stalled handler must see its socket close
        await self.drop_connections()
        # Aborted sockets end every handler; none is cancelled half-way.
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeAsterisk:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- faults

    async def drop_connections(self) -> None:
        """Close every client socket at once, as a crash or cable pull would."""
        for session in list(self._sessions):
            session.writer.transport.abort()
        self._sessions.clear()
        await self._notify()

    async def reset_connections(self) -> None:
        """Reset every client socket (TCP RST): the host crashed, or a firewall
        or NAT on the way forgot the connection."""
        for session in list(self._sessions):
            sock = session.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            session.writer.transport.abort()
        self._sessions.clear()
        await self._notify()

    def stall(self) -> None:
        """Stop reading and answering, sockets left open (a hung Asterisk)."""
        self._stalled.clear()

    def resume(self) -> None:
        self._stalled.set()

    async def restart(self, version: str | None = None) -> None:
        """Announce a shutdown, drop everyone, come back with a fresh uptime."""
        await self.broadcast_raw(
            b"Event: Shutdown\r\nPrivilege: system,all\r\n"
            b"Shutdown: Cleanly\r\nRestart: True\r\n\r\n"
        )
        await self.drop_connections()
        self.channels.clear()
        self._booted_at = time.monotonic()
        if version:
            self.version = version

    # ---------------------------------------------------------------- playing calls

    async def play(self, events: Iterable[bytes], *, gap: float = 0.0) -> None:
        """Send recorded event messages to every logged-in client, in order."""
        for raw in events:
            self._track(raw)
            await self.broadcast_raw(raw)
            if gap:
                await asyncio.sleep(gap)

    async def broadcast_raw(self, raw: bytes) -> None:
        await self._stalled.wait()
        if not self._readable(raw):
            return
        for session in list(self._sessions):
            if session.authenticated and session.events and not session.writer.is_closing():
                session.writer.write(raw)
        for session in list(self._sessions):
            with contextlib.suppress(ConnectionError):
                await session.writer.drain()

    def _readable(self, raw: bytes) -> bool:
        """Whether the user's read= lets this event through (its Privilege class)."""
        match = _PRIVILEGE.search(raw)
        if match is None:
            return True
        classes = set(match.group(1).decode("ascii", "replace").split(",")) - {"all"}
        return bool(classes & self.read_classes)

    def _track(self, raw: bytes) -> None:
        """Keep the live channel list that CoreShowChannels reports."""
        framer = AmiFramer(expect_banner=False)
        for message in framer.feed(raw if raw.endswith(b"\n\n") else raw + b"\r\n\r\n"):
            self._write_cdrs(self.cdr_engine.feed(message, datetime.now(UTC)))
            event, uniqueid = message.event, message.get("Uniqueid")
            if event == "Newchannel":
                self.channels[uniqueid] = message
            elif event == "Hangup":
                self.channels.pop(uniqueid, None)
                self._channel_bridge.pop(uniqueid, None)
                self._channel_app.pop(uniqueid, None)
            elif uniqueid in self.channels:
                self.channels[uniqueid] = message
                if event == "BridgeEnter":
                    self._channel_bridge[uniqueid] = message.get("BridgeUniqueid")
                elif event == "BridgeLeave":
                    self._channel_bridge.pop(uniqueid, None)
                elif event == "Newexten":
                    self._channel_app[uniqueid] = (
                        message.get("Application"),
                        message.get("AppData"),
                    )

    def _write_cdrs(self, records: list[CdrRecord]) -> None:
        self.cdrs.extend(records)
        if self.cdr_csv is not None and records:
            append_csv(self.cdr_csv, records, self.cdr_engine.settings)

    def _core_show_channels(self, action_id: str) -> bytes:
        parts = [_response("Success", action_id, EventList="start", Message="Channels will follow")]
        now = time.time()
        for uniqueid, channel in self.channels.items():
            app, data = self._channel_app.get(uniqueid, ("", ""))
            started = float(uniqueid.split(".")[0]) if uniqueid[:1].isdigit() else now
            age = max(0, int(now - started)) if started <= now else 0
            lines = ["Event: CoreShowChannel", f"ActionID: {action_id}"]
            lines.extend(f"{key}: {channel.get(key)}" for key in _SNAPSHOT_FIELDS)
            lines.append(f"BridgeId: {self._channel_bridge.get(uniqueid, '')}")
            lines.append(f"Application: {app}")
            lines.append(f"ApplicationData: {data}")
            lines.append(f"Duration: {age // 3600:02d}:{age // 60 % 60:02d}:{age % 60:02d}")
            parts.append(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        parts.append(
            f"Event: CoreShowChannelsComplete\r\nActionID: {action_id}\r\nEventList: Complete"
            f"\r\nListItems: {len(self.channels)}\r\n\r\n".encode()
        )
        return b"".join(parts)

    def _message_send(self, action: AmiMessage, action_id: str) -> bytes:
        """As Asterisk 22's action_messagesend (main/message.c) answers."""
        if "message" not in self.write_classes:
            return _response("Error", action_id, Message="Permission denied")
        to = action.get("Destination") or action.get("To")
        if not to:
            return _response("Error", action_id, Message="No 'To' address specified.")
        body = action.get("Body")
        if action.get("Base64Body"):
            # Decoded into a 1301-byte buffer: the rest is cut off.
            raw = base64.b64decode(action.get("Base64Body"))[:1300]
            body = raw.decode("utf-8", errors="replace")
        if to.split(":", 1)[0].lower() not in self.message_techs:
            return _response("Error", action_id, Message="Message technology not found.")
        if self.message_send_fails:
            return _response("Error", action_id, Message="Message failed to send.")
        variables = dict(v.partition("=")[::2] for v in action.getall("Variable"))
        self.messages.append(SentMessage(to, action.get("From"), body, variables=variables))
        return _response("Success", action_id, Message="Message successfully sent")

    def _show_dialplan(self, context: str, action_id: str) -> bytes:
        """As manager.c's ShowDialPlan answers: write=config or reporting."""
        if not self.write_classes & {"config", "reporting"}:
            return _response("Error", action_id, Message="Permission denied")
        if context not in self.dialplan_contexts:
            return _response("Error", action_id, Message=f"Did not find context {context}")
        return (
            _response("Success", action_id, EventList="start", Message="DialPlan list will follow")
            + f"Event: ListDialplan\r\nActionID: {action_id}\r\nContext: {context}\r\n"
            "Extension: s\r\nPriority: 1\r\nApplication: AGI\r\n\r\n".encode()
            + f"Event: ShowDialPlanComplete\r\nActionID: {action_id}\r\nEventList: Complete"
            "\r\nListItems: 1\r\nListExtensions: 1\r\nListPriorities: 1\r\nListContexts: 1"
            "\r\n\r\n".encode()
        )

    def _pjsip_show_endpoint(self, endpoint: str, action_id: str) -> bytes:
        if "system" not in self.write_classes:
            return _response("Error", action_id, Message="Permission denied")
        if endpoint not in self.endpoints:
            return _response("Error", action_id, Message=f"Unable to retrieve endpoint {endpoint}")
        return (
            _response(
                "Success", action_id, EventList="start",
                Message="Following are Events for each object associated with the Endpoint",
            )
            + f"Event: EndpointDetail\r\nActionID: {action_id}\r\nObjectType: endpoint\r\n"
            f"ObjectName: {endpoint}\r\n\r\n".encode()
            + f"Event: EndpointDetailComplete\r\nActionID: {action_id}\r\n"
            "EventList: Complete\r\nListItems: 1\r\n\r\n".encode()
        )  # fmt: skip

    async def inbound_text(self, sender: str, to: str, body: str) -> None:
        """A provider's SIP MESSAGE reaching the shipped dialplan route."""
        await self.broadcast_raw(inbound_text_event({"from": sender, "to": to, "body": body}))

    # ---------------------------------------------------------------- waiting (for tests)

    @property
    def sessions(self) -> int:
        return sum(1 for s in self._sessions if s.authenticated)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()`` holds (wrap in ``asyncio.timeout``)."""
        async with self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # ---------------------------------------------------------------- protocol

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        session = _Session(writer)
        self._sessions.add(session)
        framer = AmiFramer(expect_banner=False, kinds=("Action",))
        try:
            writer.write(f"Asterisk Call Manager/{self.version}\r\n".encode())
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._stalled.wait()
                for action in framer.feed(data):
                    if not await self._handle(session, action):
                        return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._sessions.discard(session)
            writer.transport.abort()
            self._handlers.discard(task)
            await self._notify()

    async def _handle(self, session: _Session, action: AmiMessage) -> bool:
        """Answer one action. False closes the connection."""
        self.actions.append(action)
        name = action.get("Action").lower()
        action_id = action.get("ActionID")
        reply = session.writer.write
        if name == "login":
            ok = (
                not self.refuse_logins
                and action.get("Username") == self.username
                and action.get("Secret") == self.secret
            )
            if not ok:
                self.failed_logins += 1
                reply(_response("Error", action_id, Message="Authentication failed"))
                await session.writer.drain()
                await self._notify()
                return False  # Asterisk hangs up after a failed login
            session.authenticated = True
            session.events = action.get("Events", "on").lower() not in ("off", "no", "false")
            self.logins += 1
            reply(_response("Success", action_id, Message="Authentication accepted"))
            uptime = int(time.monotonic() - self._booted_at)
            if self.fully_booted and "system" in self.read_classes:
                reply(
                    f"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: {uptime}\r\n"
                    f"LastReload: {uptime}\r\nStatus: Fully Booted\r\n\r\n".encode()
                )
        elif not session.authenticated:
            reply(_response("Error", action_id, Message="Permission denied"))
        elif name == "ping":
            now = time.time() + self.clock_offset
            reply(_response("Success", action_id, Ping="Pong", Timestamp=f"{now:.6f}"))
        elif name == "logoff":
            reply(_response("Goodbye", action_id, Message="Thanks for all the fish."))
            await session.writer.drain()
            return False
        elif name == "coreshowchannels":
            if self.write_classes & {"system", "reporting"}:
                reply(self._core_show_channels(action_id))
            else:
                reply(_response("Error", action_id, Message="Permission denied"))
        elif name == "showdialplan":
            reply(self._show_dialplan(action.get("Context"), action_id))
        elif name == "pjsipshowendpoint":
            reply(self._pjsip_show_endpoint(action.get("Endpoint"), action_id))
        elif name == "messagesend":
            reply(self._message_send(action, action_id))
        elif name == "originate":  # the call itself: bridge.sim.originate.click_to_call
            status, words = originate_reply(action, self.write_classes)
            reply(_response(status, action_id, Message=words))
        else:
            reply(_response("Error", action_id, Message="Invalid/unknown command"))
        await session.writer.drain()
        await self._notify()
        return True


def _response(status: str, action_id: str, **fields: str) -> bytes:
    lines = [f"Response: {status}"]
    if action_id:
        lines.append(f"ActionID: {action_id}")
    lines.extend(f"{k}: {v}" for k, v in fields.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


_SNAPSHOT_FIELDS = (
    "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
    "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
    "Exten", "Priority", "Uniqueid", "Linkedid",
)  # fmt: skip
