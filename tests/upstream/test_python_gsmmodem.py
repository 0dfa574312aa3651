"""python-gsmmodem-new, bare: each defect the modem transport (sms_gateway) has
to close (library notes), shown on the library itself. The strict xfails are
the defects; they flip to failures (XPASS) once fixed upstream.

First the library as its README uses it, talking to the simulated modem over a
pty; then its PDU codec as the transport uses it (sms_gateway.pdu_codec and
modem_inbox), cross-checked against the simulator's own codec: the properties
in tests/unit/test_sim_pdu.py leave out exactly these inputs, each saying which.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from gsmmodem.modem import GsmModem

from bridge.sim.modem import deliver_pdus
from bridge.sim.modem_pty import SimulatedModem
from bridge.sim.pdu import Address, decode_submit, deliver_parts, encode_deliver
from sms_gateway.pdu_codec import encode_submit
from tests.support.pdu import transport_reads
from tests.support.polling import until

# python-gsmmodem starts a thread per notification; some outlive a test and
# raise into pytest's thread hook. That noise is the library's, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

_NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)

# --- bare python-gsmmodem over the pty --------------------------------------------------


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimulatedModem]:
    async with SimulatedModem(tmp_path / "ttyUSB0") as modem:
        yield modem


class Bare:
    """python-gsmmodem as its README uses it, in one worker thread."""

    def __init__(self, path: Path):
        self.received: list[tuple[str, str]] = []
        self.arrived = threading.Event()
        self.modem = GsmModem(str(path), 115200, smsReceivedCallbackFunc=self._on_sms)

    def _on_sms(self, sms: Any) -> None:
        self.received.append((sms.number, sms.text))
        self.arrived.set()

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)


@pytest.fixture
async def bare(sim: SimulatedModem) -> AsyncIterator[Bare]:
    client = Bare(sim.path)
    await client.call(client.modem.connect)
    yield client
    await client.call(client.modem.close)


async def test_bare_library_connects_sends_and_receives(sim: SimulatedModem, bare: Bare) -> None:
    await bare.call(bare.modem.sendSms, "+15125550142", "Sorry we missed your call")
    await bare.call(bare.modem.sendSms, "+15125550142", "Zoë: " + "ç" * 80)
    sent = [(s.number, s.text, s.concat is not None) for s in sim.engine.sent]
    assert sent[0] == ("+15125550142", "Sorry we missed your call", False)
    assert "".join(s.text for s in sim.engine.sent[1:]) == "Zoë: " + "ç" * 80
    assert all(s.concat for s in sim.engine.sent[1:])
    sim.receive("+15125559876", "Need a roof repair quote")
    assert await asyncio.to_thread(bare.arrived.wait, 5)
    assert bare.received == [("+15125559876", "Need a roof repair quote")]
    await until(lambda: sim.engine.deleted == [1])  # read, then deleted from the SIM


@pytest.mark.xfail(strict=True, raises=ValueError, reason="library defect: emoji crash the encoder")
async def test_bare_library_sends_an_emoji(sim: SimulatedModem, bare: Bare) -> None:
    await bare.call(bare.modem.sendSms, "+15125550142", "Thanks 🙂")
    assert sim.engine.sent[-1].text == "Thanks 🙂"


@pytest.mark.xfail(strict=True, reason="library defect: a +CMTI inside a reply is swallowed")
async def test_bare_library_sees_a_text_announced_during_a_command(
    sim: SimulatedModem, bare: Bare
) -> None:
    sim.engine.slip_cmti("+15125559876", "Are you open Saturday?")
    await bare.call(bare.modem.write, "AT+CSQ")  # the +CMTI lands in this reply
    assert await asyncio.to_thread(bare.arrived.wait, 1)


@pytest.mark.xfail(strict=True, reason="library defect: one 0xFF byte kills the reader thread")
async def test_bare_library_survives_a_garbage_byte(sim: SimulatedModem, bare: Bare) -> None:
    sim.send_raw(b"\r\n\xff\xfe garbage\r\n")
    await asyncio.sleep(0)
    await bare.call(bare.modem.write, "AT", True, 2)


@pytest.mark.xfail(strict=True, reason="library defect: +CMT (direct delivery) is ignored")
async def test_bare_library_receives_a_direct_cmt(sim: SimulatedModem, bare: Bare) -> None:
    (pdu_hex,) = deliver_pdus("+15125559876", "Straight through")
    sim.send_raw(f"\r\n+CMT: ,{len(pdu_hex) // 2 - 8}\r\n{pdu_hex}\r\n".encode())
    assert await asyncio.to_thread(bare.arrived.wait, 1)


@pytest.mark.xfail(strict=True, reason="library defect: incoming multipart texts are not joined")
async def test_bare_library_joins_a_multipart_text(sim: SimulatedModem, bare: Bare) -> None:
    sim.receive("+15125559876", "The leak is over the garage. " * 8, concat_ref=3)
    await asyncio.to_thread(bare.arrived.wait, 5)
    await asyncio.to_thread(lambda: __import__("time").sleep(0.5))  # let any second part land
    assert bare.received == [("+15125559876", "The leak is over the garage. " * 8)]


@pytest.mark.xfail(strict=True, reason="library defect: RTS/CTS flow control is forced on")
async def test_bare_library_leaves_flow_control_off(bare: Bare) -> None:
    assert bare.modem.serial.rtscts is False


@pytest.mark.xfail(strict=True, reason="library defect: a status report is always requested")
async def test_bare_library_without_delivery_reports(sim: SimulatedModem) -> None:
    client = Bare(sim.path)
    client.modem = GsmModem(str(sim.path), 115200, requestDelivery=False)
    await client.call(client.modem.connect)
    try:
        await client.call(client.modem.sendSms, "+15125550142", "hello")
    finally:
        await client.call(client.modem.close)
    assert sim.engine.sent[0].status_report_requested is False


# --- the codec as the transport uses it (strict xfails: they pass once fixed) ----------


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport defect 1: python-gsmmodem's divideTextUcs2 cuts a long UCS-2 text "
    "every 67 UTF-16 units, splitting an emoji's surrogate pair across two parts",
)
def test_xfail_1_a_long_emoji_text_keeps_each_pair_in_one_part() -> None:
    parts = [
        decode_submit(str(p)) for p in encode_submit("+15125550142", "🙂" * 40, status_report=False)
    ]
    assert [p.text for p in parts] == ["🙂" * 33, "🙂" * 7]


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport defect 2: python-gsmmodem's GSM-7 table has ` at 5F, where TS 23.038 "
    "has §: a backtick reaches the recipient as §, and § goes as UCS-2",
)
def test_xfail_2_a_backtick_is_sent_as_a_backtick() -> None:
    (part,) = [
        decode_submit(str(p)) for p in encode_submit("+15125550142", "a`b", status_report=False)
    ]
    assert part.text == "a`b"


@pytest.mark.xfail(
    strict=True,
    raises=TypeError,
    reason="transport defect 3: python-gsmmodem maps ÿ to the extension table's 0A (an "
    "int where it wants a str): encode_submit raises TypeError, not SendError",
)
def test_xfail_3_a_text_with_y_diaeresis_can_be_sent() -> None:
    (part,) = [
        decode_submit(str(p)) for p in encode_submit("+15125550142", "Haÿ", status_report=False)
    ]
    assert part.text == "Haÿ"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport defect 4: python-gsmmodem reads the default alphabet's 5F (§) as `",
)
def test_xfail_4_a_section_sign_is_read_as_one() -> None:
    (pdu,) = deliver_parts(Address.parse("+15125559876"), "§ 4", timestamp=_NOW)
    assert transport_reads(encode_deliver(pdu)).texts[0].body == "§ 4"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport defect 5: python-gsmmodem drops the extension table's form feed (1B 0A)",
)
def test_xfail_5_a_form_feed_is_read_as_one() -> None:
    (pdu,) = deliver_parts(Address.parse("+15125559876"), "page\fbreak", timestamp=_NOW)
    assert transport_reads(encode_deliver(pdu)).texts[0].body == "page\fbreak"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport defect 6: python-gsmmodem's unpackSeptets counts octets, not TP-UDL "
    "septets, and drops a last septet 00: 8 septets ending in @ lose the @",
)
def test_xfail_6_a_text_of_eight_septets_keeps_its_last_at_sign() -> None:
    (pdu,) = deliver_parts(Address.parse("+15125559876"), "mail me@", timestamp=_NOW)
    assert transport_reads(encode_deliver(pdu)).texts[0].body == "mail me@"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="transport defect 7: after a user data header of 7 octets (a 16-bit "
    "concatenation reference) there are no fill bits, and python-gsmmodem loses the "
    "first character of each GSM-7 part",
)
def test_xfail_7_a_text_with_a_16_bit_reference_keeps_its_first_characters() -> None:
    text = "Hello from the roofer. " * 10
    parts = deliver_parts(Address.parse("+15125559876"), text, timestamp=_NOW, reference=0x1234)
    assert transport_reads(*(encode_deliver(p) for p in parts)).texts[0].body == text
