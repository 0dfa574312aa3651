"""Our own AMI action bookkeeping, bytes in and replies out, without a socket:
the pure ActionBook fed parsed messages, then the asyncio protocol on a
transport that only records what is written."""

from __future__ import annotations

import asyncio
import base64
import logging

import pytest

from bridge.ami import actions
from bridge.ami.bookkeeping import ActionBook, AmiReply, Taken, encode
from bridge.ami.errors import ConnectionLost, NotConnected
from bridge.ami.framer import AmiFramer, AmiMessage
from bridge.ami.protocol import AmiProtocol

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def messages(data: bytes) -> list[AmiMessage]:
    return AmiFramer(expect_banner=False).feed(data)


def response(action_id: str, status: str = "Success", **headers: str) -> bytes:
    lines = [f"Response: {status}", f"ActionID: {action_id}"]
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def event(name: str, action_id: str | None = None, **headers: str) -> bytes:
    lines = [f"Event: {name}"] + ([f"ActionID: {action_id}"] if action_id else [])
    lines += [f"{key}: {value}" for key, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def channel_list(action_id: str, *linkedids: str) -> bytes:
    start = response(action_id, EventList="start", Message="Channels will follow")
    items = b"".join(event("CoreShowChannel", action_id, Linkedid=x) for x in linkedids)
    done = event("CoreShowChannelsComplete", action_id, EventList="Complete")
    return start + items + done


def complete(taken: Taken | None) -> AmiReply:
    assert taken is not None
    assert taken.reply is not None
    return taken.reply


# --- the wire format ---------------------------------------------------------------


def test_an_action_is_action_first_its_headers_in_order_then_our_actionid() -> None:
    wire = encode(
        {"Action": "Originate", "Channel": "PJSIP/201", "Variable": ["a=1", "b=2"]}, "t-1"
    )
    assert wire == (
        b"Action: Originate\r\nChannel: PJSIP/201\r\nVariable: a=1\r\nVariable: b=2\r\n"
        b"ActionID: t-1\r\n\r\n"
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"Action": "UserEvent", "Body": "hi\r\nAction: Originate"},
        {"Action": "UserEvent", "Body": "hi\nAction: Originate"},
        {"Action": "Ping\r\nAction: Originate"},
        {"Action": "UserEvent", "Variable": ["ok", "bad\rvalue"]},
        {"Action": "UserEvent", "Bad\r\nKey": "x"},
    ],
)
def test_line_breaks_are_refused_before_anything_is_written(fields: dict[str, str]) -> None:
    book = ActionBook()
    with pytest.raises(ValueError, match="line break"):
        book.request(fields)
    assert len(book) == 0


def test_the_actionid_is_ours_and_an_action_needs_its_name() -> None:
    with pytest.raises(ValueError, match="ActionID"):
        ActionBook().request({"Action": "Ping", "ActionID": "mine"})
    with pytest.raises(ValueError, match="'Action'"):
        ActionBook().request({"Channel": "PJSIP/201"})
    book = ActionBook(prefix="x")
    assert [book.request(actions.ping())[0] for _ in range(3)] == ["x-1", "x-2", "x-3"]


def test_the_typed_actions() -> None:
    assert actions.login("textback", "pw") == {
        "Action": "Login", "Username": "textback", "Secret": "pw", "Events": "on",
    }  # fmt: skip
    assert actions.ping() == {"Action": "Ping"}
    assert actions.core_show_channels() == {"Action": "CoreShowChannels"}
    assert actions.pjsip_show_endpoint("trunk") == {
        "Action": "PJSIPShowEndpoint", "Endpoint": "trunk",
    }  # fmt: skip
    body = "Hola José 👍\nAction: Hangup"
    send = actions.message_send("pjsip:trunk/sip:+15125559876@h", body, sender="sip:+1@h")
    assert send["Action"] == "MessageSend"
    assert (send["Destination"], send["From"]) == ("pjsip:trunk/sip:+15125559876@h", "sip:+1@h")
    assert base64.b64decode(str(send["Base64Body"])).decode() == body
    assert "Body" not in send  # never raw: a line break would end the action
    assert "From" not in actions.message_send("x:dry-run", "x")
    encode(send, "t-1")  # nothing in it an AMI header refuses


