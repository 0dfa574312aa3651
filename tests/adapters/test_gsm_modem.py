"""The GSM modem transport against the simulated modem, over a real pty."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bridge.sim.modem import ModemEngine, ModemProfile, deliver_pdus
from bridge.sim.modem_pty import SimulatedModem
from sms_gateway.base import IncomingText, SendError
from sms_gateway.gsm_modem import GsmModemTransport
from tests.support.modem import Running, Sink, run_transport, settings_for
from tests.support.polling import until


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimulatedModem]:
    async with SimulatedModem(tmp_path / "ttyUSB0") as modem:
        yield modem


@pytest.fixture
async def modem(sim: SimulatedModem) -> AsyncIterator[Running]:
    async with run_transport(settings_for(sim.path)) as running:
        await running.ready()
        yield running


# --- sending ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "parts"),
    [
        ("Sorry we missed your call - this is Mike at Acme Roofing.", 1),
        ("Zoë, ça va? Leak fixed tomorrow", 1),  # UCS-2
        ("Thanks! 🙂🏠", 1),  # emoji: the library's encoder crashes on these
        ("x" * 300, 2),  # GSM-7, concatenated
        ("Café " + "🙂" * 40, 2),  # UCS-2, concatenated
    ],
)
async def test_texts_reach_the_modem_intact(
    sim: SimulatedModem, modem: Running, body: str, parts: int
) -> None:
    result = await modem.transport.send("+15125550142", body)
    assert result.parts == parts
    assert len(result.references) == parts
    assert {s.number for s in sim.engine.sent} == {"+15125550142"}
    assert "".join(s.text for s in sim.engine.sent) == body
    assert all(s.status_report_requested for s in sim.engine.sent)


async def test_delivery_reports_can_be_turned_off(sim: SimulatedModem) -> None:
    async with run_transport(settings_for(sim.path, delivery_reports=False)) as running:
        await running.ready()
        await running.transport.send("+15125550142", "x" * 200)
    assert [s.status_report_requested for s in sim.engine.sent] == [False, False]


async def test_cms_errors_say_what_they_mean_and_whether_to_retry(
    sim: SimulatedModem, modem: Running
) -> None:
    sim.engine.cms_errors = [42, 30]
    with pytest.raises(SendError, match="congestion") as congested:
        await modem.transport.send("+15125550142", "hello")
    assert (congested.value.retryable, congested.value.code) == (True, 42)
    with pytest.raises(SendError, match="unknown subscriber") as unknown:
        await modem.transport.send("+15125550142", "hello")
    assert unknown.value.retryable is False
    assert (await modem.transport.send("+15125550142", "hello")).parts == 1


async def test_not_registered_is_a_retryable_error(sim: SimulatedModem, modem: Running) -> None:
    sim.engine.registered = False
    with pytest.raises(SendError, match="no network service") as caught:
        await modem.transport.send("+15125550142", "hello")
    assert caught.value.retryable


# --- receiving ----------------------------------------------------------------------------


async def test_incoming_texts_single_multipart_and_emoji(
    sim: SimulatedModem, modem: Running
) -> None:
    sim.receive("+15125559876", "Need a roof repair quote 🏠")
    sim.receive("+15125559876", "The leak is over the garage. " * 8, concat_ref=3)
    await modem.sink.wait_for(texts=2)
    first, second = modem.sink.texts
    assert (first.sender, first.body, first.parts) == (
        "+15125559876",
        "Need a roof repair quote 🏠",
        1,
    )
    assert (second.body, second.parts) == ("The leak is over the garage. " * 8, 2)
    await until(lambda: sim.engine.store == {})  # deleted, after the sink had them
    assert sorted(sim.engine.deleted) == [1, 2, 3]


async def test_a_text_announced_during_a_command_is_read(
    sim: SimulatedModem, modem: Running
) -> None:
    sim.engine.slip_cmti("+15125559876", "Are you open Saturday?")
    await modem.transport.send("+15125550142", "hello")  # the +CMTI comes inside this reply
    await modem.sink.wait_for(texts=1)
    assert modem.sink.texts[0].body == "Are you open Saturday?"


async def test_garbage_bytes_do_not_stop_the_modem(sim: SimulatedModem, modem: Running) -> None:
    sim.send_raw(b"\r\n\xff\xfe\x00 garbage\r\n")
    assert (await modem.transport.send("+15125550142", "still here")).parts == 1
    sim.receive("+15125559876", "and reading")
    await modem.sink.wait_for(texts=1)


async def test_a_slot_freed_by_a_long_reply_is_read_again(
    sim: SimulatedModem, modem: Running
) -> None:
    """Issue 10, item 1: after a 2-part reply the first part's slot stayed
    claimed, so the next text, stored in that slot, was never read - STOP included."""
    sim.receive("+15125559876", "The leak is over the garage. " * 8, concat_ref=3)
    await modem.sink.wait_for(texts=1)
    await until(lambda: sim.engine.store == {})
    sim.receive("+15125559876", "STOP")  # the modem reuses slot 1
    await modem.sink.wait_for(texts=2)
    assert [t.body for t in modem.sink.texts][1] == "STOP"
    await until(lambda: sorted(sim.engine.deleted) == [1, 1, 2])


async def test_a_urc_inside_a_read_does_not_hide_the_text(tmp_path: Path) -> None:
    """Huawei slips ^HCSQ: in after the +CMGR: header; the PDU is found by its shape."""
    engine = ModemEngine(profile=ModemProfile(urcs_in_replies=('^HCSQ:"LTE",48,41,121,19',)))
    async with (
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
        run_transport(settings_for(sim.path)) as running,
    ):
        await running.ready()
        sim.receive("+15125559876", "Need a roof repair quote")
        await running.sink.wait_for(texts=1)
        assert running.sink.texts[0].body == "Need a roof repair quote"


async def test_a_text_announced_with_the_prompt_is_read(
    sim: SimulatedModem, modem: Running
) -> None:
    """A +CMTI in the same read as "> " used to be thrown away with it."""
    await until(lambda: "AT+CMGL=4" in sim.engine.commands)  # the first sweep has answered
    sim.engine.slip_cmti("+15125559876", "Are you open Saturday?", after_prompt=True)
    await modem.transport.send("+15125550142", "hello")
    await modem.sink.wait_for(texts=1)
    assert modem.sink.texts[0].body == "Are you open Saturday?"


async def test_a_modem_ending_lines_with_cr_alone(tmp_path: Path) -> None:
    async with (
        SimulatedModem(tmp_path / "ttyUSB0", ModemEngine(cr_only=True)) as sim,
        run_transport(settings_for(sim.path)) as running,
    ):
        await running.ready()
        assert (await running.transport.send("+15125550142", "hello")).parts == 1
        sim.receive("+15125559876", "and back")
        await running.sink.wait_for(texts=1)


async def test_texts_waiting_on_the_sim_are_swept_up(sim: SimulatedModem) -> None:
    """Texts that arrived while textback was down, or were announced on another port."""
    sim.engine.receive("+15125559876", "Sent while you were away")
    async with run_transport(settings_for(sim.path)) as running:
        await running.sink.wait_for(texts=1)
    assert running.sink.texts[0].body == "Sent while you were away"


@pytest.mark.parametrize(
    "cnmi",
    [
        "2,1,0,1",  # <ds>=1: the report comes as +CDS with its PDU
        "2,1,0,2",  # <ds>=2, the default: kept in SR, announced as +CDSI: "SR",n (was ignored)
    ],
)
async def test_delivery_reports_name_the_reference(sim: SimulatedModem, cnmi: str) -> None:
    async with run_transport(settings_for(sim.path, cnmi=cnmi)) as modem:
        await modem.ready()
        result = await modem.transport.send("+15125550142", "hello")
        sim.status_report(result.references[0], "+15125550142")
        await modem.sink.wait_for(reports=1)
        (report,) = modem.sink.reports
        assert (report.reference, report.recipient, report.delivered) == (
            result.references[0], "+15125550142", True,
        )  # fmt: skip
        await until(lambda: sim.engine.reports == {})  # read, then deleted from SR


async def test_reports_waiting_in_sr_are_swept_up(sim: SimulatedModem) -> None:
    """Kept while textback was down (or with <ds>=0): the sweep reads SR too."""
    sim.engine.status_report(7, "+15125550142")  # power-on CNMI: kept in SR, unannounced
    assert list(sim.engine.reports) == [1]
    async with run_transport(settings_for(sim.path)) as running:
        await running.sink.wait_for(reports=1)
        assert running.sink.reports[0].reference == 7
        await until(lambda: sim.engine.reports == {})


# --- faults ----------------------------------------------------------------------------


async def test_unplugged_then_replugged(
    sim: SimulatedModem, modem: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="sms_gateway.gsm_modem")
    sim.unplug()
    await until(lambda: not modem.transport.status().connected)
    with pytest.raises(SendError, match="not ready") as caught:
        await modem.transport.send("+15125550142", "hello")
    assert caught.value.retryable
    await sim.replug()
    await modem.ready()
    assert (await modem.transport.send("+15125550142", "back")).parts == 1
    downs = [r for r in caplog.records if "modem down" in r.getMessage()]
    assert 1 <= len(downs) <= 2  # "closed", then "cannot open" while away: not one per retry


async def test_a_modem_that_stops_answering_is_reopened(
    sim: SimulatedModem, modem: Running
) -> None:
    sim.engine.no_answer = True
    with pytest.raises(SendError, match="stopped answering") as caught:
        await modem.transport.send("+15125550142", "hello")
    assert caught.value.retryable
    assert sim.engine.sent == []
    sim.engine.no_answer = False
    await modem.ready()
    assert (await modem.transport.send("+15125550142", "hello")).parts == 1
    assert len(sim.engine.sent) == 1


async def test_while_reconnecting_send_says_why(sim: SimulatedModem, modem: Running) -> None:
    sim.engine.no_answer = True
    with pytest.raises(SendError, match="stopped answering"):
        await modem.transport.send("+15125550142", "hello")
    with pytest.raises(SendError) as caught:  # at once, while the transport reconnects
        await modem.transport.send("+15125550142", "hello")
    assert str(caught.value) == "modem not ready: the modem stopped answering"


class SlowToStore(Sink):
    """A sink whose store is mid-write when the link drops, and takes a moment
    to unwind when cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.storing = asyncio.Event()
        self.interrupted = asyncio.Event()
        self.unwound = asyncio.Event()

    async def incoming_text(self, text: IncomingText) -> None:
        self.storing.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.interrupted.set()
            await self.unwound.wait()
            raise


