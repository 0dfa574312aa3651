"""Texting policy, opt-out keywords, templates and opening hours: pure code."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType, shortnumberinfo

from bridge.config import Config
from bridge.conversations.optout import Keyword, classify
from bridge.core import templates
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.core.texts import History
from bridge.texting import plan as textback
from bridge.texting import policy
from bridge.texting.policy import Skip, TextPolicy
from tests.support.store_values import decision

NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
RULES = TextPolicy(region="US", own_numbers=frozenset({"+15125550100", "+15125550199"}))
MISSED = decision()


def verdict(d: CallDecision = MISSED, rules: TextPolicy = RULES, **history: object) -> Skip | None:
    return policy.check(d, rules, History(**history), NOW)  # type: ignore[arg-type]


def test_an_ordinary_missed_caller_is_texted() -> None:
    assert verdict() is None


def test_answered_internal_and_unknown_calls_are_never_texted() -> None:
    for outcome in (Outcome.ANSWERED, Outcome.INTERNAL, Outcome.OUTBOUND, Outcome.UNKNOWN):
        assert verdict(replace(MISSED, outcome=outcome)) is Skip.NOT_MISSED


@pytest.mark.parametrize(
    ("number", "skip"),
    [
        ("+1911", Skip.SHORT_OR_EMERGENCY),
        ("911", Skip.SHORT_OR_EMERGENCY),
        ("+19005550123", Skip.PREMIUM),
        ("+442071838750", Skip.NOT_TEXTABLE),  # abroad
        ("+1512555014", Skip.NOT_TEXTABLE),  # a digit short
        ("22333", Skip.SHORT_OR_EMERGENCY),
        ("+15125550100", Skip.OWN_NUMBER),  # our own line
        ("+15125550199", Skip.OWN_NUMBER),  # an owner's mobile
        ("+15125550142", None),
        ("+14165550123", None),  # Canada shares +1
    ],
)
def test_numbers(number: str, skip: Skip | None) -> None:
    assert verdict(replace(MISSED, caller=number)) is skip


def _number_problem_as_written_first(e164: str, region: str) -> Skip | None:
    """policy's number check as it was first written, one phonenumbers call
    per question: the reference its one-look version must agree with."""
    if shortnumberinfo.is_emergency_number(e164, region):
        return Skip.SHORT_OR_EMERGENCY
    try:
        parsed = phonenumbers.parse(e164, region)
    except phonenumbers.NumberParseException:
        return Skip.NOT_TEXTABLE
    valid = phonenumbers.is_valid_number(parsed)
    if shortnumberinfo.is_possible_short_number(parsed) and not valid:
        return Skip.SHORT_OR_EMERGENCY
    if not valid:
        return Skip.NOT_TEXTABLE
    if parsed.country_code != phonenumbers.country_code_for_region(region):
        return Skip.NOT_TEXTABLE
    kind = phonenumbers.number_type(parsed)
    if kind in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.UAN):
        return Skip.PREMIUM
    textable = (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.VOIP,
    )
    return None if kind in textable else Skip.NOT_TEXTABLE


_REGIONS = ["US", "CA", "GB", "DE", "AU", "FR", "IN", "IM"]
# phonenumbers' example of each kind of number in each region (mobile,
# premium, toll-free...): their neighbours are often of that kind too.
_EXAMPLES = sorted(
    phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    for region in _REGIONS
    for kind in vars(PhoneNumberType).values()
    if isinstance(kind, int)
    and (example := phonenumbers.example_number_for_type(region, kind)) is not None
)


@st.composite
def _numbers(draw: st.DrawFn) -> str:
    ending = draw(st.text(alphabet="0123456789", max_size=4))
    near = draw(st.sampled_from(_EXAMPLES))
    near = near[: len(near) - len(ending)] + ending
    prefix = draw(st.sampled_from(["", "+", "+1", "+44", "+49", "+61", "+800", "0"]))
    anything = prefix + draw(st.text(alphabet="0123456789", min_size=1, max_size=13))
    return draw(st.sampled_from([near, anything]))


@settings(max_examples=800)
@given(_numbers(), st.sampled_from(_REGIONS))
def test_the_number_check_agrees_with_phonenumbers_asked_each_question(
    number: str, region: str
) -> None:
    expected = _number_problem_as_written_first(number, region)
    assert policy.number_problem(number, replace(RULES, region=region)) is expected


def test_withheld() -> None:
    assert verdict(replace(MISSED, caller=None, withheld=True)) is Skip.WITHHELD


def test_a_caller_id_that_is_no_number_is_not_called_withheld() -> None:
    garbled = replace(MISSED, caller=None, caller_raw="12345", withheld=False)
    assert verdict(garbled) is Skip.NOT_A_NUMBER


def test_block_and_allow_lists() -> None:
    blocked = replace(RULES, blocklist=frozenset({"+15125559876"}))
    assert verdict(rules=blocked) is Skip.BLOCKLISTED
    only = replace(RULES, allowlist=frozenset({"+15125550142"}))
    assert verdict(rules=only) is Skip.NOT_ALLOWLISTED
    assert verdict(replace(MISSED, caller="+15125550142"), rules=only) is None


def test_opted_out_numbers_are_never_texted() -> None:
    assert verdict(opted_out=True) is Skip.OPTED_OUT


def test_cooldown_and_hourly_cap() -> None:
    assert verdict(last_textback_at=NOW - timedelta(hours=11)) is Skip.COOLDOWN
    assert verdict(last_textback_at=NOW - timedelta(hours=13)) is None
    assert verdict(textbacks_last_hour=RULES.max_per_hour) is Skip.HOURLY_CAP
    assert verdict(textbacks_last_hour=RULES.max_per_hour - 1) is None


def test_the_caps_default_to_a_storm_not_to_a_quiet_day() -> None:
    assert verdict(textbacks_last_hour=150) is None  # a roofer's hail storm goes through
    assert verdict(textbacks_last_minute=RULES.max_per_minute) is Skip.BURST_CAP
    assert verdict(textbacks_last_minute=RULES.max_per_minute - 1) is None


def test_voicemail_callers_can_be_left_alone() -> None:
    left = replace(MISSED, reason=Reason.VOICEMAIL, voicemail_left=True)
    assert verdict(left) is None
    quiet = replace(RULES, text_voicemail_callers=False)
    assert verdict(left, rules=quiet) is Skip.VOICEMAIL
    assert verdict(replace(left, voicemail_left=False), rules=quiet) is None


# --- keywords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ["STOP", "stop", " Stop. ", "STOPALL", "Unsubscribe", "cancel", "END", "quit!", "revoke",
     "OPTOUT", "opt out", "Opt-Out", "remove", "Arrêt", "STOP\n"],
)  # fmt: skip
def test_opt_out_words(body: str) -> None:
    assert classify(body) is Keyword.STOP


@pytest.mark.parametrize(
    ("body", "keyword"),
    [("START", Keyword.START), ("unstop", Keyword.START), ("Yes", Keyword.START),
     ("help", Keyword.HELP), ("HELP?", Keyword.HELP)],
)  # fmt: skip
def test_start_and_help(body: str, keyword: Keyword) -> None:
    assert classify(body) is keyword


@pytest.mark.parametrize(
    "body",
    [
        "please stop by tomorrow",
        "Need a roof repair quote",
        "stopped leaking",
        "",
        "yes please come",
    ],
)
def test_ordinary_replies_are_not_keywords(body: str) -> None:
    assert classify(body) is None


@given(
    st.sampled_from(["STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"]),
    st.text(" .!,-\t\n", max_size=4),
    st.text(" .!,-\t\n", max_size=4),
    st.lists(st.booleans(), min_size=12, max_size=12),
)
@settings(max_examples=200)
def test_any_case_and_punctuation_around_an_opt_out_word(
    word: str, before: str, after: str, lower: list[bool]
) -> None:
    mixed = "".join(ch.lower() if flip else ch for ch, flip in zip(word, lower, strict=False))
    assert classify(f"{before}{mixed}{after}") is Keyword.STOP


# --- templates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "parts"),
    [
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # extension characters count twice
        ("€" * 81, "GSM-7", 2),
        ("é" * 160, "GSM-7", 1),  # é is in the GSM alphabet
        ("ç" * 70, "UCS-2", 1),  # ç (lower case) is not
        ("ç" * 71, "UCS-2", 2),
        ("🙂" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("🙂" * 36, "UCS-2", 2),
    ],
)
def test_sms_size(text: str, encoding: str, parts: int) -> None:
    size = templates.sms_size(text)
    assert (size.encoding, size.parts) == (encoding, parts)


_GSM7_SAMPLE = "aZ09 @£$éñ\nΔ_{}€[~]|^\\"


@given(st.text(alphabet=st.sampled_from(_GSM7_SAMPLE + "ç🙂漢"), max_size=400))
def test_sms_size_counts_as_a_modem_does(text: str) -> None:
    # One character at a time, as TS 23.038 reads: extension characters are
    # two septets; anything outside the alphabet makes it UCS-2.
    extended = set("^{}\\[~]|€\f")
    if all(ch in _GSM7_SAMPLE for ch in text):
        units, encoding, single, each = sum(1 + (ch in extended) for ch in text), "GSM-7", 160, 153
    else:
        units, encoding, single, each = len(text.encode("utf-16-le")) // 2, "UCS-2", 70, 67
    parts = 1 if units <= single else -(-units // each)
    assert templates.sms_size(text) == templates.SmsSize(encoding, units, parts)


def test_the_default_texts_fit_and_read_well() -> None:
    body = templates.render(
        templates.DEFAULT_BUSINESS_HOURS, business="Acme Roofing", owner="Mike", line="Main line"
    )
    assert body.startswith("Sorry we missed your call - this is Mike at Acme Roofing.")
    assert templates.sms_size(f"{body} {templates.DEFAULT_FOOTER}").parts == 1
    after = templates.render(
        templates.DEFAULT_AFTER_HOURS, business="Acme Roofing", owner="Mike", line="Main line"
    )
    assert templates.sms_size(f"{after} {templates.DEFAULT_FOOTER}").parts == 1


def test_opening_hours_in_the_business_time_zone_with_holidays() -> None:
    hours = templates.parse_hours(
        {"mon-fri": "08:00-12:00, 13:00-17:00", "sat": "09:00-12:00", "sun": "closed"},
        [date(2026, 12, 25)],
        "America/Chicago",
    )
    # 2026-11-25 is a Wednesday; Chicago is UTC-6 in November.
    assert hours.is_open(datetime(2026, 11, 25, 15, 0, tzinfo=UTC))  # 09:00 local
    assert not hours.is_open(datetime(2026, 11, 25, 18, 30, tzinfo=UTC))  # 12:30 lunch
    assert not hours.is_open(datetime(2026, 11, 25, 23, 30, tzinfo=UTC))  # 17:30
    assert hours.is_open(datetime(2026, 11, 28, 16, 0, tzinfo=UTC))  # Saturday 10:00
    assert not hours.is_open(datetime(2026, 11, 29, 16, 0, tzinfo=UTC))  # Sunday
    assert not hours.is_open(datetime(2026, 12, 25, 16, 0, tzinfo=UTC))  # Christmas, a Friday


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"mon-fry": "08:00-17:00"}, "'mon-fry' is not a day or range of days"),
        ({"mon": "8-5"}, "mon: expected opening hours such as 08:00-17:00 or closed, got '8-5'"),
        ({"mon": "17:00-08:00"}, "mon: expected opening hours"),
    ],
)
def test_bad_opening_hours(spec: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        templates.parse_hours(spec, [], "UTC")


# --- what the caller gets -------------------------------------------------------------


def _config(**texting: object) -> Config:
    return Config.model_validate(
        {
            "business": {
                "name": "Acme Roofing",
                "timezone": "America/Chicago",
                "hours": {"mon-fri": "08:00-17:00"},
            },
            "ami": {"username": "textback", "secret": "x"},
            "lines": [
                {"did": "+15125550100", "name": "Main line", "owners": ["mike"]},
                {
                    "did": "+15125550101",
                    "name": "Service line",
                    "hours": {"mon-sun": "00:00-23:59"},
                },
            ],
            "owners": [{"id": "mike", "name": "Mike", "mobile": "+15125550199"}],
            "texting": texting,
        },
        context={"region": "US"},
    )


WEDNESDAY_10AM = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)  # 10:00 in Chicago
WEDNESDAY_9PM = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 21:00 in Chicago


def test_business_hours_text_names_the_person_and_the_business() -> None:
    body = textback.compose(_config(), "+15125550100", WEDNESDAY_10AM, first_text=True)
    assert body == (
        "Sorry we missed your call - this is Mike at Acme Roofing. What can we help with? "
        "Reply here and we'll get right back to you. Reply STOP to opt out."
    )


def test_after_hours_text_and_per_line_hours() -> None:
    after = textback.compose(_config(), "+15125550100", WEDNESDAY_9PM, first_text=False)
    assert "We're closed now" in after
    assert "STOP" not in after  # the footer is for the first text only
    service = textback.compose(_config(), "+15125550101", WEDNESDAY_9PM, first_text=False)
    assert "closed" not in service  # that line answers around the clock


def test_footer_can_be_turned_off_and_templates_changed() -> None:
    config = _config(footer="", business_hours_template="{business}: we missed you on {line}!")
    body = textback.compose(config, "+15125550100", WEDNESDAY_10AM, first_text=True)
    assert body == "Acme Roofing: we missed you on Main line!"


def test_plan_queues_a_text_that_expires_after_the_window() -> None:
    config = _config()
    rules = textback.text_policy(config)
    just_now = MISSED.ended_at  # decided as the call ends
    planned = textback.plan(config, rules, MISSED, History(), just_now, can_send=None)
    assert planned.skip is None
    assert planned.text is not None
    assert planned.text.to_number == MISSED.caller
    assert planned.text.expires_at == MISSED.ended_at + timedelta(minutes=30)
    assert planned.text.parts == templates.sms_size(planned.text.body).parts
    held = textback.plan(config, rules, MISSED, History(), just_now, can_send="dry-run")
    assert (held.text, held.skip) == (None, "dry-run")
    off = textback.plan(_config(enabled=False), rules, MISSED, History(), just_now, can_send=None)
    assert off.skip == "texting-disabled"
    owner = replace(MISSED, caller="+15125550199")
    assert textback.plan(config, rules, owner, History(), just_now, can_send=None).skip == (
        "own-line-or-owner"
    )
    # A call the bridge learns of only later (the PBX's call records): too late to text.
    late = MISSED.ended_at + timedelta(minutes=30)
    assert textback.plan(config, rules, MISSED, History(), late, can_send=None) == (
        textback.Plan(None, "too-late")
    )


def test_log_lines_never_carry_terminal_control_from_a_caller() -> None:
    from bridge.core.calls import describe

    hostile = replace(MISSED, caller_name="\x1b[2J\x1b]0;owned\x07Evil\r\nFAKE LOG LINE")
    line = describe(hostile, "US")
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "\n" not in line
    assert "\r" not in line
    assert "Evil" in line


@pytest.mark.parametrize(
    ("number", "home", "shown"),
    [
        ("+15125550142", "US", "(512) 555-0142"),
        ("+14165550123", "US", "(416) 555-0123"),  # Canada: the same +1 plan, dialled alike
        ("+442071838750", "US", "+44 20 7183 8750"),  # abroad: as it must be dialled from here
        ("+442071838750", "GB", "020 7183 8750"),
        ("+15125550142", "GB", "+1 512-555-0142"),
    ],
)
def test_a_number_shows_nationally_at_home_and_internationally_otherwise(
    number: str, home: str, shown: str
) -> None:
    from bridge.core.numbers import display

    assert display(number, home) == shown
