"""Texting through Asterisk (AMI MessageSend) and texts coming back through
the shipped dialplan route, against the AMI double over a real socket."""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.ami.link import AmiLink
from bridge.ami.messaging import MessageSendActions
from bridge.app import Bridge
from bridge.app_settings import modem_settings, sip_settings
from bridge.bus import Bus
from bridge.config import Config
from bridge.core.calls import CallDecision
from bridge.core.numbers import to_e164
from bridge.core.texts import OutgoingText
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import Store
from bridge.texting.outbox import OutboxWorker
from bridge.texting.transports import Transports
from sms_gateway.base import SendError
from sms_gateway.gsm_modem import GsmModemTransport
from sms_gateway.settings import ModemSettings, SipSettings
from sms_gateway.sip_messages import NotSent, SipMessageTransport, sip_number
from tests.support.ami import SECRET, fast_ami
from tests.support.expected import CALLER, trace
from tests.support.polling import until, until_true
from tests.support.running import running
from tests.support.store_values import decision

MAIN, REPAIRS = "+15125550100", "+15125550111"
PROVIDER = "sip.provider.example"
to_us = functools.partial(to_e164, region="US")


def settings(asterisk: FakeAsterisk, tmp_path: Path, **extra: object) -> Config:
    data: dict[str, object] = {
        "business": {"name": "Acme Roofing", "hours": {"mon-sun": "00:00-23:59"}},
        "ami": fast_ami(asterisk.port).model_dump() | {"secret": SECRET},
        "lines": [
            {"did": MAIN, "name": "Main line", "transports": ["sip"]},
            {"did": REPAIRS, "name": "Repairs"},
        ],
        "sip": {"endpoint": "provider-trunk", "host": PROVIDER},
        "store": {"path": str(tmp_path / "t.db")},
    }
    data.update(extra)
    return Config.model_validate(data, context={"region": "US"})


@asynccontextmanager
async def linked(config: Config) -> AsyncIterator[SipMessageTransport]:
    """A SIP transport over a live AMI link."""
    link = AmiLink(config.ami, lambda message: None)
    task = asyncio.create_task(link.run())
    assert config.sip is not None
    sip = SipMessageTransport(
        sip_settings(config.sip),
        MessageSendActions(link),
        normalise=to_us,
        default_line=MAIN,
        clock=lambda: datetime.now(UTC),
    )
    try:
        async with asyncio.timeout(5):
            await sip.wait_ready()
        yield sip
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_missed_call_is_texted_back_with_messagesend(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    config = settings(asterisk, tmp_path)
    decided: asyncio.Queue[CallDecision] = asyncio.Queue()
    async with (
        await Store.open(config.store.path) as store,
        running(Bridge(config, store, on_decision=decided.put_nowait)),
    ):
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))

        async def sent() -> bool:  # Asterisk's answer reached the store
            return [r["state"] for r in await store.outbox()] == ["sent"]

        await until_true(sent)
        (row,) = await store.outbox()
    (sent,) = asterisk.messages
    assert sent.destination == f"pjsip:provider-trunk/sip:{CALLER}@{PROVIDER}"
    assert sent.sender == f"sip:{MAIN}@{PROVIDER}"  # from the line that was called
    assert sent.body == row["body"]
    assert sent.body.startswith("Sorry we missed your call")
    (action,) = [a for a in asterisk.actions if a.get("Action") == "MessageSend"]
    assert base64.b64decode(action.get("Base64Body")).decode() == sent.body
    assert action.get("Body") == ""  # never raw: line breaks would end the action
    assert (row["state"], row["from_line"]) == ("sent", MAIN)