async def test_stopped_just_as_the_modem_fails_it_stops(sim: SimulatedModem) -> None:
    """A cancel that came while the link was being torn down was folded into the
    failure, and run() went on reconnecting for ever (a shutdown hung)."""
    sink = SlowToStore()
    transport = GsmModemTransport(settings_for(sim.path), reconnect_min=0.02, reconnect_max=0.1)
    task = asyncio.create_task(transport.run(sink))
    async with asyncio.timeout(5):
        await transport.wait_ready()
        sim.receive("+15125559876", "hello")
        await sink.storing.wait()
        sim.unplug()  # the link fails; run() cancels what it was doing, the store too
        await sink.interrupted.wait()
    task.cancel()  # textback is stopping, at that very moment
    sink.unwound.set()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done  # before: it went on reconnecting
    assert task.cancelled()


async def test_a_prompt_timeout_leaves_pdu_entry_with_esc(tmp_path: Path) -> None:
    """No "> " came, but the modem waits for the PDU and swallows every command
    (ATZ too) until an ESC: the transport sends one, and reconnects."""
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
        run_transport(settings_for(sim.path, command_timeout=0.3)) as running,
    ):
        await running.ready()
        sim.engine.hold_prompt = True
        with pytest.raises(SendError, match="stopped answering") as caught:
            await running.transport.send("+15125550142", "hello")
        assert caught.value.maybe_sent is False  # the PDU never went: no TP-RD needed
        sim.engine.hold_prompt = False
        await running.ready()
        assert (await running.transport.send("+15125550142", "hello")).parts == 1
        assert [s.text for s in sim.engine.sent] == ["hello"]


