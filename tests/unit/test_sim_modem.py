"""The simulated modem: its PDUs (read back by python-gsmmodem's decoder) and its engine.

Bare python-gsmmodem talking to it over a pty, each defect of the library the
modem transport has to close, is in tests/upstream/test_python_gsmmodem.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from gsmmodem import pdu as gsm_pdu

# python-gsmmodem starts a thread per notification; some outlive a test and
# raise into pytest's thread hook. That noise is the library's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

from bridge.sim.modem import (  # noqa: E402
    ModemEngine,
    ModemProfile,
    deliver_pdus,
    status_report_pdu,
)

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


def decode_text(decoded: dict[str, Any]) -> str:
    text: str = decoded["text"]
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