async def test_accents_emoji_and_line_breaks_reach_asterisk_intact(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    body = "Hola José 👍\nAction: Hangup\r\nChannel: PJSIP/201"  # not an action of its own
    async with linked(settings(asterisk, tmp_path, sip={
        "endpoint": "provider-trunk", "host": PROVIDER, "plus_in_uri": False,
    })) as sip:  # fmt: skip
        await sip.send(CALLER, body, from_line=REPAIRS)
    (sent,) = asterisk.messages
    assert sent.body == body
    assert sent.destination == f"pjsip:provider-trunk/sip:15125559876@{PROVIDER}"
    assert sent.sender == f"sip:15125550111@{PROVIDER}"
    assert [a.get("Action") for a in asterisk.actions].count("Hangup") == 0


@pytest.mark.parametrize(
    ("fault", "retryable", "says"),
    [
        ({"write_classes": frozenset({"system"})}, False, "add 'message' to its write="),
        ({"message_techs": frozenset()}, False, "res_pjsip_messaging"),
        ({"message_send_fails": True}, True, "the SIP stack would not take the message"),
    ],
)
async def test_each_messagesend_error_is_mapped(
    tmp_path: Path, fault: dict[str, object], retryable: bool, says: str
) -> None:
    asterisk = FakeAsterisk(secret=SECRET, **fault)  # type: ignore[arg-type]
    async with asterisk, linked(settings(asterisk, tmp_path)) as sip:
        with pytest.raises(SendError) as caught:
            await sip.send(CALLER, "hello")
    assert caught.value.retryable is retryable
    assert says in str(caught.value)
    assert asterisk.messages == []


async def test_refused_before_asking_asterisk(asterisk: FakeAsterisk, tmp_path: Path) -> None:
    async with linked(settings(asterisk, tmp_path)) as sip:
        with pytest.raises(SendError) as too_long:
            await sip.send(CALLER, "é" * 700)  # 1,400 bytes: Asterisk would cut it
        assert too_long.value.retryable is False
        with pytest.raises(SendError) as not_a_number:
            await sip.send("+1512@evil", "hello")
        assert not_a_number.value.retryable is False
        await asterisk.drop_connections()
        await until(lambda: not sip.status().connected)
        with pytest.raises(SendError) as down:
            await sip.send(CALLER, "hello")
        assert down.value.retryable is True
    assert [a.get("Action") for a in asterisk.actions].count("MessageSend") == 0


async def test_an_inbound_text_through_the_shipped_dialplan_lands_in_its_thread(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    config = settings(asterisk, tmp_path)
    async with (
        await Store.open(config.store.path) as store,
        running(Bridge(config, store)),
    ):
        async with asyncio.timeout(5):
            await asterisk.wait_for(lambda: asterisk.sessions == 1)
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))
        await until(lambda: len(asterisk.messages) == 1)
        body = "Hi, it's Jane (from Elm St.)\nWater through the ceiling - ¿hoy? 🙏 {50%}"
        await asterisk.inbound_text(
            f'"Jane Caller" <sip:{CALLER}@{PROVIDER}>', f"sip:{MAIN}@{PROVIDER}", body
        )

        async def replied() -> bool:
            threads = await store.threads()
            return bool(threads) and threads[0].status == "replied"

        await until_true(replied)
        (thread,) = await store.threads()
        assert (thread.id, thread.caller, thread.last_reply) == (1, CALLER, body)
        # STOP over SIP is honoured, and confirmed over SIP.
        await asterisk.inbound_text(f"sip:{CALLER}@{PROVIDER}", f"sip:{MAIN}@{PROVIDER}", "STOP")
        await until(lambda: len(asterisk.messages) == 2)
        assert "unsubscribed" in asterisk.messages[1].body
        assert await store.is_opted_out(CALLER)


def test_sip_from_headers_give_the_number() -> None:
    assert sip_number(f'"Jane" <sip:{CALLER}@{PROVIDER}>', to_us) == CALLER
    assert sip_number(f"sip:15125559876@{PROVIDER};tag=abc", to_us) == CALLER
    assert sip_number("<sips:5125559876@host>", to_us) == CALLER
    assert sip_number("sip:anonymous@anonymous.invalid", to_us) is None


async def test_each_line_picks_its_transports_and_falls_back(
    asterisk: FakeAsterisk, tmp_path: Path
) -> None:
    async with SimulatedModem(tmp_path / "ttyUSB0") as modem:
        config = settings(
            asterisk,
            tmp_path,
            modem={"port": str(modem.path), "sweep_seconds": 3600, "command_timeout": 1},
            lines=[
                {"did": MAIN, "name": "Main line", "transports": ["sip", "modem"]},
                {"did": REPAIRS, "name": "Repairs", "transports": ["modem"]},
            ],
        )
        assert config.modem is not None
        gsm = GsmModemTransport(modem_settings(config.modem))
        async with linked(config) as sip, await Store.open(config.store.path) as store:
            transports = Transports.for_config(config, {"sip": sip, "modem": gsm})
            worker = OutboxWorker(
                store, transports, clock=lambda: datetime.now(UTC),
                retry_min=timedelta(milliseconds=10), poll_every=0.02, home="US", bus=Bus(),
            )  # fmt: skip
            tasks = [asyncio.create_task(gsm.run(_Ignore())), asyncio.create_task(worker.run())]
            try:
                await gsm.wait_ready()
                expires = datetime.now(UTC) + timedelta(minutes=30)
                to_main = OutgoingText(CALLER, "main line text", 1, expires)
                await store.record_decision(decision("a", line=MAIN), text=to_main)
                await until(lambda: len(asterisk.messages) == 1)  # SIP, as the line says
                assert modem.engine.sent == []

                other = "+15125550142"
                to_repairs = OutgoingText(other, "repairs text", 1, expires)
                await store.record_decision(
                    decision("b", caller=other, line=REPAIRS), text=to_repairs
                )
                await until(lambda: len(modem.engine.sent) == 1)  # modem only
                assert modem.engine.sent[0].text == "repairs text"

                # SIP failing: the retry goes out by the modem.
                asterisk.message_send_fails = True
                third = "+15125550143"
                fallback = OutgoingText(third, "fell back", 1, expires)
                await store.record_decision(decision("c", caller=third, line=MAIN), text=fallback)
                await until(lambda: len(modem.engine.sent) == 2)
                assert modem.engine.sent[1].number == third
                assert len(asterisk.messages) == 1
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)