async def test_a_modem_left_waiting_for_a_pdu_is_recovered(sim: SimulatedModem) -> None:
    """The previous process died between AT+CMGS and the PDU."""
    sim.engine.feed(b"AT+CMGS=25\r")  # and nobody ever sent the PDU
    async with run_transport(settings_for(sim.path)) as running:
        await running.ready()
        assert (await running.transport.send("+15125550142", "hello")).parts == 1
        assert [s.text for s in sim.engine.sent] == ["hello"]
        assert sim.engine.commands[1] == "AT+CPIN?"  # the first command after the ESC


async def test_a_late_confirmation_makes_the_retry_a_possible_duplicate(
    tmp_path: Path,
) -> None:
    """+CMGS after the send timeout: the retry goes with TP-RD and the same
    TP-MR, so the SMSC drops it (CMS 197); the late +CMGS/OK answers nothing."""
    async with (
        SimulatedModem(tmp_path / "ttyUSB0") as sim,
        run_transport(settings_for(sim.path, send_timeout=0.3)) as running,
    ):
        await running.ready()
        sim.engine.late_confirmation = True
        with pytest.raises(SendError) as caught:
            await running.transport.send("+15125550142", "hello", key=42)
        assert (caught.value.retryable, caught.value.maybe_sent) == (True, True)
        sim.engine.late_confirmation = False
        await running.ready()  # the held +CMGS: 1 / OK came with the first command after
        again = await running.transport.send(
            "+15125550142", "hello", key=42, maybe_sent_before=True
        )
        assert again.already_sent
        (sent,) = sim.engine.sent
        assert (sent.reference, sent.reject_duplicates) == (42, False)
        follow_up = await running.transport.send("+15125550142", "next one", key=43)
        assert follow_up.references == (2,)  # its own +CMGS, not one behind
        assert [s.text for s in sim.engine.sent] == ["hello", "next one"]


