"""The decision machine, fed parsed events directly: no socket, no clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.ami.framer import AmiFramer, AmiMessage
from bridge.core.calls import CallDecision, OpenCall, Outcome, Reason
from bridge.core.numbers import caller_label
from bridge.detection.rules import DetectionRules
from bridge.detection.tracker import CallTracker
from bridge.sim import callgen
from tests.support.expected import CALLER, DID, REAL_TRACES, trace

T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def decide(rules: DetectionRules, data: bytes, now: datetime = T0) -> list[CallDecision]:
    tracker = CallTracker(rules)
    decisions = [d for m in AmiFramer().feed(data) if (d := tracker.feed(m, now))]
    assert tracker.open_calls == 0
    return decisions


@pytest.mark.parametrize("name", sorted(REAL_TRACES))
def test_each_real_asterisk_trace(rules: DetectionRules, name: str) -> None:
    outcome, reason, extra = REAL_TRACES[name]
    (decision,) = decide(rules, trace(name))
    assert decision.outcome.value == outcome
    assert (decision.reason.value if decision.reason else None) == reason
    for key, value in extra.items():
        assert getattr(decision, key) == value, key
    if outcome != "internal":
        assert decision.caller == CALLER
        assert decision.caller_name == "Jane Caller"
        assert decision.line == DID
        assert decision.line_name == "Main line"


@pytest.mark.parametrize("name", sorted(callgen.SCENARIOS))
def test_each_generated_scenario(rules: DetectionRules, name: str) -> None:
    _, outcome, reason = callgen.SCENARIOS[name]
    (decision,) = decide(rules, callgen.render(name))
    assert decision.outcome.value == outcome, decision.detail
    assert (decision.reason.value if decision.reason else None) == reason


def test_withheld_caller_is_missed_with_no_number(rules: DetectionRules) -> None:
    (decision,) = decide(rules, callgen.render("anonymous"))
    assert decision.outcome is Outcome.MISSED
    assert decision.caller is None
    assert decision.withheld
    assert decision.caller_raw == "anonymous"


@pytest.mark.parametrize("raw", ["12345", "abc", "+1512"])
def test_a_caller_id_that_is_no_number_is_not_withheld(rules: DetectionRules, raw: str) -> None:
    pbx = callgen.Pbx(caller=raw, caller_name="Odd")
    (decision,) = decide(rules, callgen.render("no_answer", pbx=pbx))
    assert (decision.outcome, decision.caller, decision.caller_raw) == (Outcome.MISSED, None, raw)
    assert not decision.withheld
    assert caller_label(decision.caller, decision.caller_raw, "US", withheld=False) == (
        f"not a callable number ({raw})"
    )
    assert caller_label(None, "anonymous", "US", withheld=True) == "withheld"


def test_voicemail_says_whether_a_message_was_left(rules: DetectionRules) -> None:
    (left,) = decide(rules, callgen.render("voicemail_left"))
    (silent,) = decide(rules, callgen.render("voicemail_no_message"))
    assert (left.reason, left.voicemail_left) == (Reason.VOICEMAIL, True)
    assert (silent.reason, silent.voicemail_left) == (Reason.VOICEMAIL, False)


def test_ring_group_is_one_call_with_one_decision(rules: DetectionRules) -> None:
    decisions = decide(rules, trace("05_ringgroup_noanswer.ami"))
    assert [d.outcome for d in decisions] == [Outcome.MISSED]


def test_two_calls_ringing_at_once_are_kept_apart(rules: DetectionRules) -> None:
    pbx = callgen.Pbx()
    first = _on(pbx, callgen.no_answer, caller="+15125550001")
    second = _on(pbx, callgen.answered, caller="+15125550002")
    data = b"".join(callgen.interleave(pbx, [first, second]))
    decisions = {d.caller: d for d in decide(rules, data)}
    assert decisions["+15125550001"].outcome is Outcome.MISSED
    assert decisions["+15125550002"].outcome is Outcome.ANSWERED


def _on(pbx: callgen.Pbx, scenario: callgen.Scenario, caller: str) -> Iterator[None]:
    """Start ``scenario`` on ``pbx`` with another caller number."""

    def run() -> Iterator[None]:
        saved = pbx.caller
        pbx.caller = caller
        steps = scenario(pbx)
        next(steps)  # the call's first step picks the caller up
        pbx.caller = saved
        yield
        yield from steps

    return run()


def test_events_after_the_decision_never_reopen_the_call(rules: DetectionRules) -> None:
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("09_queue_abandon.ami"))
    decisions = [d for m in messages if (d := tracker.feed(m, T0))]
    assert len(decisions) == 1
    # Replaying the very same events (a duplicate stream) decides nothing new.
    again = [tracker.feed(m, T0) for m in messages]
    assert again == [None] * len(messages)


def test_outbound_and_internal_calls(rules: DetectionRules) -> None:
    (out,) = decide(rules, callgen.render("outbound"))
    (internal,) = decide(rules, trace("13_internal_call.ami"))
    assert out.outcome is Outcome.OUTBOUND
    assert internal.outcome is Outcome.INTERNAL
    assert out.caller is None
    assert internal.caller is None


def test_number_forms_from_the_pbx_meet_the_configured_line(rules: DetectionRules) -> None:
    for did in ("5125550100", "15125550100", "+15125550100"):
        pbx = callgen.Pbx(did=did)
        (decision,) = decide(rules, callgen.render("no_answer", pbx=pbx))
        assert (decision.line, decision.line_name) == (DID, "Main line")


def test_unlisted_context_with_known_line_counts_as_inbound(rules: DetectionRules) -> None:
    pbx = callgen.Pbx()
    steps = callgen.Call.inbound(pbx, context="ext-did-0001")
    assert steps.caller.context == "ext-did-0001"
    steps.hangup(steps.caller, "16")
    (decision,) = decide(rules, pbx.take())
    assert decision.outcome is Outcome.MISSED
    assert decision.line == DID


def test_a_call_with_no_events_for_too_long_is_closed_as_unknown() -> None:
    rules = DetectionRules(
        frozenset({"from-trunk"}), frozenset(), {}, max_call_age=timedelta(hours=1)
    )
    tracker = CallTracker(rules)
    data = callgen.render("no_answer")
    messages = AmiFramer().feed(data)
    for message in messages[:10]:  # the call starts, then the stream goes quiet
        tracker.feed(message, T0)
    assert tracker.expire(T0 + timedelta(minutes=59)) == []
    (stale,) = tracker.expire(T0 + timedelta(hours=2))
    assert (stale.outcome, stale.reason) == (Outcome.UNKNOWN, Reason.STALE)
    assert tracker.open_calls == 0


def test_finished_calls_are_remembered_within_a_bound() -> None:
    rules = DetectionRules(frozenset({"from-trunk"}), frozenset(), {}, finished_memory=50)
    tracker = CallTracker(rules)
    pbx = callgen.Pbx()
    for _ in range(200):
        for message in AmiFramer().feed(callgen.render("no_answer", pbx=pbx)):
            tracker.feed(message, T0)
    assert tracker.open_calls == 0
    assert len(tracker._finished) == 50


# --- after a reconnect: CoreShowChannels ----------------------------------------------


def _channel_snapshot(newchannel: AmiMessage, **fields: str) -> AmiMessage:
    """The CoreShowChannel line Asterisk would list for this channel."""
    headers = {k: v for k, v in newchannel.items() if k not in ("Event", "Privilege")}
    headers.update(BridgeId="", Application="Dial", ApplicationData="", Duration="00:00:07")
    headers.update(fields)
    return AmiMessage.from_pairs([("Event", "CoreShowChannel"), *headers.items()])


def test_call_that_ended_while_disconnected_is_closed_as_unknown(rules: DetectionRules) -> None:
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("02_noanswer.ami"))
    for message in messages[:12]:  # ringing when the link dropped
        tracker.feed(message, T0)
    (decision,) = tracker.reconcile([], T0 + timedelta(seconds=20))
    assert (decision.outcome, decision.reason) == (Outcome.UNKNOWN, Reason.LINK_LOST)
    assert tracker.open_calls == 0
    # The tail of the call, if it ever arrives, decides nothing more.
    assert [d for m in messages[12:] if (d := tracker.feed(m, T0))] == []


def test_answered_call_that_ended_while_disconnected_stays_answered(rules: DetectionRules) -> None:
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("01_answered.ami"))
    cut = next(i for i, m in enumerate(messages) if m.event == "BridgeEnter") + 2
    for message in messages[:cut]:
        tracker.feed(message, T0)
    (decision,) = tracker.reconcile([], T0)
    assert decision.outcome is Outcome.ANSWERED


def test_call_still_up_after_reconnect_is_decided_once_when_it_ends(rules: DetectionRules) -> None:
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("05_ringgroup_noanswer.ami"))
    for message in messages[:15]:
        tracker.feed(message, T0)
    origin = next(m for m in messages if m.event == "Newchannel")
    assert tracker.reconcile([_channel_snapshot(origin)], T0) == []
    assert tracker.open_calls == 1
    decisions = [d for m in messages[15:] if (d := tracker.feed(m, T0))]
    assert [(d.outcome, d.reason) for d in decisions] == [(Outcome.MISSED, Reason.NOANSWER)]


def test_call_that_began_while_disconnected_is_adopted(rules: DetectionRules) -> None:
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("02_noanswer.ami"))
    origin = next(m for m in messages if m.event == "Newchannel")
    tracker.reconcile([_channel_snapshot(origin)], T0)
    assert tracker.is_tracking(origin.get("Linkedid"))
    hangups = [m for m in messages if m.event == "Hangup"]
    decisions = [d for m in hangups if (d := tracker.feed(m, T0 + timedelta(seconds=3)))]
    (decision,) = decisions
    assert decision.outcome is Outcome.MISSED
    assert decision.caller == CALLER
    assert decision.started_at == T0 - timedelta(seconds=7)
    assert "already up" in decision.detail


def _first_seen_talking(tracker: CallTracker) -> list[AmiMessage]:
    """The answered trace's call, first seen at T0 in a snapshot: caller and desk
    in one bridge. Its events, for the test to feed what comes after."""
    messages = AmiFramer().feed(trace("01_answered.ami"))
    trunk, desk = [m for m in messages if m.event == "Newchannel"]
    tracker.reconcile(
        [
            _channel_snapshot(trunk, BridgeId="b-1", ChannelStateDesc="Up"),
            _channel_snapshot(desk, BridgeId="b-1", ChannelStateDesc="Up"),
        ],
        T0,
    )
    return messages


def test_snapshot_showing_a_bridge_with_a_phone_means_answered(rules: DetectionRules) -> None:
    tracker = CallTracker(rules)
    messages = _first_seen_talking(tracker)
    hangup = next(
        m for m in messages if m.event == "Hangup" and m.get("Channel").startswith("PJSIP/trunk")
    )
    decision = tracker.feed(hangup, T0)
    assert decision is not None
    assert decision.outcome is Outcome.ANSWERED


def test_a_call_first_seen_after_a_gap_already_up_with_nobody_seen_is_not_missed(
    rules: DetectionRules,
) -> None:
    """Cut off while it rang, back after the desk answered, talked and hung up: the
    caller's channel is up, nobody is in its bridge. It may have been answered, so
    it is unknown (never texted) unless the call records say otherwise."""
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("01_answered.ami"))
    cut = next(i for i, m in enumerate(messages) if m.event == "DialBegin")
    for message in messages[:cut]:
        tracker.feed(message, T0)
    tracker.lost_sight()  # the AMI link dropped here
    trunk = next(m for m in messages if m.event == "Newchannel")
    tracker.reconcile([_channel_snapshot(trunk, ChannelStateDesc="Up")], T0)
    hangup = next(
        m for m in messages if m.event == "Hangup" and m.get("Channel").startswith("PJSIP/trunk")
    )
    decision = tracker.feed(hangup, T0)
    assert decision is not None
    assert (decision.outcome, decision.reason) == (Outcome.UNKNOWN, Reason.ANSWER_UNSEEN)
    assert "may have taken it" in decision.detail


def test_a_call_still_ringing_when_seen_after_a_gap_is_decided_as_before(
    rules: DetectionRules,
) -> None:
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("02_noanswer.ami"))
    for message in messages[:12]:
        tracker.feed(message, T0)
    origin = next(m for m in messages if m.event == "Newchannel")
    tracker.lost_sight()
    tracker.reconcile([_channel_snapshot(origin, ChannelStateDesc="Ring")], T0)
    decisions = [d for m in messages[12:] if (d := tracker.feed(m, T0))]
    assert [(d.outcome, d.reason) for d in decisions] == [(Outcome.MISSED, Reason.NOANSWER)]


# --- properties ---------------------------------------------------------------------

_names = st.sampled_from(sorted(callgen.SCENARIOS))


@given(st.lists(_names, min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_any_mix_of_overlapping_calls_is_decided_once_each_and_correctly(
    names: list[str],
) -> None:
    rules = DetectionRules(
        frozenset({"from-trunk"}), frozenset({"from-internal"}), {"+15125550100": "Main line"}
    )
    pbx = callgen.Pbx()
    data = b"".join(callgen.interleave(pbx, (callgen.SCENARIOS[n][0](pbx) for n in names)))
    tracker = CallTracker(rules)
    decisions = [d for m in AmiFramer().feed(data) if (d := tracker.feed(m, T0))]
    assert tracker.open_calls == 0
    assert len({d.linkedid for d in decisions}) == len(decisions) == len(names)
    expected = sorted((callgen.SCENARIOS[n][1], callgen.SCENARIOS[n][2]) for n in names)
    got = sorted((d.outcome.value, d.reason.value if d.reason else None) for d in decisions)
    assert got == expected


@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=200))
@settings(max_examples=150, deadline=None)
def test_any_subsequence_of_real_events_decides_each_call_at_most_once(
    picks: list[int],
) -> None:
    """Lost, duplicated or reordered events never make two decisions for a call."""
    rules = DetectionRules(frozenset({"from-trunk"}), frozenset({"from-internal"}), {})
    pool = AmiFramer().feed(b"".join(trace(n) for n in sorted(REAL_TRACES)))
    tracker = CallTracker(rules)
    decided: list[str] = []
    for pick in picks:
        decision = tracker.feed(pool[pick % len(pool)], T0)
        if decision is not None:
            decided.append(decision.linkedid)
    decided += [d.linkedid for d in tracker.close_all(T0, Reason.TRACE_ENDED, "end")]
    assert len(decided) == len(set(decided))


def test_a_snapshot_never_closes_a_call_that_began_after_it_was_asked_for(
    rules: DetectionRules,
) -> None:
    """Events keep arriving while CoreShowChannels is in transit."""
    tracker = CallTracker(rules)
    asked_with = tracker.open_linkedids()  # nothing open when the snapshot was requested
    messages = AmiFramer().feed(trace("01_answered.ami"))
    for message in messages[:10]:  # a new call starts before the (empty) answer lands
        tracker.feed(message, T0)
    assert tracker.reconcile([], T0, known_before=asked_with) == []
    decisions = [d for m in messages[10:] if (d := tracker.feed(m, T0))]
    assert [d.outcome for d in decisions] == [Outcome.ANSWERED]


def test_a_late_snapshot_does_not_adopt_a_call_that_already_hung_up(
    rules: DetectionRules,
) -> None:
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(trace("02_noanswer.ami"))
    origin = next(m for m in messages if m.event == "Newchannel")
    for message in messages:
        if message.event == "Hangup":  # we only saw the end of a call we never followed
            tracker.feed(message, T0)
    assert tracker.reconcile([_channel_snapshot(origin)], T0) == []
    assert tracker.open_calls == 0


def _every_stream() -> list[tuple[str, bytes]]:
    real = [(name, trace(name)) for name in sorted(REAL_TRACES)]
    return real + [(name, callgen.render(name)) for name in sorted(callgen.SCENARIOS)]


@pytest.mark.parametrize(
    ("name", "data"), _every_stream(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_a_call_restored_after_a_restart_is_decided_as_if_never_interrupted(
    rules: DetectionRules, name: str, data: bytes
) -> None:
    """Cut the stream anywhere: the tracker's kept state, read back by a new
    tracker (the next run), gives the same decision as one that saw it all -
    except where the caller was already answered (an IVR, a queue, voicemail)
    when the new run first sees their channel: a person may have answered in
    between, unseen, so a missed call is unknown until its records say."""
    messages = AmiFramer().feed(data)
    (whole,) = decide(rules, data)
    origin = next(m.get("Channel") for m in messages if m.event == "Newchannel")
    for cut in range(1, len(messages)):
        seen_again = next((m for m in messages[cut:] if m.get("Channel") == origin), None)
        expected = whole
        up_when_seen_again = seen_again is not None and seen_again.get("ChannelStateDesc") == "Up"
        if whole.is_missed and not whole.voicemail_left and up_when_seen_again:
            expected = replace(
                whole, outcome=Outcome.UNKNOWN, reason=Reason.ANSWER_UNSEEN,
                detail="it was answered while textback could not see it;"
                " a person may have taken it",
            )  # fmt: skip
        first = CallTracker(rules)
        kept: dict[str, OpenCall] = {}
        decided = [d for m in messages[:cut] if (d := first.feed(m, T0))]
        kept.update((c.linkedid, c) for c in first.take_changed())
        if decided:
            continue  # ended before the cut: nothing left to restore
        second = CallTracker(rules)
        assert second.restore(kept.values()) == len(kept)
        after = [d for m in messages[cut:] if (d := second.feed(m, T0))]
        assert after == [expected], f"{name} cut after message {cut}"


# Asterisk's SMS pseudo-channel (main/message.c): up from the first inbound SIP
# MESSAGE on, never hung up, in every CoreShowChannels answer after that.
MESSAGE_QUEUE = AmiMessage.from_pairs(
    [
        ("Event", "Newchannel"), ("Privilege", "call,all"),
        ("Channel", "Message/ast_msg_queue"), ("ChannelState", "6"), ("ChannelStateDesc", "Up"),
        ("CallerIDNum", "<unknown>"), ("CallerIDName", "<unknown>"),
        ("ConnectedLineNum", "<unknown>"), ("ConnectedLineName", "<unknown>"),
        ("Language", "en"), ("AccountCode", ""), ("Context", "textback-sms-in"),
        ("Exten", "s"), ("Priority", "1"),
        ("Uniqueid", "1795617500.90"), ("Linkedid", "1795617500.90"),
    ]
)  # fmt: skip


def test_the_sms_pseudo_channel_is_not_a_call(rules: DetectionRules) -> None:
    tracker = CallTracker(rules)
    assert tracker.feed(MESSAGE_QUEUE, T0) is None
    assert tracker.open_calls == 0
    # Listed by every CoreShowChannels: never adopted as a call in progress...
    assert tracker.reconcile([_channel_snapshot(MESSAGE_QUEUE, Application="")], T0) == []
    assert tracker.open_calls == 0
    # ... so a PBX restart (the next snapshot without it) decides nothing either.
    assert tracker.reconcile([], T0 + timedelta(minutes=5)) == []


SHUTDOWN = AmiMessage.from_pairs(
    [("Event", "Shutdown"), ("Privilege", "system,all"), ("Shutdown", "Cleanly"),
     ("Restart", "True")]
)  # fmt: skip


def test_a_call_cut_by_a_pbx_shutdown_is_missed_because_the_pbx_dropped_it(
    rules: DetectionRules,
) -> None:
    """Asterisk hangs up every ringing call as it stops: the statuses that
    leaves (CANCEL, CHANUNAVAIL) would blame the caller or the phones."""
    messages = AmiFramer().feed(trace("02_noanswer.ami"))
    cut = next(i for i, m in enumerate(messages) if m.event == "DialEnd")
    tracker = CallTracker(rules)
    for message in messages[:cut]:  # ringing
        tracker.feed(message, T0)
    tracker.feed(SHUTDOWN, T0)
    hangups = [m for m in messages[cut:] if m.event == "Hangup"]
    (decision,) = [d for m in hangups if (d := tracker.feed(m, T0))]
    assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.PBX_DROPPED)
    assert decision.caller == CALLER


def test_a_call_whose_pbx_went_down_with_the_link_is_missed_not_unknown(
    rules: DetectionRules,
) -> None:
    messages = AmiFramer().feed(trace("02_noanswer.ami"))
    tracker = CallTracker(rules)
    for message in messages[:12]:
        tracker.feed(message, T0)
    tracker.feed(SHUTDOWN, T0)  # then the socket closes: no hang-up is ever seen
    (decision,) = tracker.reconcile([], T0 + timedelta(seconds=30))
    assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.PBX_DROPPED)


def test_an_answered_call_stays_answered_through_a_shutdown(rules: DetectionRules) -> None:
    messages = AmiFramer().feed(trace("01_answered.ami"))
    bridged = max(i for i, m in enumerate(messages) if m.event == "BridgeEnter")
    tracker = CallTracker(rules)
    for message in messages[: bridged + 1]:
        tracker.feed(message, T0)
    tracker.feed(SHUTDOWN, T0)
    (decision,) = tracker.reconcile([], T0)
    assert decision.outcome is Outcome.ANSWERED


def test_follow_me_ringing_out_says_nobody_answered_not_a_cancel() -> None:
    """Follow-me ends each step's ringing itself: on a real Asterisk 22 the last
    dial status is CANCEL with no hang-up from the caller. The reason was
    already NOANSWER; the detail must not say the dial was cancelled either."""
    from bridge.detection.rules import missed_reason
    from bridge.detection.state import CallState

    call = CallState(
        linkedid="1.1", origin="PJSIP/trunk-1", context="from-trunk", exten="+15125550100",
        caller_raw=CALLER, caller_name="Jane", started_at=T0, last_seen=T0,
        dialled=True, dial_status="CANCEL", caller_hung_up=False,
    )  # fmt: skip
    reason, detail = missed_reason(call)
    assert reason is Reason.NOANSWER
    assert detail == "phones rang, nobody answered (the PBX stopped the ringing)"
    call.caller_hung_up = True  # the caller's own give-up is still a cancel
    assert missed_reason(call) == (Reason.CANCEL, "dial ended CANCEL")


def test_a_call_that_began_after_login_is_not_mistaken_for_one_seen_after_a_gap(
    rules: DetectionRules,
) -> None:
    """The login's snapshot can list a call that began after it was asked for,
    already answered by an IVR: nothing of that call was missed."""
    tracker = CallTracker(rules)
    messages = AmiFramer().feed(callgen.render("ivr_hangup"))
    origin = next(m for m in messages if m.event == "Newchannel")
    cut = len(messages) // 2
    for message in messages[:cut]:
        tracker.feed(message, T0)
    snapshot = _channel_snapshot(origin, ChannelStateDesc="Up", Application="BackGround")
    tracker.reconcile([snapshot], T0, frozenset())
    decisions = [d for m in messages[cut:] if (d := tracker.feed(m, T0))]
    assert [(d.outcome, d.reason) for d in decisions] == [(Outcome.MISSED, Reason.IVR_HANGUP)]


def test_a_call_seen_answered_only_in_a_snapshot_talks_from_the_snapshot_on(
    rules: DetectionRules,
) -> None:
    tracker = CallTracker(rules)
    messages = _first_seen_talking(tracker)
    later = T0 + timedelta(seconds=90)
    tail = [m for m in messages if m.event in ("BridgeLeave", "Hangup")]
    decisions = [d for m in tail if (d := tracker.feed(m, later))]
    (decision,) = decisions
    assert decision.outcome is Outcome.ANSWERED
    assert decision.talked_seconds == 90  # not from the hang-up's own moment
