"""The AT dialogue, fed bytes directly (no pty)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sms_gateway.at_session import AtSession, Notification, Prompt, Response


def feed_all(session: AtSession, data: bytes, chunk: int = 0) -> list[object]:
    if not chunk:
        return list(session.feed(data))
    events: list[object] = []
    for start in range(0, len(data), chunk):
        events += session.feed(data[start : start + chunk])
    return events


def test_a_command_and_its_answer() -> None:
    session = AtSession()
    assert session.command("AT+CSQ") == b"AT+CSQ\r"
    (reply,) = session.feed(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert reply == Response("AT+CSQ", ("+CSQ: 20,99",), "OK")
    assert not session.busy


def test_echo_is_dropped_and_errors_carry_their_code() -> None:
    session = AtSession()
    session.command("AT+CMGS=20")
    assert session.feed(b"AT+CMGS=20\r\r\n> ") == [Prompt()]
    (reply,) = session.feed(b"\r\n+CMS ERROR: 331\r\n")
    assert isinstance(reply, Response)
    assert (reply.ok, reply.error_code) == (False, 331)


def test_a_new_text_announced_mid_command_is_a_notification_not_part_of_the_reply() -> None:
    """python-gsmmodem files this +CMTI into the reply and the text is never read."""
    session = AtSession()
    session.command("AT+CSQ")
    events = session.feed(b'\r\n+CSQ: 20,99\r\n\r\n+CMTI: "ME",3\r\n\r\nOK\r\n')
    assert events == [Notification('+CMTI: "ME",3'), Response("AT+CSQ", ("+CSQ: 20,99",), "OK")]


def test_cmt_and_cds_take_their_pdu_line() -> None:
    session = AtSession()
    events = session.feed(b"\r\n+CMT: ,24\r\n0791AB\r\n\r\n+CDS: 25\r\n0691CD\r\n")
    assert events == [Notification("+CMT: ,24", "0791AB"), Notification("+CDS: 25", "0691CD")]
    assert [e.kind for e in events if isinstance(e, Notification)] == ["CMT", "CDS"]


def test_garbage_bytes_never_break_the_session() -> None:
    """python-gsmmodem's reader thread dies on a 0xFF byte; here it is just a line."""
    session = AtSession()
    (junk,) = session.feed(b"\r\n\xff\xfe\x00 garbage\r\n")
    assert isinstance(junk, Notification)
    session.command("AT")
    assert session.feed(b"\r\nOK\r\n") == [Response("AT", (), "OK")]


def test_commands_and_pdus_cannot_smuggle_line_ends() -> None:
    session = AtSession()
    with pytest.raises(ValueError, match="CR, LF"):
        session.command('AT+CMGS="+1555"\r\nAT+CMGD=1,4')
    with pytest.raises(ValueError, match="hex"):
        AtSession.pdu("0011\x1aAT+CMGD=1,4")


@given(st.binary(max_size=600), st.integers(1, 40))
@settings(max_examples=300, deadline=None)
def test_any_bytes_in_any_chunks_never_raise(data: bytes, chunk: int) -> None:
    session = AtSession()
    session.command("AT+CMGL=4")
    feed_all(session, data, chunk)


@given(st.integers(1, 30))
@settings(max_examples=30, deadline=None)
def test_chunking_does_not_change_what_is_understood(chunk: int) -> None:
    stream = (
        b"\r\n+CMGL: 1,0,,24\r\n07911111\r\n\r\nOK\r\n"
        b'\r\n+CMTI: "ME",2\r\n\r\n+CDS: 25\r\n0691CD\r\n'
    )
    whole, pieces = AtSession(), AtSession()
    whole.command("AT+CMGL=4")
    pieces.command("AT+CMGL=4")
    assert feed_all(pieces, stream, chunk) == feed_all(whole, stream)