async def test_a_long_text_failing_after_its_first_part_is_retried_as_a_duplicate(
    sim: SimulatedModem, modem: Running
) -> None:
    sim.engine.cms_errors = [None, 42]  # part 1 goes out, part 2 meets congestion
    with pytest.raises(SendError, match="congestion") as caught:
        await modem.transport.send("+15125550142", "x" * 300, key=9)
    assert caught.value.maybe_sent  # part 1 is out: the retry must not send it again
    again = await modem.transport.send("+15125550142", "x" * 300, key=9, maybe_sent_before=True)
    assert (again.parts, again.already_sent) == (2, False)
    assert [s.concat for s in sim.engine.sent] == [(9, 2, 1), (9, 2, 2)]


# --- start-up as real modems behave ------------------------------------------------------


async def start(
    tmp_path: Path, engine: ModemEngine, **settings: object
) -> AsyncIterator[tuple[SimulatedModem, Running]]:
    async with (
        SimulatedModem(tmp_path / "ttyUSB0", engine) as sim,
        run_transport(settings_for(sim.path, **settings)) as running,
    ):
        await running.ready()
        yield sim, running


starting = asynccontextmanager(start)


@pytest.mark.parametrize("pin", [None, "1234"])
async def test_cpin_answered_without_ok(tmp_path: Path, pin: str | None) -> None:
    """Wavecom: "+CPIN: READY" (or SIM PIN) and no OK after it."""
    profile = ModemProfile(answers={"AT+CPIN?": ("+CPIN: {pin_state}",)})
    engine = ModemEngine(profile=profile, pin=pin)
    async with starting(tmp_path, engine, pin=pin, command_timeout=0.3) as (_, running):
        assert (await running.transport.send("+15125550142", "hello")).parts == 1


