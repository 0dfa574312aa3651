"""Who hears about what (pure): hours, holidays, per-owner rules, urgency,
and what an owner's text means."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bridge.alerts.audience import routes
from bridge.config import Config
from bridge.conversations.owner_commands import USAGE, Handled, Reply, Unknown, parse
from bridge.core.templates import sms_size
from bridge.core.urgency import is_urgent

WEDNESDAY_10AM = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # Chicago
WEDNESDAY_10PM = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
CHRISTMAS_10AM = datetime(2026, 12, 25, 16, 0, tzinfo=UTC)  # a Friday, a holiday


def office(**line: object) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme", "holidays": ["2026-12-25"]},
            "ami": {"username": "u", "secret": "s"},
            "lines": [
                {"did": "+15125550100", "name": "Main", "owners": ["mike", "sue"]} | line,
                {"did": "+15125550111", "name": "Repairs", "owners": ["ann"]},
            ],
            "owners": [
                {"id": "mike", "name": "Mike", "email": "m@x.example", "mobile": "+15125550199"},
                {
                    "id": "sue",
                    "name": "Sue",
                    "email": "s@x.example",
                    "mobile": "+15125550188",
                    # Sue: email only after hours, except texts for replies.
                    "alerts": {
                        "after_hours": {"missed_call": ["email"], "reply": ["sms"], "reminder": []},
                    },
                },
                {"id": "ann", "name": "Ann", "mobile": "+15125550177", "on_call": True},
            ],
            "smtp": {"host": "127.0.0.1", "sender": "t@x.example"},
        },
        context={"region": "US"},
    )


def chosen(config: Config, news: str, at: datetime, **kw: bool) -> set[tuple[str, str]]:
    # The channels that exist, as the app finds them: email with smtp, sms with a transport.
    channels = {"email"} if config.smtp is not None else set()
    channels |= {"sms"} if kw.pop("sms", True) else set()
    found = routes(config, news, "+15125550100", at, channels=frozenset(channels), **kw)  # type: ignore[arg-type]
    return {(r.owner.id, r.channel) for r in found}


def test_business_hours_alert_the_lines_owners_by_every_channel() -> None:
    assert chosen(office(), "missed_call", WEDNESDAY_10AM) == {
        ("mike", "email"), ("mike", "sms"), ("sue", "email"), ("sue", "sms"),
    }  # fmt: skip


def test_after_hours_each_owner_has_their_own_rules() -> None:
    config = office()
    # Mike has the defaults: after hours, a missed call by email only.
    assert chosen(config, "missed_call", WEDNESDAY_10PM) == {("mike", "email"), ("sue", "email")}
    assert chosen(config, "reply", WEDNESDAY_10PM) == {
        ("mike", "email"), ("mike", "sms"), ("sue", "sms"),
    }  # fmt: skip
    assert chosen(config, "reminder", WEDNESDAY_10PM) == {("mike", "email")}


def test_a_holiday_is_after_hours_all_day_and_a_line_may_keep_its_own_hours() -> None:
    assert chosen(office(), "missed_call", CHRISTMAS_10AM) == {("mike", "email"), ("sue", "email")}
    always_open = office(hours={"mon-sun": "00:00-23:59"})
    assert ("mike", "sms") in chosen(always_open, "missed_call", WEDNESDAY_10PM)


def test_channels_that_cannot_be_used_are_left_out() -> None:
    assert chosen(office(), "missed_call", WEDNESDAY_10AM, sms=False) == {
        ("mike", "email"), ("sue", "email"),
    }  # fmt: skip
    no_smtp = office().model_copy(update={"smtp": None})
    assert chosen(no_smtp, "missed_call", WEDNESDAY_10AM) == {("mike", "sms"), ("sue", "sms")}


def test_an_urgent_reply_pages_whoever_is_on_call_whatever_the_rules() -> None:
    assert chosen(office(), "reply", WEDNESDAY_10PM, urgent=True) == {
        ("mike", "email"), ("mike", "sms"), ("sue", "sms"), ("ann", "sms"),
    }  # fmt: skip
    # With no one on call, the line's owners are paged.
    nobody = office()
    owners = tuple(o.model_copy(update={"on_call": False}) for o in nobody.owners)
    nobody = nobody.model_copy(update={"owners": owners})
    assert ("ann", "sms") not in chosen(nobody, "reply", WEDNESDAY_10PM, urgent=True)


def test_urgent_words_match_whole_words_in_any_case() -> None:
    words = office().follow_up.urgent_words
    assert is_urgent("Pipe BURST in the basement!!", words)
    assert is_urgent("we have NO   HEAT since last night", words)
    assert is_urgent("smell gas, please come", words)
    assert not is_urgent("the gasket on the boiler needs replacing", words)
    assert not is_urgent("need a quote for a new roof", words)
    assert not is_urgent("no heater installed yet", words)


def test_owner_commands() -> None:
    assert parse("12 On my way at 3") == Reply(12, "On my way at 3")
    assert parse("#12: On my way") == Reply(12, "On my way")
    assert parse("12 line one\nline two") == Reply(12, "line one\nline two")
    assert parse("CALLED 12") == Handled(12, "called")
    assert parse(" done #7. ") == Handled(7, "done")
    assert parse("done") == Unknown()
    assert parse("12") == Unknown()
    assert parse("On my way") == Unknown()
    assert parse("") == Unknown()


def test_the_usage_reply_names_every_command_in_one_sms() -> None:
    for command in ("'12 text'", "DONE 12", "CALL 12", "BOOKED 12 450", "WON 12", "LOST 12"):
        assert command in USAGE
    longest = f"textback: there is no thread #{10**9 - 1}. {USAGE}"
    assert sms_size(longest).parts == 1


_ANSWERS = st.text(min_size=1).filter(lambda t: t.strip() and t.strip()[0] not in ":.,-")


@given(st.integers(min_value=1, max_value=10**9 - 1), _ANSWERS)
def test_any_answer_reaches_its_thread_word_for_word(thread: int, text: str) -> None:
    assert parse(f"{thread} {text}") == Reply(thread, text.strip())


@given(st.text())
def test_owner_texts_never_crash_the_parser(text: str) -> None:
    assert isinstance(parse(text), Reply | Handled | Unknown)
