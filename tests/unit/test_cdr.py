"""Calls rebuilt from Asterisk's call records decide as the same calls seen on AMI.

The records are the ones the AMI double writes for each call (bridge/sim/cdr.py
follows the very events of the recordings and of callgen), written as
Master.csv rows and read back, so the rules meet what cdr_csv writes. Where
records know less than AMI, the difference is asserted, not hidden.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import Config
from bridge.core.calls import CallDecision, Outcome, Reason
from bridge.detection.records import csvfile
from bridge.detection.records.cdr import CdrRecord, csv_columns, split_clid
from bridge.detection.records.rules import FROM_RECORDS, decide_cdrs
from bridge.detection.replay import replay
from bridge.detection.rules import DetectionRules
from bridge.sim import callgen
from bridge.sim.cdr import RECOMMENDED, CdrSettings, _callerid_merge, csv_row, records_from_ami
from tests.support.expected import CALLER, DID, REAL_TRACES, trace

ALL_ON = CdrSettings(unanswered=True, congestion=True, cancel_disposition=True)
# (scenario, cdr.conf) -> the reason the records give where AMI's differs.
CDR_REASONS: dict[tuple[str, CdrSettings], str] = {
    # canceldispositionenabled=no: a caller hanging up while phones ring is NO ANSWER.
    ("caller_gives_up", RECOMMENDED): "NOANSWER",
    # congestion=no: a congested route is FAILED, which also means unreachable.
    ("congestion", RECOMMENDED): "CHANUNAVAIL",
}
# unanswered=no (Asterisk's default): a call that reached no phone leaves no record.
NO_RECORD_BY_DEFAULT = {"16_chanunavail.ami", "chanunavail", "congestion"}


def through_master_csv(records: list[CdrRecord], cdr: CdrSettings) -> list[CdrRecord]:
    """Written as cdr_csv writes them, read back as the CSV source reads them."""
    data = b"".join(row for r in records if (row := csv_row(r, cdr)) is not None)
    columns = csv_columns(loguniqueid=cdr.loguniqueid, loguserfield=cdr.loguserfield)
    parsed = csvfile.parse_region(data, 0, columns, cdr.csv_zone)
    assert parsed.bad == []
    return [record for _, record in parsed.records]


def both_ways(
    data: bytes, rules: DetectionRules, cdr: CdrSettings = RECOMMENDED
) -> tuple[list[CallDecision], list[CallDecision]]:
    ami = replay([data], rules).decisions
    records = through_master_csv(records_from_ami(data, cdr), cdr)
    return ami, decide_cdrs(records, rules)


def reason(decision: CallDecision) -> str | None:
    return decision.reason.value if decision.reason else None


@pytest.mark.parametrize("name", sorted(REAL_TRACES))
def test_each_real_trace_decides_from_its_records_as_on_ami(
    rules: DetectionRules, name: str
) -> None:
    (ami,), (cdr,) = both_ways(trace(name), rules)
    assert (cdr.outcome, reason(cdr)) == (ami.outcome, reason(ami))
    assert (cdr.linkedid, cdr.caller, cdr.line, cdr.answered_by) == (
        ami.linkedid, ami.caller, ami.line, ami.answered_by,
    )  # fmt: skip
    assert (cdr.source, ami.source) == ("cdr", "ami")
    assert FROM_RECORDS in cdr.detail
    if ami.outcome is not Outcome.INTERNAL:
        assert (cdr.caller, cdr.caller_name, cdr.line_name) == (CALLER, "Jane Caller", "Main line")


@pytest.mark.parametrize("cdr_conf", [RECOMMENDED, ALL_ON], ids=["recommended", "all_on"])
@pytest.mark.parametrize("name", sorted(callgen.SCENARIOS))
def test_each_generated_scenario_decides_from_its_records_as_on_ami(
    rules: DetectionRules, name: str, cdr_conf: CdrSettings
) -> None:
    (ami,), (cdr,) = both_ways(callgen.render(name), rules, cdr_conf)
    assert cdr.outcome == ami.outcome, cdr.detail
    assert reason(cdr) == CDR_REASONS.get((name, cdr_conf), reason(ami)), cdr.detail
    assert (cdr.linkedid, cdr.caller, cdr.withheld, cdr.line) == (
        ami.linkedid, ami.caller, ami.withheld, ami.line,
    )  # fmt: skip


@pytest.mark.parametrize("name", sorted(NO_RECORD_BY_DEFAULT))
def test_with_asterisks_defaults_a_call_that_reached_no_phone_leaves_no_record(
    name: str,
) -> None:
    data = trace(name) if name.endswith(".ami") else callgen.render(name)
    assert records_from_ami(data, CdrSettings()) == []
    assert records_from_ami(data, RECOMMENDED) != []  # cdr.conf: unanswered = yes


def test_with_asterisks_defaults_every_other_call_is_recorded(rules: DetectionRules) -> None:
    names = [n for n in callgen.SCENARIOS if n not in NO_RECORD_BY_DEFAULT]
    for name in names:
        (ami,), (cdr,) = both_ways(callgen.render(name), rules, CdrSettings())
        assert cdr.outcome == ami.outcome, name


def test_voicemail_is_missed_but_the_records_do_not_say_if_a_message_was_left(
    rules: DetectionRules,
) -> None:
    (ami,), (cdr,) = both_ways(trace("07_voicemail_left.ami"), rules)
    assert (ami.reason, ami.voicemail_left) == (Reason.VOICEMAIL, True)
    assert (cdr.reason, cdr.voicemail_left) == (Reason.VOICEMAIL, None)
    assert cdr.dial_status == ami.dial_status == "NOANSWER"  # the ring-out before it
    for name in ("voicemail_left", "voicemail_no_message"):
        (_,), (cdr,) = both_ways(callgen.render(name), rules)
        assert (cdr.reason, cdr.voicemail_left) == (Reason.VOICEMAIL, None)


def test_a_ring_group_leaves_a_record_per_phone_and_is_one_call(rules: DetectionRules) -> None:
    records = records_from_ami(trace("05_ringgroup_noanswer.ami"))
    assert [r.dstchannel.split("-")[0] for r in records if r.dstchannel] == [
        "PJSIP/201", "PJSIP/202", "PJSIP/203",
    ]  # fmt: skip
    assert {r.linkedid for r in records} == {records[0].uniqueid}
    (decision,) = decide_cdrs(records, rules)
    assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.NOANSWER)


def test_ring_group_answered_elsewhere_is_answered(rules: DetectionRules) -> None:
    records = records_from_ami(trace("06_ringgroup_answered.ami"))
    assert sorted(r.disposition for r in records) == ["ANSWERED", "NO ANSWER", "NO ANSWER"]
    (decision,) = decide_cdrs(records, rules)
    assert decision.answered_by == "PJSIP/202-00000016"


def test_a_queue_abandon_is_two_unanswered_member_records_under_the_queue(
    rules: DetectionRules,
) -> None:
    records = records_from_ami(trace("09_queue_abandon.ami"))
    assert [(r.lastapp, r.disposition) for r in records] == [("Queue", "NO ANSWER")] * 2
    # Answer() before Queue() gives the records an answer time: only the
    # disposition says nobody answered.
    assert all(r.answer is not None for r in records)
    (decision,) = decide_cdrs(records, rules)
    assert decision.reason is Reason.QUEUE_ABANDON


def test_follow_me_local_legs_are_part_of_the_call(rules: DetectionRules) -> None:
    for name, outcome in (("followme_no_answer", "missed"), ("followme_answered", "answered")):
        records = records_from_ami(callgen.render(name))
        assert any(r.channel.startswith("Local/") for r in records)  # the ;2 halves' dials
        assert len({r.linkedid for r in records}) == 1
        (decision,) = decide_cdrs(records, rules)
        assert decision.outcome.value == outcome
        if outcome == "answered":
            assert decision.answered_by is not None
            assert decision.answered_by.startswith("PJSIP/202")


def test_internal_outbound_and_withheld(rules: DetectionRules) -> None:
    (internal,) = decide_cdrs(records_from_ami(trace("13_internal_call.ami")), rules)
    (outbound,) = decide_cdrs(records_from_ami(callgen.render("outbound")), rules)
    (withheld,) = decide_cdrs(records_from_ami(callgen.render("anonymous")), rules)
    assert (internal.outcome, internal.caller, internal.line) == (Outcome.INTERNAL, None, None)
    assert (outbound.outcome, outbound.caller) == (Outcome.OUTBOUND, None)
    assert (withheld.outcome, withheld.caller, withheld.withheld) == (Outcome.MISSED, None, True)
    assert withheld.caller_raw == "anonymous"


def test_decisions_span_the_calls_records(rules: DetectionRules) -> None:
    records = records_from_ami(callgen.render("transfer_after_answer"))
    (decision,) = decide_cdrs(records, rules)
    assert decision.started_at == min(r.start for r in records)
    assert decision.ended_at == max(r.end for r in records)


# --- FreePBX's records: the did column, contexts that move --------------------------------

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def record(**fields: object) -> CdrRecord:
    base = CdrRecord(
        start=T0, answer=None, end=T0 + timedelta(seconds=20), src="+15125559876",
        dst="+15125550100", dcontext="from-pstn", clid='"Jane Caller" <+15125559876>',
        channel="PJSIP/trunk-00000001", dstchannel="PJSIP/201-00000002", lastapp="Dial",
        lastdata="PJSIP/201,20", duration=20, billsec=0, disposition="NO ANSWER",
        uniqueid="1795617000.1", linkedid="1795617000.1", sequence=1,
    )  # fmt: skip
    return replace(base, **fields)  # type: ignore[arg-type]


def test_freepbx_did_names_the_line_when_the_dialplan_moved_the_caller_on(
    rules: DetectionRules,
) -> None:
    # FreePBX: from-pstn, then ext-local; the record keeps the last place.
    moved = record(dst="201", dcontext="ext-local", did="5125550100")
    (decision,) = decide_cdrs([moved], rules)
    assert (decision.outcome, decision.line, decision.line_name) == (
        Outcome.MISSED, DID, "Main line",
    )  # fmt: skip


def test_an_inbound_context_on_any_of_the_callers_records_makes_it_inbound(
    rules: DetectionRules,
) -> None:
    first = record(dcontext="from-trunk", sequence=1)
    second = record(dcontext="ext-queues", dstchannel="", lastapp="Queue", sequence=2)
    (decision,) = decide_cdrs([first, second], rules)
    assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.QUEUE_ABANDON)


def test_without_a_uniqueid_column_the_callers_channel_is_the_first_one(
    rules: DetectionRules,
) -> None:
    caller = record(uniqueid="", sequence=1)
    inner = record(
        uniqueid="", channel="Local/201@followme-dial-00000003;2", dcontext="followme-dial",
        start=T0 + timedelta(seconds=1), sequence=2,
    )  # fmt: skip
    (decision,) = decide_cdrs([inner, caller], rules)
    assert (decision.outcome, decision.caller) == (Outcome.MISSED, CALLER)


def test_answered_means_a_real_device_not_a_local_helper(rules: DetectionRules) -> None:
    via_local = record(dstchannel="Local/201@from-queue-00000004;1", disposition="ANSWERED")
    (decision,) = decide_cdrs([via_local], rules)
    assert decision.outcome is Outcome.MISSED
    assert decision.reason is Reason.IVR_HANGUP  # something answered; no person did


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [("NO ANSWER", "NOANSWER"), ("BUSY", "BUSY"), ("FAILED", "CHANUNAVAIL"),
     ("CONGESTION", "CONGESTION"), ("CANCEL", "CANCEL")],
)  # fmt: skip
def test_dispositions_map_onto_reasons(
    rules: DetectionRules, disposition: str, expected: str
) -> None:
    for dstchannel in ("PJSIP/201-00000002", ""):  # a dial leg, or the caller alone
        (decision,) = decide_cdrs([record(disposition=disposition, dstchannel=dstchannel)], rules)
        assert reason(decision) == expected


# --- caller IDs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clid", "name", "number"),
    [
        ('"Jane Caller" <+15125559876>', "Jane Caller", "+15125559876"),
        ('"" <+15125559876>', "", "+15125559876"),
        ('"Jane \\"JJ\\" O\\\\Brien" <5125559876>', 'Jane "JJ" O\\Brien', "5125559876"),
        ('"A name so long that ast_callerid_merge cut it off inside the quo', "A name so long "
         "that ast_callerid_merge cut it off inside the quo", ""),
        ("Jane <5125559876>", "Jane", "5125559876"),
        ("5125559876", "", "5125559876"),
        ("", "", ""),
    ],
)  # fmt: skip
def test_caller_ids_as_asterisk_merges_them(clid: str, name: str, number: str) -> None:
    assert split_clid(clid) == (name, number)


@given(st.text(max_size=100), st.text(alphabet="+0123456789", max_size=20))
def test_any_name_survives_the_merge(name: str, number: str) -> None:
    merged = _callerid_merge(name, number)
    if len(merged.encode()) < 79 and len(name.encode()) < 60:
        assert split_clid(merged) == (name, number)


# --- properties -------------------------------------------------------------------------------

_names = st.sampled_from(sorted(callgen.SCENARIOS))


@given(st.lists(_names, min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_any_mix_of_overlapping_calls_decides_from_records_as_on_ami(names: list[str]) -> None:
    rules = DetectionRules(
        frozenset({"from-trunk"}), frozenset({"from-internal"}), {"+15125550100": "Main line"}
    )
    pbx = callgen.Pbx()
    data = b"".join(callgen.interleave(pbx, (callgen.SCENARIOS[n][0](pbx) for n in names)))
    ami, cdr = both_ways(data, rules, ALL_ON)
    assert len({d.linkedid for d in cdr}) == len(cdr) == len(names)
    by_call = {d.linkedid: d for d in ami}
    for decision in cdr:
        seen = by_call[decision.linkedid]
        assert (decision.outcome, decision.reason) == (seen.outcome, seen.reason)


def test_a_click_to_call_seen_only_in_the_records_is_outbound() -> None:
    config = Config.model_validate(
        {
            "lab": True,
            "business": {"name": "Acme Roofing"},
            "ami": {"username": "textback", "secret": "x"},
            "lines": [{"did": "+15125550100", "name": "Main line"}],
        },
        context={"region": "US"},
    )
    # The owner's leg is Party A, its caller ID the line's (the Originate's CallerID).
    placed = record(
        src="+15125550100", clid='"Main line" <+15125550100>', dst="+15125559876",
        dcontext="textback-click-to-call", channel="PJSIP/201-00000009",
        dstchannel="PJSIP/trunk-0000000a", lastdata="PJSIP/+15125559876@trunk,60",
        answer=T0 + timedelta(seconds=8), billsec=12, disposition="ANSWERED",
    )  # fmt: skip
    (decision,) = decide_cdrs([placed], DetectionRules.from_config(config))
    assert decision.outcome is Outcome.OUTBOUND  # never a missed call from the line itself
    assert decision.caller is None