async def test_a_sim_that_wants_its_pin_before_anything_else(tmp_path: Path) -> None:
    """Qualcomm M6280, ZTE K3565-Z: +CME ERROR: 11 to ATZ until the PIN is in."""
    engine = ModemEngine(profile=ModemProfile(before_pin=frozenset()), pin="1234")
    async with starting(tmp_path, engine, pin="1234") as (sim, running):
        commands = sim.engine.commands
        assert commands.index('AT+CPIN="1234"') < commands.index("ATZ")
        assert (await running.transport.send("+15125550142", "hello")).parts == 1


async def test_optional_commands_are_optional(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    profile = ModemProfile(answers={"AT+CMEE=1": ("ERROR",), "ATE0": ("ERROR",)})
    async with starting(tmp_path, ModemEngine(profile=profile)) as (_, running):
        assert (await running.transport.send("+15125550142", "hello")).parts == 1
    assert any("refused AT+CMEE=1" in r.getMessage() for r in caplog.records)


async def test_a_refused_cnmi_falls_back_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIM800L takes no <ds>=2: 2,1,0,1, with reports as +CDS."""
    profile = ModemProfile(answers={"AT+CNMI=2,1,0,2": ("ERROR",)})
    async with starting(tmp_path, ModemEngine(profile=profile)) as (sim, running):
        assert "AT+CNMI=2,1,0,1" in sim.engine.commands
        result = await running.transport.send("+15125550142", "hello")
        sim.status_report(result.references[0], "+15125550142")
        await running.sink.wait_for(reports=1)
        await sim.replug()  # the next connection falls back again, silently
        await until(lambda: sim.engine.commands.count("AT+CNMI=2,1,0,1") == 2)
        await running.ready()
    fallbacks = [r.getMessage() for r in caplog.records if "refused AT+CNMI" in r.getMessage()]
    assert fallbacks == [
        "modem: the modem refused AT+CNMI=2,1,0,2; using 2,1,0,1: new texts are announced"
        " (+CMTI); delivery reports come straight to textback (+CDS)"
    ]


async def test_no_indications_at_all_means_the_sweep_reads_texts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nokia N79 refuses every AT+CNMI; texts then arrive unannounced."""
    profile = ModemProfile(answers={"AT+CNMI=*": ("ERROR",)})
    engine = ModemEngine(profile=profile)
    async with starting(tmp_path, engine, sweep_seconds=0.05) as (sim, running):
        assert "new texts read every 0.05 s" in running.transport.status().detail
        assert sim.engine.receive("+15125559876", "Is anyone there?") == b""  # no +CMTI
        await running.sink.wait_for(texts=1)
        assert running.sink.texts[0].body == "Is anyone there?"
    assert any("refused every AT+CNMI" in r.getMessage() for r in caplog.records)


async def test_sim_pin(tmp_path: Path) -> None:
    async with SimulatedModem(tmp_path / "ttyUSB0", ModemEngine(pin="1234")) as sim:
        async with run_transport(settings_for(sim.path, pin="1234")) as running:
            await running.ready()
        assert 'AT+CPIN="1234"' in sim.engine.commands


async def test_a_wrong_pin_is_tried_once_only(tmp_path: Path) -> None:
    async with SimulatedModem(tmp_path / "ttyUSB0", ModemEngine(pin="1234")) as sim:
        async with run_transport(settings_for(sim.path, pin="9999")) as running:
            await until(lambda: sim.engine.commands.count("AT+CPIN?") >= 3)  # it retries...
        assert running.transport.status().connected is False
        assert sim.engine.commands.count('AT+CPIN="9999"') == 1  # ...but never re-tries


async def test_smsc_from_config_when_the_sim_has_none(tmp_path: Path) -> None:
    async with SimulatedModem(tmp_path / "ttyUSB0", ModemEngine(smsc="")) as sim:
        async with run_transport(settings_for(sim.path, smsc="+15125550000")) as running:
            await running.ready()
        assert sim.engine.smsc == "+15125550000"


async def test_status_snapshot(sim: SimulatedModem, modem: Running) -> None:
    status = modem.transport.status()
    assert (status.connected, status.registered, status.signal, status.operator) == (
        True, True, 20, "SimTel",
    )  # fmt: skip


# --- untrusted input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "number", ['+1555"\r\nAT+CMGD=1,4', "+15125550142\x1aAT+CMGD=1,4", "5125550142\r\nATZ"]
)
async def test_a_hostile_number_never_reaches_the_modem_as_a_command(
    sim: SimulatedModem, modem: Running, number: str
) -> None:
    before = len(sim.engine.commands)
    with pytest.raises(SendError, match="not a phone number") as caught:
        await modem.transport.send(number, "hello")
    assert caught.value.retryable is False
    assert sim.engine.commands[before:] == []  # nothing at all went to the modem
    assert (await modem.transport.send("+15125550142", "still fine")).parts == 1


