"""The sans-I/O AMI framer, fed bytes directly (no socket)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.ami.framer import AmiFramer, AmiMessage
from tests.support.expected import REAL_TRACES, trace

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def ours(data: bytes, chunks: list[int] | None = None) -> list[AmiMessage]:
    framer = AmiFramer()
    out: list[AmiMessage] = []
    if chunks is None:
        out += framer.feed(data)
    else:
        position = 0
        for size in chunks:
            out += framer.feed(data[position : position + size])
            position += size
        out += framer.feed(data[position:])
    return out


def event(*pairs: tuple[str, str]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode()


@pytest.mark.parametrize("name", sorted(REAL_TRACES))
def test_real_trace_parses_the_same_whole_or_byte_by_byte(name: str) -> None:
    data = trace(name)
    whole = AmiFramer()
    messages = whole.feed(data)
    whole.close()
    assert whole.errors == []
    assert whole.banner == "Asterisk Call Manager/11.0.0"
    assert messages[0].response == "Success"
    assert messages[1].event == "FullyBooted"
    assert len(messages) == data.count(b"\r\n\r\n")
    assert ours(data, [1] * len(data)) == messages


def test_repeated_headers_are_all_kept() -> None:
    (message,) = ours(BANNER + event(("Response", "Success"), ("Output", "a"), ("Output", "b")))
    assert message.getall("Output") == ["a", "b"]
    assert message.get("Output") == "a"
    assert message.as_dict() == {"Response": "Success", "Output": "a"}  # as get() reads it


def test_keys_match_case_insensitively() -> None:
    (message,) = ours(BANNER + event(("Event", "Hangup"), ("UniqueID", "1.2")))
    assert message.get("Uniqueid") == "1.2"
    assert "uniqueid" in message


def test_key_with_no_space_and_empty_value() -> None:
    (message,) = ours(BANNER + b"Event: VarSet\r\nValue:\r\nAccountCode: \r\n\r\n")
    assert message.get("Value") == ""
    assert message.get("AccountCode") == ""


# --- the gaps in panoramisk's parser (tests/upstream/test_panoramisk.py shows each) ---

LATIN1_NAME = BANNER + b"Event: Newchannel\r\nCallerIDName: M\xfcller\r\nUniqueid: 1.1\r\n\r\n"
UTF8_NAME = BANNER + "Event: Newchannel\r\nCallerIDName: Zoë Ñuñez\r\n\r\n".encode()
LF_ONLY = BANNER + b"Event: Hangup\nUniqueid: 1.1\nCause: 16\n\n"


def test_latin1_caller_name_arrives_intact() -> None:
    (message,) = ours(LATIN1_NAME)
    assert message.get("CallerIDName") == "Müller"


def test_utf8_character_split_across_reads_arrives_intact() -> None:
    split_at = UTF8_NAME.index("ë".encode()) + 1  # between the two bytes of ë
    (message,) = ours(UTF8_NAME, [split_at])
    assert message.get("CallerIDName") == "Zoë Ñuñez"


def test_lf_only_line_ends_complete_a_message() -> None:
    (message,) = ours(LF_ONLY)
    assert message.event == "Hangup"
    assert message.get("Cause") == "16"


# --- bad input: skipped, reported once, the stream goes on --------------------------


def test_oversized_message_is_skipped_and_the_stream_goes_on() -> None:
    framer = AmiFramer(max_message_bytes=1024)
    huge = b"Event: Junk\r\nData: " + b"x" * 50_000 + b"\r\n\r\n"
    good = event(("Event", "Hangup"), ("Uniqueid", "1.1"))
    out = []
    for start in range(0, len(huge), 4096):
        out += framer.feed(huge[start : start + 4096])
        assert len(framer._buf) <= 1024 + 4096  # bounded, whatever arrives
    out += framer.feed(good)
    assert [m.event for m in out] == ["Hangup"]
    assert [e.reason for e in framer.take_errors()] == ["oversized"]


def test_malformed_and_unknown_messages_are_skipped_once_each() -> None:
    framer = AmiFramer()
    data = (
        BANNER
        + b"Event: Newchannel\r\nthis line has no colon\r\n\r\n"
        + b"Foo: bar\r\nBaz: qux\r\n\r\n"
        + event(("Event", "SomethingNew"), ("X", "1"))
        + event(("Event", "Hangup"), ("Uniqueid", "1.1"))
    )
    out = framer.feed(data)
    assert [m.event for m in out] == ["SomethingNew", "Hangup"]
    assert [e.reason for e in framer.take_errors()] == ["malformed", "no-event-or-response"]


def test_truncated_stream_is_reported_at_close() -> None:
    framer = AmiFramer()
    out = framer.feed(BANNER + event(("Event", "A")) + b"Event: Hangup\r\nUniqueid: 1")
    assert [m.event for m in out] == ["A"]
    framer.close()
    assert [e.reason for e in framer.errors] == ["truncated"]


def test_stream_without_banner_is_read_too() -> None:
    assert [m.event for m in ours(event(("Event", "A")) + event(("Event", "B")))] == ["A", "B"]


# --- properties ---------------------------------------------------------------------

ALL_TRACES = b"".join(trace(name) for name in sorted(REAL_TRACES))
REFERENCE = ours(trace("07_voicemail_left.ami"))


@given(st.lists(st.integers(min_value=1, max_value=700), max_size=60))
@settings(max_examples=150, deadline=None)
def test_any_chunking_gives_the_same_messages(sizes: list[int]) -> None:
    assert ours(trace("07_voicemail_left.ami"), sizes) == REFERENCE


_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True)
_value = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40
)


@given(
    st.lists(
        st.tuples(_key.filter(lambda k: k.lower() != "event"), _value),
        min_size=1,
        max_size=12,
        unique_by=lambda pair: pair[0],
    ),
    st.integers(1, 50),
)
@settings(max_examples=200, deadline=None)
def test_what_is_written_is_read_back(pairs: list[tuple[str, str]], cut: int) -> None:
    pairs = [("Event", "Test"), *pairs]
    data = BANNER + "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"
    (message,) = ours(data, [cut])
    assert message.items() == pairs


@given(st.binary(max_size=2000), st.integers(1, 64))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_raise(data: bytes, chunk: int) -> None:
    framer = AmiFramer(max_message_bytes=512)
    for start in range(0, len(data), chunk):
        for message in framer.feed(data[start : start + chunk]):
            assert message.event is not None or message.response is not None
    framer.close()