# --- replies matched to actions ----------------------------------------------------


def test_responses_are_matched_by_actionid_whatever_their_order() -> None:
    book = ActionBook(prefix="t")
    first, _ = book.request(actions.ping())
    second, _ = book.request(actions.pjsip_show_endpoint("nope"))
    data = response(second, "Error", Message="Unable to retrieve endpoint nope") + response(
        first, Ping="Pong"
    )
    taken = [book.receive(m) for m in messages(data)]
    assert [t.action_id if t else None for t in taken] == [second, first]
    refused, pong = (complete(t) for t in taken)
    assert (refused.response, refused.success) == ("Error", False)
    assert refused.message == "Unable to retrieve endpoint nope"
    assert (pong.response, pong.success) == ("Success", True)
    assert pong.get("Ping") == "Pong"
    assert len(book) == 0


def test_an_event_list_is_one_reply_with_its_events() -> None:
    book = ActionBook(prefix="t")
    action_id, _ = book.request(actions.core_show_channels())
    taken = [book.receive(m) for m in messages(channel_list(action_id, "1.1", "2.2"))]
    assert [t.reply is not None for t in taken if t] == [False, False, False, True]
    reply = complete(taken[-1])
    assert reply.success
    assert [e.event for e in reply.events] == [
        "CoreShowChannel", "CoreShowChannel", "CoreShowChannelsComplete",
    ]  # fmt: skip
    assert [e.get("Linkedid") for e in reply.events[:2]] == ["1.1", "2.2"]


def test_events_and_stray_answers_are_not_taken() -> None:
    book = ActionBook(prefix="t")
    assert book.receive(messages(event("Newchannel"))[0]) is None  # nothing pending
    book.request(actions.ping())
    assert book.receive(messages(event("Newchannel", Uniqueid="1.1"))[0]) is None
    assert book.receive(messages(response("someone-else-7"))[0]) is None
    assert book.receive(messages(event("OriginateResponse", "t-99"))[0]) is None
    assert len(book) == 1  # the Ping still waits


def test_a_forgotten_action_does_not_take_its_late_answer() -> None:
    book = ActionBook(prefix="t")
    action_id, _ = book.request(actions.ping())
    book.forget(action_id)
    assert book.receive(messages(response(action_id))[0]) is None


def test_a_lost_connection_hands_back_every_pending_action() -> None:
    book = ActionBook(prefix="t")
    ids = [book.request(actions.ping())[0] for _ in range(2)]
    assert book.lose_all() == ids
    assert len(book) == 0


# --- the protocol on a recording transport -----------------------------------------