async def test_control_characters_in_a_body_stay_inside_the_pdu(
    sim: SimulatedModem, modem: Running
) -> None:
    body = "line one\r\nAT+CMGD=1,4\x1a\x1b[2J done"
    await modem.transport.send("+15125550142", body)
    assert "".join(s.text for s in sim.engine.sent) == body
    assert not any("CMGD" in c for c in sim.engine.commands)


async def test_a_modem_missing_at_start_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "ttyUSB0"
    async with run_transport(settings_for(path)) as running:
        await until(lambda: "cannot open" in running.transport.status().detail)
        with pytest.raises(SendError) as caught:
            await running.transport.send("+15125550142", "hello")
        assert caught.value.retryable
        async with SimulatedModem(path) as sim:
            await running.ready()
            assert (await running.transport.send("+15125550142", "hello")).parts == 1
            assert len(sim.engine.sent) == 1


async def test_a_direct_cmt_delivery_is_received(sim: SimulatedModem, modem: Running) -> None:
    """+CNMI=2,2: the modem hands the text over at once; python-gsmmodem ignores these."""
    (pdu_hex,) = deliver_pdus("+15125559876", "Straight through")
    sim.send_raw(f"\r\n+CMT: ,{len(pdu_hex) // 2 - 8}\r\n{pdu_hex}\r\n".encode())
    await modem.sink.wait_for(texts=1)
    assert modem.sink.texts[0].body == "Straight through"


async def test_texts_per_minute_is_respected(sim: SimulatedModem) -> None:
    now = [1000.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    settings = settings_for(sim.path, texts_per_minute=2)
    transport = GsmModemTransport(settings, clock=lambda: now[0], sleep=fake_sleep)
    task = asyncio.create_task(transport.run(Sink()))
    try:
        await transport.wait_ready()
        await transport.send("+15125550142", "one")
        now[0] += 10
        await transport.send("+15125550142", "two")
        await transport.send("+15125550142", "three")  # waits for the first to age out
        assert waits == [50.0]
        await transport.send("+15125550142", "x" * 200)  # two parts need two free slots
        assert waits == [50.0, 10.0, 50.0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [s.text[:5] for s in sim.engine.sent] == ["one", "two", "three", "xxxxx", "xxxxx"]


async def test_flow_control_follows_the_config(sim: SimulatedModem) -> None:
    for wanted in (False, True):
        async with run_transport(settings_for(sim.path, flow_control=wanted)) as running:
            await running.ready()
            port = running.transport._port
            assert port is not None
            assert port._device.rtscts is wanted