def test_a_line_cannot_name_a_transport_that_is_not_configured(tmp_path: Path) -> None:
    from bridge.config import ConfigError, parse_config

    text = (
        "business: {name: Acme}\nami: {username: u, secret: s}\n"
        "lines:\n  - did: '+15125550100'\n    name: Main\n    transports: [modem]\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "t.yaml", {})
    assert caught.value.problems == [
        "t.yaml:6: lines[0].transports[0]: no 'modem' section in this config to text through"
    ]


class _Ignore:
    async def incoming_text(self, text: object) -> None:
        pass

    async def delivery_report(self, report: object) -> None:
        pass


class _Link:
    """AmiActions with no bridge behind it: sms_gateway needs nothing more."""

    def __init__(self, answer: BaseException | tuple[bool, str]):
        self.answer = answer
        self.sent: list[tuple[str, str, str]] = []
        self.headers: list[dict[str, str]] = []

    def is_connected(self) -> bool:
        return True

    async def wait_connected(self) -> None:
        pass

    async def message_send(
        self, destination: str, sender: str, body: str, *, headers: Mapping[str, str]
    ) -> _Reply:
        self.sent.append((destination, sender, body))
        self.headers.append(dict(headers))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return _Reply(*self.answer)


@dataclass(frozen=True)
class _Reply:
    success: bool
    message: str


def _standalone(link: _Link) -> SipMessageTransport:
    settings = SipSettings(
        endpoint="provider-trunk", host=PROVIDER, plus_in_uri=True, inbound_event="TextbackSMS"
    )
    return SipMessageTransport(
        settings, link, normalise=to_us, default_line=MAIN, clock=lambda: datetime.now(UTC)
    )


@pytest.mark.parametrize(
    ("answer", "retryable", "maybe_sent", "says"),
    [
        ((True, "Message successfully sent"), None, False, ""),
        ((False, "Permission denied"), False, False, "add 'message' to its write="),
        ((False, "Oops\x1b[2J"), True, False, "MessageSend refused: Oops\\x1b[2J (unknown error)"),
        (NotSent("AMI is not connected"), True, False, "AMI: AMI is not connected"),
        # Gone down or silent after the action was written: it may have gone out.
        (ConnectionError("lost"), True, True, "AMI: lost; it may have gone out"),
        (TimeoutError(), True, True, "no answer to MessageSend in time"),
    ],
)
async def test_the_transport_on_any_ami_actions(
    answer: BaseException | tuple[bool, str], retryable: bool | None, maybe_sent: bool, says: str
) -> None:
    link = _Link(answer)
    sip = _standalone(link)
    if retryable is None:
        assert (await sip.send(CALLER, "hi", key=7)).parts == 1
    else:
        with pytest.raises(SendError) as caught:
            await sip.send(CALLER, "hi", key=7)
        assert (caught.value.retryable, caught.value.maybe_sent) == (retryable, maybe_sent)
        assert says in str(caught.value)
    assert link.sent == [
        (f"pjsip:provider-trunk/sip:{CALLER}@{PROVIDER}", f"sip:{MAIN}@{PROVIDER}", "hi")
    ]
    assert link.headers == [{"X-Textback-Id": f"7.{MAIN.lstrip('+')}"}]


def test_an_inbound_user_event_is_plain_headers() -> None:
    sip = _standalone(_Link((True, "")))
    event = {"Event": "UserEvent", "UserEvent": "TextbackSMS", "Body": "Need%20a%20quote"}
    assert sip.accepts(event | {"From": f"sip:{CALLER}@{PROVIDER}"})
    assert not sip.accepts({"Event": "UserEvent", "UserEvent": "Other"})
    text = sip.incoming(event | {"From": f"%22Jane%22%20%3Csip:5125559876@{PROVIDER}%3E"})
    assert text is not None
    assert (text.sender, text.body) == (CALLER, "Need a quote")
    assert sip.incoming(event | {"From": "sip:anonymous@anonymous.invalid"}) is None


def test_the_app_hands_every_setting_over() -> None:
    """A key added to the config's modem or sip section must reach the transport."""
    from bridge.config import ModemConfig, SipConfig

    assert set(ModemConfig.model_fields) == {f.name for f in fields(ModemSettings)}
    assert set(SipConfig.model_fields) == {f.name for f in fields(SipSettings)}
    modem = modem_settings(
        ModemConfig.model_validate(
            {"port": "/dev/ttyUSB0", "pin": "1234"}, context={"region": "US"}
        )
    )
    assert modem.pin == "1234"
    assert "1234" not in repr(modem)
    assert str(modem.port) == "/dev/ttyUSB0"
