"""What store-and-send reads off a modem, without I/O: the answers of
AT+CMGW, AT+CMGR, AT+CMGL and AT+CPMS?, and whether a slot still holds our text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sms_gateway.at_answers import listed, storage_room, stored_status, written_slot
from sms_gateway.at_session import Response
from sms_gateway.pdu_codec import encode_submit, same_submit, submit_reference

CALLER = "+15125559876"


def test_the_slot_a_write_went_to() -> None:
    assert written_slot(Response("AT+CMGW=20", ("+CMGW: 4",), "OK")) == 4
    assert written_slot(Response("AT+CMGW=20", (), "+CMS ERROR: 322")) is None


def test_a_stored_messages_status_is_read_from_its_header() -> None:
    assert stored_status(Response("AT+CMGR=4", ("+CMGR: 3,,20", "0011"), "OK")) == 3
    assert stored_status(Response("AT+CMGR=4", ("+CMGR: ,,20", "0011"), "OK")) is None
    assert stored_status(Response("AT+CMGR=4", (), "+CMS ERROR: 321")) is None


def test_a_listing_tells_texts_written_to_be_sent_from_texts_that_arrived() -> None:
    reply = Response(
        "AT+CMGL=4",
        ("+CMGL: 1,0,,20", "07A1", "^RSSI: 12", "+CMGL: 2,3,,18", "07A2", "+CMGL: 3,2,,18", "07A3"),
        "OK",
    )
    assert [(e.slot, e.status, e.outgoing) for e in listed(reply)] == [
        (1, 0, False),
        (2, 3, True),
        (3, 2, True),
    ]


def test_the_room_in_the_storage_written_to() -> None:
    line = '+CPMS: "SM",3,20,"ME",49,50,"ME",49,50'
    assert storage_room(line) == ("ME", 49, 50)
    assert storage_room('+CPMS: "SM",3,20') is None


def test_a_slot_holds_our_text_whatever_the_modem_did_to_its_smsc_rd_and_mr() -> None:
    (ours,) = encode_submit(CALLER, "See you at 3", status_report=False, reference=7)
    (resend,) = encode_submit(
        CALLER, "See you at 3", status_report=False, reference=7, reject_duplicates=True
    )
    tpdu = str(ours)[2:]  # no SMSC field ("00")
    with_smsc = "07915121550000F0" + tpdu  # the modem filled in its SMS centre
    renumbered = "00" + tpdu[:2] + "2A" + tpdu[4:]  # and its own TP-MR
    assert same_submit(with_smsc, str(ours))
    assert same_submit(renumbered, str(resend))  # TP-RD set on the resend: still ours
    assert submit_reference(str(ours)) == 7
    assert submit_reference(renumbered) == 0x2A
    (other,) = encode_submit(CALLER, "See you at 4", status_report=False, reference=7)
    assert not same_submit(str(other), str(ours))
    assert not same_submit("not hex", str(ours))


@given(st.text(min_size=1, max_size=400), st.integers(0, 255))
def test_every_text_we_write_is_recognised_and_no_other(body: str, reference: int) -> None:
    try:
        pdus = encode_submit(CALLER, body, status_report=True, reference=reference)
    except (TypeError, ValueError):
        return  # python-gsmmodem's encoder refuses it: never written anywhere
    for pdu in pdus:
        assert same_submit(str(pdu), str(pdu))
    others = encode_submit(CALLER, body + "!", status_report=True, reference=reference)
    assert not same_submit(str(others[-1]), str(pdus[-1]))  # where they differ: the end
