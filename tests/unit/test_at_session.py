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


# --- what real modems do (issue 10, item 2) ---------------------------------------------

PDU = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"


def test_an_unknown_urc_inside_a_reply_is_a_notification() -> None:
    """Huawei's ^HCSQ: between the +CMGR: header and the PDU is not part of the answer."""
    session = AtSession()
    session.command("AT+CMGR=1")
    events = session.feed(
        f'\r\n+CMGR: 0,,24\r\n^HCSQ:"LTE",48,41,121,19\r\n{PDU}\r\n\r\nOK\r\n'.encode()
    )
    assert events == [
        Notification('^HCSQ:"LTE",48,41,121,19'),
        Response("AT+CMGR=1", ("+CMGR: 0,,24", PDU), "OK"),
    ]


def test_bytes_after_the_prompt_in_the_same_read_are_kept() -> None:
    session = AtSession()
    session.command("AT+CMGS=20")
    events = session.feed(b'\r\n> \r\n+CMTI: "ME",4\r\n')
    assert events == [Prompt(), Notification('+CMTI: "ME",4')]


def test_cr_only_line_ends_complete_a_reply() -> None:
    session = AtSession()
    session.command("AT+CSQ")
    assert session.feed(b"\r+CSQ: 20,99\r\rOK\r") == [Response("AT+CSQ", ("+CSQ: 20,99",), "OK")]


def test_a_late_confirmation_is_not_the_next_commands_answer() -> None:
    """+CMGS/OK after the send timed out: python-gsmmodem's and the old reader's
    next command took that OK as its own, and every answer after it was one behind."""
    session = AtSession()
    session.command("AT+CMGS=20")
    assert session.feed(b"\r\n> ") == [Prompt()]
    session.submit("0011")
    session.abandon()
    session.restart()  # the transport reconnects
    session.command("ATZ")
    events = session.feed(b"\r\n+CMGS: 7\r\n\r\nOK\r\n")
    assert events == [Notification("+CMGS: 7")]
    assert session.busy  # still waiting for ATZ's own OK
    assert session.feed(b"\r\nOK\r\n") == [Response("ATZ", (), "OK")]


def test_a_write_to_storage_takes_its_pdu_after_a_prompt_and_answers_its_slot() -> None:
    session = AtSession()
    session.command("AT+CMGW=20")
    assert session.feed(b"\r\n> ") == [Prompt()]
    session.submit("0011")
    (reply,) = session.feed(b"\r\n+CMGW: 4\r\n\r\nOK\r\n")
    assert reply == Response("AT+CMGW=20", ("+CMGW: 4",), "OK")


def test_a_send_from_storage_answers_with_its_reference() -> None:
    session = AtSession()
    session.command("AT+CMSS=4")
    (reply,) = session.feed(b"\r\n+CMSS: 12\r\n\r\nOK\r\n")
    assert reply == Response("AT+CMSS=4", ("+CMSS: 12",), "OK")


def test_a_late_send_from_storage_is_not_the_next_commands_answer() -> None:
    """The bridge died while AT+CMSS waited: the next one's first command must
    not take the modem's late +CMSS/OK for its own answer."""
    session = AtSession()
    session.command("AT+CMSS=4")
    session.abandon()
    session.restart()
    session.command("AT+CPIN?")
    assert session.feed(b"\r\n+CMSS: 12\r\n\r\nOK\r\n") == [Notification("+CMSS: 12")]
    (reply,) = session.feed(b"\r\n+CPIN: READY\r\n\r\nOK\r\n")
    assert reply == Response("AT+CPIN?", ("+CPIN: READY",), "OK")


def test_a_late_send_failure_is_not_the_next_commands_answer() -> None:
    session = AtSession()
    session.command("AT+CMGS=20")
    session.feed(b"\r\n> ")
    session.submit("0011")
    session.abandon()
    session.command("ATE0")
    assert session.feed(b"\r\n+CMS ERROR: 42\r\n") == []
    assert session.feed(b"\r\nOK\r\n") == [Response("ATE0", (), "OK")]


def test_the_ok_to_an_esc_at_connection_start_is_dropped() -> None:
    """A modem left in PDU entry answers the ESC with OK, before AT+CPIN?'s answer."""
    session = AtSession()
    session.restart()
    session.command("AT+CPIN?")
    events = session.feed(b"\r\nOK\r\n\r\n+CPIN: READY\r\n\r\nOK\r\n")
    assert events == [Response("AT+CPIN?", ("+CPIN: READY",), "OK")]


def test_a_reply_without_its_final_result_can_be_taken_as_it_stands() -> None:
    """Wavecom answers AT+CPIN? with +CPIN: READY and no OK."""
    session = AtSession()
    session.command("AT+CPIN?")
    assert session.feed(b"\r\n+CPIN: READY\r\n") == []
    assert session.abandon() == Response("AT+CPIN?", ("+CPIN: READY",), "")
    session.command("ATZ")
    assert session.feed(b"\r\nOK\r\n") == [Response("ATZ", (), "OK")]


_URC_NAMES = st.from_regex(r"[+^][A-Z]{3,6}", fullmatch=True).filter(
    lambda name: name not in ("+CMGR", "+CMT", "+CDS", "+CMGS")
)


@given(st.lists(st.tuples(_URC_NAMES, st.integers(0, 3)), max_size=4), st.integers(1, 40))
@settings(max_examples=200, deadline=None)
def test_urcs_anywhere_in_a_reply_never_change_it(urcs: list[tuple[str, int]], chunk: int) -> None:
    lines = ["+CMGR: 1,,24", PDU]
    for name, position in urcs:
        lines.insert(min(position, len(lines)), f"{name}: 1,2")
    stream = "".join(f"\r\n{line}\r\n" for line in lines) + "\r\nOK\r\n"
    session = AtSession()
    session.command("AT+CMGR=3")
    events = feed_all(session, stream.encode(), chunk)
    replies = [e for e in events if isinstance(e, Response)]
    assert replies == [Response("AT+CMGR=3", ("+CMGR: 1,,24", PDU), "OK")]
    assert len(events) == 1 + len(urcs)
