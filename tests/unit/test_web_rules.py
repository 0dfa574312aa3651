"""The inbox's pure parts: sessions and CSRF tokens, the login throttle, the
signing secret's file, who sees which lines, the listing's cursor and search
terms, the words the pages use, and the web: config section."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import Config
from bridge.core.inbox import Cursor, search_terms
from bridge.core.threads import ThreadEvent, ThreadSummary
from bridge.web.access import can_see, lines_seen_by
from bridge.web.security import Signer, Throttle, load_or_make_secret, secret_path
from bridge.web.words import chip, event_words, waited
from tests.support.web import web_config

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_session_cookie_is_ours_whole_and_unexpired_or_nothing() -> None:
    signer = Signer(b"secret")
    cookie = signer.session_cookie("mike", NOW, HOUR)
    session = signer.session(cookie, NOW)
    assert session is not None
    assert session.owner_id == "mike"
    assert signer.session(cookie, NOW + HOUR) is None  # expired
    assert Signer(b"another secret").session(cookie, NOW) is None
    forged = cookie.replace("mike", "ana", 1)
    assert signer.session(forged, NOW) is None
    for junk in ("", "a.b.c", "x" * 400, cookie + ".more"):
        assert signer.session(junk, NOW) is None


def test_a_csrf_token_belongs_to_its_session() -> None:
    signer = Signer(b"secret")
    assert signer.csrf_ok("sid-1", signer.csrf_token("sid-1"))
    assert not signer.csrf_ok("sid-2", signer.csrf_token("sid-1"))
    assert not signer.csrf_ok("sid-1", None)
    assert not signer.csrf_ok("sid-1", "")


def test_the_throttle_counts_within_its_window_per_key() -> None:
    throttle = Throttle(limit=5, window=timedelta(minutes=15))
    keys = ("owner:mike", "address:127.0.0.1")
    for n in range(4):
        throttle.failed(keys, NOW + timedelta(minutes=n))
    assert throttle.retry_after(keys, NOW + timedelta(minutes=4)) == 0
    throttle.failed(keys, NOW + timedelta(minutes=4))
    # The oldest of the five leaves the window 15 minutes after it came.
    assert throttle.retry_after(keys, NOW + timedelta(minutes=5)) == 10 * 60
    assert throttle.retry_after(("owner:sam", "address:127.0.0.1"), NOW) > 0
    assert throttle.retry_after(("owner:sam",), NOW + timedelta(minutes=5)) == 0
    assert throttle.retry_after(keys, NOW + timedelta(minutes=15, seconds=1)) == 0
    throttle.forget("owner:mike")
    assert throttle.retry_after(("owner:mike",), NOW + timedelta(minutes=5)) == 0


def test_the_secret_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = secret_path(tmp_path / "textback.db")
    assert path.name == "textback.web-secret"
    made = load_or_make_secret(path)
    assert len(made) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_make_secret(path) == made


def test_owners_see_their_lines_admins_and_lineless_threads_are_everyones(
    tmp_path: Path,
) -> None:
    config = web_config(tmp_path / "t.db")
    mike, sam, ana = config.owners
    assert lines_seen_by(config, mike) == frozenset({"+15125550100"})
    assert lines_seen_by(config, sam) == frozenset({"+15125550111"})
    assert lines_seen_by(config, ana) is None
    assert can_see(frozenset({"+15125550100"}), None)
    assert not can_see(frozenset({"+15125550100"}), "+15125550111")
    assert can_see(None, "+15125550111")


@given(st.text(max_size=60))
def test_a_cursor_token_is_read_back_or_refused(text: str) -> None:
    parsed = Cursor.parse(text)
    if parsed is not None:
        assert Cursor.parse(parsed.token()) == parsed


def test_a_cursor_round_trips() -> None:
    cursor = Cursor("2026-11-25T15:00:00.000+00:00", 42)
    assert Cursor.parse(cursor.token()) == cursor
    assert Cursor.parse("2026'; DROP TABLE threads~1") is None


def test_search_terms_escape_like_and_find_digits() -> None:
    assert search_terms("(512) 555-0142") == ("%(512) 555-0142%", "5125550142")
    assert search_terms("100%_off\\") == ("%100\\%\\_off\\\\%", "100")
    assert search_terms("  burst   pipe ") == ("%burst pipe%", "")
    assert search_terms("12") == ("%12%", "")


def summary(status: str) -> ThreadSummary:
    return ThreadSummary(1, "+15125559876", None, status, False, "", "", None, 1)


def test_chips_say_the_status_in_words() -> None:
    assert chip(summary("awaiting_reply")) == ("awaiting reply", "chip-awaiting-reply")
    assert chip(summary("handled"), "called") == ("called back", "chip-called-back")
    assert chip(summary("handled"), "done") == ("handled", "chip-handled")
    assert chip(summary("opted_out"))[0] == "opted out"


def test_a_calls_reason_in_words() -> None:
    def words(text: str) -> str:
        return event_words(ThreadEvent("", "missed call", text, "call"))

    assert words("NOANSWER - dial ended NOANSWER") == "rang out - dial ended NOANSWER"
    assert words("CANCEL - caller hung up while phones rang").startswith("hung up while ringing")
    assert words("VOICEMAIL - sent to voicemail, left a message").startswith("left a voicemail")
    assert words("VOICEMAIL - sent to voicemail, left no message").startswith("sent to voicemail")
    assert event_words(ThreadEvent("", "text in", "NOANSWER - hi", "in")) == "NOANSWER - hi"


def test_waited_reads_like_a_person_says_it() -> None:
    assert waited(NOW.isoformat(), NOW + timedelta(seconds=30)) == "just now"
    assert waited(NOW.isoformat(), NOW + timedelta(minutes=12)) == "12 min"
    assert waited(NOW.isoformat(), NOW + timedelta(hours=5)) == "5 h"
    assert waited(NOW.isoformat(), NOW + timedelta(days=3)) == "3 d"
    assert waited("not a time", NOW) == ""


@pytest.mark.parametrize(
    ("web", "message"),
    [
        ({"session_secret": "short"}, "at least 16 characters"),
        ({"canned_replies": [{"name": "a", "template": "{nope}"}]}, "unknown placeholder"),
        ({"canned_replies": [{"name": "a", "template": "x"}] * 2}, "'a' is used twice"),
        ({"port": 0}, "expected an integer 1-65535"),
    ],
)
def test_the_web_section_refuses_what_cannot_work(
    tmp_path: Path, web: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        web_config(tmp_path / "t.db", **web)


def test_web_is_off_unless_configured() -> None:
    base = web_config(Path("/tmp/t.db")).model_dump(exclude={"web"}, exclude_unset=True)
    assert Config.model_validate(base | {"ami": {"username": "u", "secret": "s"}}).web is None
