"""The recovery ledger's pure parts: the amounts owners type (property tests),
the BOOKED / WON / LOST commands, the transition rules and their words, the
spreadsheet-safe cell, and the report's figures on known leads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.conversations.owner_commands import BadStep, parse, parse_step
from bridge.core.ledger import (
    BOOKED,
    LOST,
    MAX_CENTS,
    WON,
    AmountError,
    LeadRecord,
    LeadState,
    LeadStep,
    Transition,
    confirmation,
    decide,
    fold,
    format_amount,
    parse_amount,
)
from bridge.core.safe_text import spreadsheet
from bridge.core.threads import ReportFigures
from bridge.followup.report import build

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("450", 45000), ("$450", 45000), ("450.00", 45000), ("1,200", 120000),
        ("$1,200.50", 120050), ("€99.9", 9990), ("450 USD", 45000), ("usd450", 45000),
        ("  £ 75 ", 7500), ("0", 0), ("999,999,999.99", MAX_CENTS),
    ],
)  # fmt: skip
def test_amounts_as_owners_type_them(typed: str, cents: int) -> None:
    assert parse_amount(typed) == cents


@pytest.mark.parametrize(
    "typed",
    ["", "$", "-5", "45o", "1.200", "12,00", "1,20,000", "4.505", "2 pm", "1e3", "١٢٣",
     "1000000000", "9" * 5000, "$$5", "USDX 5"],
)  # fmt: skip
def test_what_is_not_an_amount_is_refused_with_what_was_typed(typed: str) -> None:
    with pytest.raises(AmountError, match=r"amount|too large"):
        parse_amount(typed)


@given(st.integers(min_value=0, max_value=MAX_CENTS), st.sampled_from(["", "$", "€", "USD "]))
def test_a_formatted_amount_reads_back_as_itself(cents: int, currency: str) -> None:
    assert parse_amount(format_amount(cents, currency)) == cents
    whole, rest = divmod(cents, 100)
    assert parse_amount(f"{currency}{whole}.{rest:02d}") == cents


@given(st.text(max_size=30))
def test_any_text_is_an_amount_in_range_or_refused_cleanly(typed: str) -> None:
    try:
        cents = parse_amount(typed)
    except AmountError as exc:
        problem = str(exc)
    else:
        assert 0 <= cents <= MAX_CENTS
        return
    assert "\n" not in problem
    assert "amount" in problem or "too large" in problem


@pytest.mark.parametrize(
    ("body", "step"),
    [
        ("BOOKED 12 450", LeadStep(12, BOOKED, 45000)),
        ("booked #12 $1,200.50", LeadStep(12, BOOKED, 120050)),
        ("Won 3.", LeadStep(3, WON)),
        ("WON 3 $500!", LeadStep(3, WON, 50000)),
        ("lost 4", LeadStep(4, LOST)),
        ("LOST 4 went with   another one.", LeadStep(4, LOST, reason="went with another one")),
        ("LOST 4 \x1b[2Jprice", LeadStep(4, LOST, reason="\\x1b[2Jprice")),
    ],
)  # fmt: skip
def test_the_steps_owners_text(body: str, step: LeadStep) -> None:
    assert parse_step(body) == step


def test_a_step_that_cannot_be_taken_as_typed_says_why_and_others_are_not_steps() -> None:
    bad = parse_step("BOOKED 12 2 pm")
    assert isinstance(bad, BadStep)
    assert bad.thread_id == 12
    assert bad.problem.startswith("'2 pm' is not an amount")
    for body in ("BOOKED 12.5", "BOOKED", "booked twelve", "12 booked it", "DONE 12"):
        assert parse_step(body) is None, body
    assert parse("BOOKED 12 450").__class__.__name__ == "Unknown"  # never a reply text


def test_the_transition_rules() -> None:
    nothing, booked = LeadState(), LeadState(BOOKED, 45000)
    won, lost = LeadState(WON, 45000), LeadState(LOST, 45000, "price")
    assert decide(nothing, LeadStep(1, WON)) == Transition("recorded", nothing, LeadState(WON))
    assert decide(booked, LeadStep(1, WON)).after == won  # the booked amount carries over
    assert decide(won, LeadStep(1, BOOKED)).outcome == "refused"
    assert decide(won, LeadStep(1, WON)).outcome == "unchanged"
    assert decide(won, LeadStep(1, WON, 45000)).outcome == "unchanged"
    assert decide(lost, LeadStep(1, LOST)).outcome == "unchanged"
    assert decide(lost, LeadStep(1, LOST, reason="no show")).after.reason == "no show"
    assert decide(lost, LeadStep(1, BOOKED)).after == booked  # came back
    assert decide(booked, LeadStep(1, LOST)).after == LeadState(LOST, 45000)


@given(st.lists(st.tuples(st.sampled_from([BOOKED, WON, LOST]), st.none() | st.integers(0, 10**6))))
def test_the_store_fold_agrees_with_the_rules(steps: list[tuple[str, int | None]]) -> None:
    """What the store keeps (recorded steps only) folds back to the state the rules reached."""
    state, kept = LeadState(), []
    for step, cents in steps:
        moved = decide(state, LeadStep(1, step, cents if step != LOST else None))
        if moved.outcome == "recorded":
            kept.append((step, cents if step != LOST else None, moved.after.reason))
        state = moved.after
    assert fold(kept) == state


def test_the_words_back_say_what_was_recorded_and_what_it_replaced() -> None:
    who, nothing = "(512) 555-9876", LeadState()

    def words(before: LeadState, step: LeadStep, closed: bool = False) -> str:
        moved = decide(before, step)
        moved = Transition(moved.outcome, moved.before, moved.after, closed)
        return confirmation(moved, 12, who, "$")

    assert words(nothing, LeadStep(12, BOOKED, 45000), True) == (
        "#12 (512) 555-9876 booked at $450 - marked handled."
    )
    assert words(nothing, LeadStep(12, WON)) == "#12 (512) 555-9876 won (booked and won at once)."
    assert words(LeadState(BOOKED, 45000), LeadStep(12, BOOKED, 50000)) == (
        "#12 (512) 555-9876 booked at $500 (was $450)."
    )
    assert words(LeadState(WON, 45000), LeadStep(12, LOST, reason="cancelled")) == (
        "#12 (512) 555-9876 lost: cancelled (it was won)."
    )
    assert words(LeadState(WON, 45000), LeadStep(12, BOOKED)) == (
        "#12 (512) 555-9876 is already won at $450: nothing changed. WON 12 500 changes the"
        " amount; LOST 12 if it fell through."
    )
    assert words(LeadState(LOST), LeadStep(12, LOST)) == (
        "#12 (512) 555-9876 is already lost: nothing changed."
    )


@pytest.mark.parametrize(
    ("name", "cell"),
    [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1 line", "'+1 line"), ("-2", "'-2"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\tTab", "'\tTab"), ("Main line", "Main line"), ("", "")],
)  # fmt: skip
def test_a_cell_a_spreadsheet_would_run_is_made_text(name: str, cell: str) -> None:
    assert spreadsheet(name) == cell


def lead(thread: int, **fields: object) -> LeadRecord:
    values: dict[str, object] = {
        "thread_id": thread, "line": "+15125550100", "missed_at": T0, "texted": True,
        "replied": False, "called_back_at": None, "handled": False, "booked": False,
        "state": LeadState(),
    }  # fmt: skip
    values.update(fields)
    return LeadRecord(**values)  # type: ignore[arg-type]


def test_the_report_counts_stages_values_lines_and_weeks() -> None:
    leads = [
        lead(1, replied=True, called_back_at=T0 + timedelta(minutes=10), handled=True,
             booked=True, state=LeadState(WON, 120000)),
        lead(2, called_back_at=T0 + timedelta(minutes=30), handled=True),  # DONE: the average
        lead(3, line=None, texted=False, handled=True, state=LeadState(LOST, 9900, "price")),
        lead(4, line="+15125550111", missed_at=T0 + timedelta(days=7), booked=True,
             state=LeadState(BOOKED)),  # booked, no amount: the average
    ]  # fmt: skip
    figures = ReportFigures(5, 3, 1, 3, [], leads)
    zone = ZoneInfo("America/Chicago")
    report = build(figures, None, 850.0, "$", zone=zone, line_names={"+15125550100": "Main"})
    ledger = report.ledger
    assert ledger.stages == {
        "missed": 4, "texted": 3, "replied": 1, "called_back": 2, "booked": 2, "won": 1, "lost": 1,
    }  # fmt: skip
    assert ledger.median_call_back == timedelta(minutes=20)
    assert (ledger.recovered, ledger.entered, ledger.entered_value) == (3, 1, 1200.0)
    assert (ledger.estimated_value, report.recovered_value) == (1700.0, 2900.0)
    assert ledger.close_rate == 0.5
    assert [(did, name, part.leads) for did, name, part in report.by_line] == [
        (None, "(no line)", 1), ("+15125550100", "Main", 2), ("+15125550111", "+15125550111", 1),
    ]  # fmt: skip
    assert [(str(monday), part.leads) for monday, part in report.by_week] == [
        ("2026-11-23", 3), ("2026-11-30", 1),
    ]  # fmt: skip
    assert ("recovered value", "$2,900 (1 entered: $1,200; 2 x $850 average)") in report.lines()
    assert report.stage_rows()[3] == ("called back", "2", "50%")
    header, total, *rest = report.csv_rows()
    assert header[:4] == ["scope", "name", "missed", "texted"]
    assert total[:9] == ["total", "all", 4, 3, 1, 2, 2, 1, 1]
    assert [row[:3] for row in rest] == [
        ["line", "(no line)", 1], ["line", "Main", 2], ["line", "+15125550111", 1],
        ["week", "2026-11-23", 3], ["week", "2026-11-30", 1],
    ]  # fmt: skip


def test_a_report_without_leads_has_no_rates() -> None:
    report = build(ReportFigures(0, 0, 0, 0, []), None, 850.0, "$")
    assert report.ledger.rate("texted") is None
    assert report.ledger.close_rate is None
    assert report.as_json()["ledger"]["stages"]["won"] == {"count": 0, "rate": None}  # type: ignore[index]
    assert report.breakdown() == []
