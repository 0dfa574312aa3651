"""Outbound calls name their callee in E.164 and when they were answered; a
ring group of Local channels is decided by the caller's own legs, with or
without the dialplan class."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bridge.core.calls import Outcome, Reason
from bridge.core.numbers import dialled_number
from bridge.detection.rules import DetectionRules
from bridge.sim.callbacks import call_back, local_ring_group_no_answer, only_classes
from bridge.sim.callgen import Pbx
from tests.support.calls import LEAST_PRIVILEGE, T0, run_steps


@pytest.mark.parametrize(
    "dialled", ["95125559876", "+15125559876", "15125559876", "5125559876", "915125559876"]
)
def test_callee_in_e164_however_the_desk_dialled(rules: DetectionRules, dialled: str) -> None:
    pbx = Pbx()
    (decision,) = run_steps(rules, call_back(pbx, dialled=dialled), pbx, timedelta(seconds=30))
    assert decision.outcome is Outcome.OUTBOUND
    assert decision.callee == "+15125559876"
    assert decision.caller_raw == "201"
    assert decision.answered_at == T0 + timedelta(seconds=30)
    assert decision.talked_seconds == 30
    assert decision.as_json()["callee"] == "+15125559876"
    json.dumps(decision.as_json())


def test_unanswered_call_back_talked_nothing(rules: DetectionRules) -> None:
    pbx = Pbx()
    scenario = call_back(pbx, dialled="95125559876", answered=False)
    (decision,) = run_steps(rules, scenario, pbx, timedelta(seconds=20))
    assert decision.outcome is Outcome.OUTBOUND
    assert decision.callee == "+15125559876"
    assert decision.answered_by is None
    assert decision.talked_seconds == 0


def test_inbound_and_internal_calls_have_no_callee(rules: DetectionRules) -> None:
    pbx = Pbx()
    (decision,) = run_steps(rules, local_ring_group_no_answer(pbx), pbx, timedelta(seconds=5))
    assert decision.callee is None
    assert decision.as_json()["callee"] is None


@pytest.mark.parametrize("privileges", [None, LEAST_PRIVILEGE], ids=["all classes", "call,agent"])
def test_local_ring_group_nobody_answers_is_noanswer(
    rules: DetectionRules, privileges: frozenset[str] | None
) -> None:
    """The caller hung up only after the group had rung out: NOANSWER, from the
    caller's own legs, never the inner Local;2 -> phone legs' CANCEL."""
    pbx = Pbx()
    scenario = local_ring_group_no_answer(pbx)
    (decision,) = run_steps(rules, scenario, pbx, timedelta(seconds=5), privileges)
    assert decision.outcome is Outcome.MISSED
    assert decision.reason is Reason.NOANSWER
    assert decision.dial_status == "NOANSWER"


def test_without_dialplan_class_the_stream_has_no_dialplan_events() -> None:
    pbx = Pbx()
    for _ in local_ring_group_no_answer(pbx):
        pass
    kept = only_classes(pbx.take(), LEAST_PRIVILEGE)
    assert b"Event: VarSet" not in kept
    assert b"Event: Newexten" not in kept
    assert kept.count(b"DialStatus: CANCEL") == 2


def test_dialled_number_forms() -> None:
    assert dialled_number("+15125559876@trunk", "US") == "+15125559876"
    assert dialled_number("201", "US") is None
    assert dialled_number("", "US") is None
