"""Click-to-call's AMI side, without a socket: the exact Originate action on
the wire, the book following it from its reply to its OriginateResponse, and
the originated call's events (as the AMI double plays them) decided as an
outbound call to the thread's caller - with or without the dialplan class."""

from __future__ import annotations

from datetime import timedelta

from bridge.ami import actions
from bridge.ami.bookkeeping import ActionBook, encode
from bridge.ami.framer import AmiFramer, AmiMessage
from bridge.core.calls import Outcome
from bridge.detection.rules import DetectionRules
from bridge.sim.callgen import Pbx
from bridge.sim.originate import BUSY, NO_ANSWER, click_to_call
from tests.support.calls import LEAST_PRIVILEGE, T0, run_steps

ACTION = actions.originate(
    "PJSIP/201",
    context="textback-click-to-call",
    exten="+15125559876",
    caller_id='"Main line" <+15125550100>',
    ring_seconds=30,
    variables={"TEXTBACK_THREAD": "12", "TEXTBACK_OWNER": "mike"},
)


def parsed(data: bytes) -> list[AmiMessage]:
    return AmiFramer(expect_banner=False).feed(data)


def sent(action_id: str = "textback-7") -> AmiMessage:
    (message,) = AmiFramer(expect_banner=False, kinds=("Action",)).feed(encode(ACTION, action_id))
    return message


def test_the_originate_action_header_by_header() -> None:
    assert encode(ACTION, "textback-7") == (
        b"Action: Originate\r\n"
        b"Channel: PJSIP/201\r\n"
        b"Context: textback-click-to-call\r\n"
        b"Exten: +15125559876\r\n"
        b"Priority: 1\r\n"
        b'CallerID: "Main line" <+15125550100>\r\n'
        b"Timeout: 30000\r\n"
        b"Variable: TEXTBACK_THREAD=12\r\n"
        b"Variable: TEXTBACK_OWNER=mike\r\n"
        b"Async: true\r\n"
        b"ActionID: textback-7\r\n\r\n"
    )


def test_the_book_follows_a_queued_originate_to_its_response_event() -> None:
    book = ActionBook()
    action_id, _ = book.request(ACTION, then="OriginateResponse")
    queued = f"Response: Success\r\nActionID: {action_id}\r\nMessage: Originate successfully queued"
    (reply,) = parsed(queued.encode() + b"\r\n\r\n")
    taken = book.receive(reply)
    assert taken is not None
    assert taken.reply is not None
    assert taken.reply.success
    assert not taken.follow_up
    assert len(book) == 1  # still followed
    other = parsed(
        b"Event: OriginateResponse\r\nActionID: someone-else\r\nResponse: Success\r\n\r\n"
    )
    assert book.receive(other[0]) is None
    (ended,) = parsed(
        f"Event: OriginateResponse\r\nPrivilege: call,all\r\nActionID: {action_id}\r\n"
        "Response: Failure\r\nChannel: PJSIP/201\r\nReason: 3\r\nUniqueid: <null>\r\n\r\n".encode()
    )
    taken = book.receive(ended)
    assert taken is not None
    assert taken.follow_up
    assert taken.reply is not None
    assert not taken.reply.success
    assert taken.reply.get("Reason") == "3"
    assert len(book) == 0


def test_a_refused_originate_is_not_followed() -> None:
    book = ActionBook()
    action_id, _ = book.request(ACTION, then="OriginateResponse")
    (refused,) = parsed(
        f"Response: Error\r\nActionID: {action_id}\r\nMessage: Permission denied\r\n\r\n".encode()
    )
    taken = book.receive(refused)
    assert taken is not None
    assert taken.reply is not None
    assert taken.reply.message == "Permission denied"
    assert len(book) == 0


def test_a_dropped_link_loses_the_followed_originate_too() -> None:
    book = ActionBook()
    action_id, _ = book.request(ACTION, then="OriginateResponse")
    book.receive(parsed(f"Response: Success\r\nActionID: {action_id}\r\n\r\n".encode())[0])
    assert book.lose_all() == [action_id]


def test_a_click_to_call_is_an_outbound_call_to_the_thread_s_caller(rules: DetectionRules) -> None:
    pbx = Pbx()
    steps = click_to_call(pbx, sent())
    (decision,) = run_steps(rules, steps, pbx, timedelta(seconds=40))
    assert decision.outcome is Outcome.OUTBOUND
    assert decision.callee == "+15125559876"
    assert decision.thread_hint == 12
    assert decision.caller is None  # the owner's phone is no caller to text
    assert decision.caller_raw == "201"  # the endpoint, not the CallerID the owner's phone showed
    assert (decision.answered_by or "").startswith("PJSIP/trunk-")
    # Answered by the homeowner on the third step (owner rang, answered, callee rang).
    assert decision.answered_at == T0 + timedelta(seconds=80)
    assert decision.talked_seconds == 40


def test_without_the_dialplan_class_it_is_still_the_same_call_back(rules: DetectionRules) -> None:
    pbx = Pbx()
    steps = click_to_call(pbx, sent())
    (decision,) = run_steps(rules, steps, pbx, timedelta(seconds=40), LEAST_PRIVILEGE)
    assert decision.outcome is Outcome.OUTBOUND
    assert decision.callee == "+15125559876"
    assert decision.thread_hint is None  # no VarSet: linked by the callee's number
    assert decision.talked_seconds == 40


def test_the_homeowner_not_answering_is_an_unanswered_call_back(rules: DetectionRules) -> None:
    pbx = Pbx()
    steps = click_to_call(pbx, sent(), callee_answers=False)
    (decision,) = run_steps(rules, steps, pbx, timedelta(seconds=20))
    assert decision.outcome is Outcome.OUTBOUND
    assert decision.callee == "+15125559876"
    assert decision.answered_by is None
    assert decision.talked_seconds == 0


def test_an_owner_who_does_not_answer_makes_no_call_back(rules: DetectionRules) -> None:
    for owner in (NO_ANSWER, BUSY):
        pbx = Pbx()
        (decision,) = run_steps(rules, click_to_call(pbx, sent(), owner=owner), pbx,
                                timedelta(seconds=30))  # fmt: skip
        assert decision.outcome is Outcome.INTERNAL  # nobody outside was dialled
        assert decision.callee is None
        assert decision.caller is None
