"""The simulated modem: its PDUs (read back by python-gsmmodem's decoder) and its engine.

Bare python-gsmmodem talking to it over a pty, each defect of the library the
modem transport has to close, is in tests/upstream/test_python_gsmmodem.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from gsmmodem import pdu as gsm_pdu
from hypothesis import given
from hypothesis import strategies as st

# python-gsmmodem starts a thread per notification; some outlive a test and
# raise into pytest's thread hook. That noise is the library's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

from bridge.sim.modem import (  # noqa: E402
    ModemEngine,
    ModemProfile,
    deliver_pdus,
    status_report_pdu,
)
from tests.support.pdu import submit_pdu  # noqa: E402

# --- PDUs, no I/O -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Need a roof repair quote", "Zoë says: ça coule!", "Leak in the kitchen 🙂💧", "€[]{}~^|\\"],
)
def test_a_single_part_deliver_pdu_decodes_to_the_text(text: str) -> None:
    (pdu_hex,) = deliver_pdus("+15125559876", text)
    decoded = gsm_pdu.decodeSmsPdu(pdu_hex)
    assert decoded["type"] == "SMS-DELIVER"
    assert decoded["number"] == "+15125559876"
    assert decode_text(decoded) == text


@pytest.mark.parametrize(("text", "parts"), [("x" * 400, 3), ("é" + "🙂" * 40, 2), ("ç" * 140, 3)])
def test_long_texts_become_concatenated_parts(text: str, parts: int) -> None:
    pdus = deliver_pdus("+15125559876", text, concat_ref=7)
    assert len(pdus) == parts
    pieces = []
    for number, pdu_hex in enumerate(pdus, start=1):
        decoded = gsm_pdu.decodeSmsPdu(pdu_hex)
        (concat,) = [e for e in decoded["udh"] if isinstance(e, gsm_pdu.Concatenation)]
        assert (concat.reference, concat.parts, concat.number) == (7, parts, number)
        pieces.append(decoded["text"])
    assert decode_text({"text": "".join(pieces)}) == text


def test_a_status_report_pdu_names_the_message_reference() -> None:
    decoded = gsm_pdu.decodeSmsPdu(status_report_pdu(42, "+15125550142"))
    assert (decoded["type"], decoded["reference"], decoded["status"]) == (
        "SMS-STATUS-REPORT", 42, 0,
    )  # fmt: skip


def test_the_engine_answers_a_send_and_keeps_the_decoded_pdu() -> None:
    engine = ModemEngine(echo=False)
    (submit,) = gsm_pdu.encodeSmsSubmitPdu("+15125550142", "Hello", reference=5)
    assert engine.feed(f"AT+CMGS={submit.tpduLength}\r".encode()) == b"\r\n> "
    reply = engine.feed(str(submit).encode() + b"\x1a")
    assert reply == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
    (sent,) = engine.sent
    assert (sent.number, sent.text, sent.reference) == ("+15125550142", "Hello", 5)


def test_engine_faults() -> None:
    engine = ModemEngine(echo=False, cms_errors=[500])
    (submit,) = gsm_pdu.encodeSmsSubmitPdu("+15125550142", "Hello")
    engine.feed(f"AT+CMGS={submit.tpduLength}\r".encode())
    assert engine.feed(str(submit).encode() + b"\x1a") == b"\r\n+CMS ERROR: 500\r\n"
    engine.registered = False
    assert engine.feed(b"AT+CMGS=20\r") == b"\r\n+CMS ERROR: 331\r\n"
    engine.no_answer = True
    assert engine.feed(b"AT\r") == b""
    locked = ModemEngine(echo=False, pin="1234")
    assert locked.feed(b"AT+CPIN?\r") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    assert locked.feed(b"AT+CPIN=0000\r") == b"\r\n+CME ERROR: 16\r\n"
    assert locked.feed(b'AT+CPIN="1234"\r') == b"\r\nOK\r\n"


def test_new_texts_take_the_lowest_free_slot() -> None:
    """As real modems do: a freed slot is used again (max+1 hid issue 10's bug)."""
    engine = ModemEngine(echo=False, cnmi="2,1,0,2")
    assert (
        engine.receive("+15125559876", "x" * 200) == b'\r\n+CMTI: "ME",1\r\n\r\n+CMTI: "ME",2\r\n'
    )
    engine.feed(b"AT+CMGD=1\r")
    assert engine.receive("+15125559876", "STOP") == b'\r\n+CMTI: "ME",1\r\n'


def test_indications_follow_the_cnmi_in_force() -> None:
    engine = ModemEngine(echo=False)  # power-on: TS 27.005's 0,0,0,0 announces nothing
    assert engine.receive("+15125559876", "quiet") == b""
    assert engine.status_report(5, "+15125550142") == b""  # kept in SR all the same
    assert list(engine.reports) == [1]
    engine.feed(b"AT+CNMI=2,1,0,1\r")
    assert engine.status_report(6, "+15125550142").startswith(b"\r\n+CDS: ")
    engine.feed(b"AT+CNMI=2,1,0,2\r")
    assert engine.status_report(7, "+15125550142") == b'\r\n+CDSI: "SR",2\r\n'
    engine.feed(b'AT+CPMS="SR"\r')
    reply = engine.feed(b"AT+CMGR=2\r")
    assert reply.startswith(b"\r\n+CMGR: 0,,")
    assert gsm_pdu.decodeSmsPdu(reply.split(b"\r\n")[3].decode())["reference"] == 7


def test_a_modem_waiting_for_a_pdu_swallows_commands_until_esc() -> None:
    engine = ModemEngine(echo=False, hold_prompt=True)
    assert engine.feed(b"AT+CMGS=20\r") == b""  # no prompt, but in PDU entry
    assert engine.feed(b"ATZ\r") == b""  # swallowed as PDU text
    assert engine.feed(b"\x1b") == b"\r\nOK\r\n"  # ESC: the send is abandoned
    assert engine.feed(b"\x1bATZ\r") == b"\r\nOK\r\n"  # an ESC outside PDU entry is ignored
    assert engine.sent == []


def test_a_late_confirmation_comes_with_the_next_answer() -> None:
    engine = ModemEngine(echo=False, late_confirmation=True)
    (submit,) = gsm_pdu.encodeSmsSubmitPdu("+15125550142", "Hello", reference=5)
    engine.feed(f"AT+CMGS={submit.tpduLength}\r".encode())
    assert engine.feed(str(submit).encode() + b"\x1a") == b""
    assert engine.feed(b"AT\r") == b"\r\n+CMGS: 1\r\n\r\nOK\r\n\r\nOK\r\n"


def test_a_profile_overrides_the_engines_answers() -> None:
    profile = ModemProfile.from_dict(
        {
            "name": "test",
            "answers": {"AT+CPIN?": ["+CPIN: {pin_state}"], "AT+CNMI=*": ["ERROR"]},
            "before_pin": [],
            "urcs_in_replies": ["^RSSI: 18"],
            "cmgr_stat": False,
        }
    )
    engine = ModemEngine(profile=profile, echo=False, pin="1234")
    assert engine.feed(b"AT+CPIN?\r") == b"\r\n+CPIN: SIM PIN\r\n"  # no OK
    assert engine.feed(b"ATZ\r") == b"\r\n+CME ERROR: 11\r\n"  # nothing before the PIN
    assert engine.feed(b'AT+CPIN="1234"\r') == b"\r\nOK\r\n"
    assert engine.feed(b"AT+CNMI=2,1,0,1\r") == b"\r\nERROR\r\n"
    engine.receive("+15125559876", "hello")
    lines = engine.feed(b"AT+CMGR=1\r").split(b"\r\n")
    assert lines[1].startswith(b"+CMGR: ,,")  # ZTE leaves the status out
    assert lines[3] == b"^RSSI: 18"  # Huawei's URC inside the reply


# --- store and send (AT+CMGW, AT+CMSS), no I/O ------------------------------------------


def write(engine: ModemEngine, pdu: tuple[int, str], stat: str = "") -> bytes:
    length, pdu_hex = pdu
    assert engine.feed(f"AT+CMGW={length}{stat}\r".encode()) == b"\r\n> "
    return engine.feed(pdu_hex.encode() + b"\x1a")


def cmgs(engine: ModemEngine, pdu: tuple[int, str]) -> bytes:
    length, pdu_hex = pdu
    assert engine.feed(f"AT+CMGS={length}\r".encode()) == b"\r\n> "
    return engine.feed(pdu_hex.encode() + b"\x1a")


def test_a_written_text_is_stored_unsent_then_sent_from_its_slot() -> None:
    engine = ModemEngine(echo=False)
    pdu = submit_pdu(mr=9)
    assert engine.feed(b"AT+CMGW=?\r") == b"\r\nOK\r\n"
    assert write(engine, pdu) == b"\r\n+CMGW: 1\r\n\r\nOK\r\n"
    assert engine.store == {1: (2, pdu[1])}
    assert engine.sent == []  # written, not sent
    assert engine.feed(b"AT+CMSS=1\r") == b"\r\n+CMSS: 1\r\n\r\nOK\r\n"
    assert engine.store == {1: (3, pdu[1])}
    (sent,) = engine.sent
    assert (sent.number, sent.text, sent.reference) == ("+15125550142", "Hello", 9)
    # Sent from storage again, to the <da> given: the stored text to another number.
    assert engine.feed(b'AT+CMSS=1,"+15125550199",145\r') == b"\r\n+CMSS: 2\r\n\r\nOK\r\n"
    assert [s.number for s in engine.sent] == ["+15125550142", "+15125550199"]


def test_reading_a_stored_text_leaves_its_status() -> None:
    engine = ModemEngine(echo=False)
    unsent, sent = submit_pdu(mr=1), submit_pdu(mr=2)
    write(engine, unsent)
    write(engine, sent)
    engine.feed(b"AT+CMSS=2\r")
    length = unsent[0]
    for _ in range(2):
        assert (
            engine.feed(b"AT+CMGR=1\r")
            == f"\r\n+CMGR: 2,,{length}\r\n\r\n{unsent[1]}\r\n\r\nOK\r\n".encode()
        )
        assert (
            engine.feed(b"AT+CMGR=2\r")
            == f"\r\n+CMGR: 3,,{length}\r\n\r\n{sent[1]}\r\n\r\nOK\r\n".encode()
        )
    assert {i: stat for i, (stat, _) in engine.store.items()} == {1: 2, 2: 3}
    engine.receive("+15125559876", "hi")  # a received one still becomes read
    assert engine.feed(b"AT+CMGR=3\r").startswith(b"\r\n+CMGR: 0,,")
    assert engine.feed(b"AT+CMGR=3\r").startswith(b"\r\n+CMGR: 1,,")


def stored(engine: ModemEngine) -> dict[int, int]:
    """index -> stat: two received (0 unread, 1 read), one unsent, one sent."""
    engine.receive("+15125559876", "unread")
    engine.receive("+15125559876", "read")
    engine.feed(b"AT+CMGR=2\r")
    write(engine, submit_pdu(mr=1))
    write(engine, submit_pdu(mr=2))
    engine.feed(b"AT+CMSS=4\r")
    return {i: stat for i, (stat, _) in engine.store.items()}


@pytest.mark.parametrize(
    ("wanted", "indexes"), [(0, [1]), (1, [2]), (2, [3]), (3, [4]), (4, [1, 2, 3, 4])]
)
def test_listing_by_status(wanted: int, indexes: list[int]) -> None:
    engine = ModemEngine(echo=False)
    assert stored(engine) == {1: 0, 2: 1, 3: 2, 4: 3}
    lines = engine.feed(f"AT+CMGL={wanted}\r".encode()).split(b"\r\n")
    headers = [line.decode() for line in lines if line.startswith(b"+CMGL: ")]
    assert [int(h.split()[1].split(",")[0]) for h in headers] == indexes
    assert [int(h.split(",")[1]) for h in headers] == [engine.store[i][0] for i in indexes]


@pytest.mark.parametrize(
    ("command", "left"),
    [
        ("AT+CMGD=3", [1, 2, 4]),
        ("AT+CMGD=3,0", [1, 2, 4]),
        ("AT+CMGD=1,1", [1, 3, 4]),  # the index is ignored with a flag
        ("AT+CMGD=9,2", [1, 3]),
        ("AT+CMGD=1,3", [1]),
        ("AT+CMGD=1,4", []),
    ],
)
def test_deleting_by_delflag(command: str, left: list[int]) -> None:
    engine = ModemEngine(echo=False)
    stored(engine)
    assert engine.feed(command.encode() + b"\r") == b"\r\nOK\r\n"
    assert sorted(engine.store) == left
    assert engine.feed(b"AT+CMGD=1,5\r") == b"\r\n+CMS ERROR: 302\r\n"


def test_cpms_answers_all_three_storages() -> None:
    engine = ModemEngine(echo=False, capacity=30)
    stored(engine)
    engine.status_report(7, "+15125550142")
    assert engine.feed(b"AT+CPMS?\r") == b'\r\n+CPMS: "ME",4,30,"ME",4,30,"ME",4,30\r\n\r\nOK\r\n'
    assert engine.feed(b'AT+CPMS="SR","ME","ME"\r') == b"\r\n+CPMS: 1,30,4,30,4,30\r\n\r\nOK\r\n"
    assert engine.feed(b"AT+CPMS?\r") == b'\r\n+CPMS: "SR",1,30,"ME",4,30,"ME",4,30\r\n\r\nOK\r\n'
    assert engine.feed(b'AT+CPMS="ME"\r') == b"\r\n+CPMS: 4,30,4,30,4,30\r\n\r\nOK\r\n"


def test_writing_into_a_full_storage_fails_and_only_submits_are_written() -> None:
    engine = ModemEngine(echo=False, capacity=2)
    assert write(engine, submit_pdu(mr=1)) == b"\r\n+CMGW: 1\r\n\r\nOK\r\n"
    assert write(engine, submit_pdu(mr=2), ",3") == b"\r\n+CMGW: 2\r\n\r\nOK\r\n"
    assert engine.store[2][0] == 3
    assert write(engine, submit_pdu(mr=3)) == b"\r\n+CMS ERROR: 322\r\n"
    engine.feed(b"AT+CMGD=1\r")
    assert write(engine, submit_pdu(mr=3)) == b"\r\n+CMGW: 1\r\n\r\nOK\r\n"  # the freed slot
    (deliver,) = deliver_pdus("+15125559876", "not a submit")
    engine.feed(b"AT+CMGD=1,4\r")
    assert write(engine, (len(deliver) // 2 - 1, deliver)) == b"\r\n+CMS ERROR: 304\r\n"
    assert write(engine, submit_pdu(), ",0") == b"\r\n+CMS ERROR: 304\r\n"  # not as received
    assert engine.feed(b"AT+CMGW=20\r") == b"\r\n> "
    assert engine.feed(b"0011\x1b") == b"\r\nOK\r\n"  # ESC: nothing written
    assert engine.store == {}


def test_sending_from_an_empty_or_received_slot_fails() -> None:
    engine = ModemEngine(echo=False)
    assert engine.feed(b"AT+CMSS=1\r") == b"\r\n+CMS ERROR: 321\r\n"
    engine.receive("+15125559876", "hi")
    assert engine.feed(b"AT+CMSS=1\r") == b"\r\n+CMS ERROR: 302\r\n"
    write(engine, submit_pdu())
    engine.registered = False
    assert engine.feed(b"AT+CMSS=2\r") == b"\r\n+CMS ERROR: 331\r\n"
    engine.registered = True
    engine.cms_errors = [500]
    assert engine.feed(b"AT+CMSS=2\r") == b"\r\n+CMS ERROR: 500\r\n"
    assert engine.store[2][0] == 2
    assert engine.sent == []


@pytest.mark.parametrize("honours", [True, False])
def test_a_repeat_with_tp_rd_is_rejected_unless_the_smsc_ignores_it(honours: bool) -> None:
    engine = ModemEngine(echo=False, smsc_honours_rd=honours)
    pdu = submit_pdu(mr=7, rd=True)
    assert cmgs(engine, pdu).startswith(b"\r\n+CMGS: ")
    write(engine, pdu)
    repeats = [cmgs(engine, pdu), engine.feed(b"AT+CMSS=1\r")]
    if honours:
        assert repeats == [b"\r\n+CMS ERROR: 197\r\n"] * 2
        assert len(engine.sent) == 1
        assert engine.store[1][0] == 2
    else:
        assert [r.split(b":")[0] for r in repeats] == [b"\r\n+CMGS", b"\r\n+CMSS"]
        assert [s.reference for s in engine.sent] == [7, 7, 7]  # what a double looks like
    # Without TP-RD nothing is a repeat, whatever the SMSC.
    assert cmgs(engine, submit_pdu(mr=7)).startswith(b"\r\n+CMGS: ")


@pytest.mark.parametrize("command", ["AT+CMGS", "AT+CMSS"])
def test_a_busy_modem_answers_what_came_during_the_delay_after_the_confirmation(
    command: str,
) -> None:
    now = [100.0]
    engine = ModemEngine(echo=False, confirm_delay=3.0, clock=lambda: now[0])
    pdu = submit_pdu()
    if command == "AT+CMGS":
        assert cmgs(engine, pdu) == b""
    else:
        write(engine, pdu)
        assert engine.feed(b"AT+CMSS=1\r") == b""
        assert engine.store[1][0] == 2  # on the air, not yet confirmed
    assert len(engine.sent) == 1  # on the air at once
    assert engine.owed_confirmation == f"\r\n{command[2:]}: 1\r\n\r\nOK\r\n".encode()
    assert engine.confirmation_due == 103.0
    # The DTE gives up and asks again: nothing is answered while the modem is busy.
    assert engine.feed(b"AT+CMGR=1\r") == b""
    assert engine.feed(b"AT\r") == b""
    reply = engine.confirm()
    read_back = (
        b""
        if command == "AT+CMGS"
        else f"\r\n+CMGR: 3,,{pdu[0]}\r\n\r\n{pdu[1]}\r\n\r\nOK\r\n".encode()
    )
    empty = b"\r\n+CMS ERROR: 321\r\n" if command == "AT+CMGS" else b""
    assert (
        reply == f"\r\n{command[2:]}: 1\r\n\r\nOK\r\n".encode() + read_back + empty + b"\r\nOK\r\n"
    )
    assert engine.owed_confirmation is None
    assert engine.confirm() == b""
    assert engine.feed(b"AT\r") == b"\r\nOK\r\n"  # not busy any more


def test_a_send_during_the_delay_owes_its_own_confirmation() -> None:
    engine = ModemEngine(echo=False, confirm_delay=1.0)
    write(engine, submit_pdu(mr=1))
    write(engine, submit_pdu(mr=2))
    assert engine.feed(b"AT+CMSS=1\r") == b""
    assert engine.feed(b"AT+CMSS=2\r") == b""  # buffered: sent only once the first answered
    assert len(engine.sent) == 1
    assert engine.confirm() == b"\r\n+CMSS: 1\r\n\r\nOK\r\n"
    assert len(engine.sent) == 2
    assert engine.owed_confirmation is not None
    assert engine.confirm() == b"\r\n+CMSS: 2\r\n\r\nOK\r\n"
    assert {i: stat for i, (stat, _) in engine.store.items()} == {1: 3, 2: 3}


def test_a_power_cut_during_the_delay_loses_the_confirmation() -> None:
    engine = ModemEngine(echo=False, confirm_delay=1.0)
    write(engine, submit_pdu())
    engine.feed(b"AT+CMSS=1\rAT\r")
    engine.drop_confirmation()
    assert engine.store[1][0] == 2
    assert len(engine.sent) == 1
    assert engine.feed(b"AT\r") == b"\r\nOK\r\n"


def test_a_profile_without_store_and_send() -> None:
    profile = ModemProfile(store_and_send=False, unknown="COMMAND NOT SUPPORT")
    engine = ModemEngine(profile=profile, echo=False)
    for command in (b"AT+CMGW=?\r", b"AT+CMGW=20\r", b"AT+CMSS=1\r"):
        assert engine.feed(command) == b"\r\nCOMMAND NOT SUPPORT\r\n"
    assert b"+CMGW" not in engine.feed(b"AT+CLAC\r")
    assert b"+CMSS" in ModemEngine(echo=False).feed(b"AT+CLAC\r")
    assert cmgs(engine, submit_pdu()).startswith(b"\r\n+CMGS: 1")  # sending still works


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("write"), st.sampled_from(["", ",2", ",3"])),
            st.tuples(st.just("send"), st.integers(0, 8).map(str)),
            st.tuples(
                st.just("delete"), st.sampled_from([f"{i},{f}" for i in range(9) for f in range(5)])
            ),
        ),
        max_size=40,
    )
)
def test_slots_stay_consistent(steps: list[tuple[str, str]]) -> None:
    """Whatever the writes, sends and deletes: a write takes the lowest free
    index, stats only go 2 -> 3, the storage never passes its capacity."""
    engine = ModemEngine(echo=False, capacity=6)
    pdu = submit_pdu()
    for step, arg in steps:
        before = dict(engine.store)
        if step == "write":
            reply = write(engine, pdu, arg)
            if len(before) < 6:
                index = min(set(range(1, 8)) - set(before))
                assert reply == f"\r\n+CMGW: {index}\r\n\r\nOK\r\n".encode()
                assert engine.store[index] == (int(arg[1:] or 2), pdu[1])
            else:
                assert reply == b"\r\n+CMS ERROR: 322\r\n"
                assert engine.store == before
        elif step == "send":
            reply = engine.feed(f"AT+CMSS={arg}\r".encode())
            assert reply.startswith(b"\r\n+CMSS: ") == (int(arg) in before)
            assert engine.store == {
                i: (3 if i == int(arg) else s, p) for i, (s, p) in before.items()
            }
        else:
            engine.feed(f"AT+CMGD={arg}\r".encode())
            assert set(engine.store) <= set(before)
        assert len(engine.store) <= 6
        assert all(stat in (2, 3) for stat, _ in engine.store.values())


def decode_text(decoded: dict[str, Any]) -> str:
    text: str = decoded["text"]
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