class Wire(asyncio.Transport):
    """What the protocol writes, kept; nothing goes anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted

    def sent(self) -> list[AmiMessage]:
        return AmiFramer(expect_banner=False, kinds=("Action",)).feed(bytes(self.written))


def connected(events: list[AmiMessage] | None = None) -> tuple[AmiProtocol, Wire]:
    protocol = AmiProtocol((events if events is not None else []).append)
    wire = Wire()
    protocol.connection_made(wire)
    protocol.data_received(BANNER)
    return protocol, wire


async def test_an_event_list_split_across_reads_resolves_once_complete() -> None:
    events: list[AmiMessage] = []
    protocol, wire = connected(events)
    action_id, future = protocol.send(actions.core_show_channels())
    assert wire.sent()[0].get("ActionID") == action_id
    data = channel_list(action_id, "1.1", "2.2") + event("Newchannel", Uniqueid="3.3")
    list_ends = data.index(b"\r\n\r\nEvent: Newchannel") + 4
    for at in range(0, len(data), 7):  # 7 bytes a read: every header split somewhere
        assert future.done() is (at >= list_ends)
        protocol.data_received(data[at : at + 7])
    reply = future.result()
    assert [e.get("Linkedid") for e in reply.events if e.event == "CoreShowChannel"] == [
        "1.1",
        "2.2",
    ]
    assert [e.get("Uniqueid") for e in events] == ["3.3"]  # the PBX's event, not the list's
    assert protocol.pending == 0


async def test_answers_out_of_order_reach_their_own_callers() -> None:
    protocol, _ = connected()
    ping_id, ping = protocol.send(actions.ping())
    endpoint_id, endpoint = protocol.send(actions.pjsip_show_endpoint("trunk"))
    protocol.data_received(response(endpoint_id, "Error", Message="Permission denied"))
    assert endpoint.done()
    assert not ping.done()
    protocol.data_received(response(ping_id, Ping="Pong"))
    assert (await ping).get("Ping") == "Pong"
    assert (await endpoint).message == "Permission denied"


async def test_a_lost_connection_fails_every_pending_action() -> None:
    protocol, _ = connected()
    pending = [protocol.send(actions.ping())[1] for _ in range(2)]
    protocol.connection_lost(None)
    for future in pending:
        with pytest.raises(ConnectionLost):
            await future
    assert isinstance(ConnectionLost("x"), ConnectionError)  # what the SIP transport catches
    assert isinstance(NotConnected("x"), ConnectionError)
    assert protocol.lost.done()
    with pytest.raises(ConnectionLost):
        protocol.send(actions.ping())  # nothing is written to a closed connection


async def test_an_action_nobody_answers_times_out_and_its_late_answer_is_dropped() -> None:
    events: list[AmiMessage] = []
    protocol, wire = connected(events)
    with pytest.raises(TimeoutError):
        await protocol.ask(actions.ping(), within=0)
    assert protocol.pending == 0
    (ping,) = wire.sent()
    protocol.data_received(response(ping.get("ActionID"), Ping="Pong"))  # too late
    assert events == []


async def test_an_unknown_actionid_is_ignored_and_an_event_carrying_one_dispatched() -> None:
    events: list[AmiMessage] = []
    protocol, _ = connected(events)
    action_id, future = protocol.send(actions.ping())
    protocol.data_received(response("someone-else-1", Ping="Pong"))
    protocol.data_received(event("OriginateResponse", "someone-else-2", Response="Failure"))
    assert not future.done()
    assert [e.event for e in events] == ["OriginateResponse"]  # as it always was
    protocol.data_received(response(action_id, Ping="Pong"))
    assert isinstance(future.result(), AmiReply)


async def test_a_handler_that_raises_costs_that_event_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def handler(message: AmiMessage) -> None:
        if message.event == "DialBegin":
            raise RuntimeError("bug in a handler")
        seen.append(message.event or "")

    protocol = AmiProtocol(handler)
    protocol.connection_made(Wire())
    action_id, future = protocol.send(actions.ping())
    with caplog.at_level(logging.ERROR):
        protocol.data_received(
            BANNER + event("DialBegin") + event("DialBegin") + event("Hangup")
            + response(action_id)
        )  # fmt: skip
    assert seen == ["Hangup"]
    assert future.done()
    assert sum("handler failed" in r.getMessage() for r in caplog.records) == 1


async def test_the_tap_sees_every_byte_and_the_size_limit_holds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tapped = bytearray()
    events: list[AmiMessage] = []
    protocol = AmiProtocol(events.append, tap=tapped.extend, max_message_bytes=1024)
    protocol.connection_made(Wire())
    data = BANNER + event("Huge", Data="x" * 5000) + event("Small")
    protocol.data_received(data)
    assert bytes(tapped) == data
    assert [e.event for e in events] == ["Small"]
    assert protocol.banner.result() == "Asterisk Call Manager/11.0.0"
    assert any("skipped a oversized message" in r.getMessage() for r in caplog.records)
