"""The real transport against modems as they really answer: the profiles in
tests/fixtures/modems/ (python-gsmmodem's recorded fakes, and AT transcripts
from issue threads; each file says where it came from), played by the
simulated modem over a pty.

Each must reach ready, send a text, and - where the device can at all -
receive one and a delivery report. One that cannot receive (Nokia's S60
phones read no texts over AT) must say so in its status.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from bridge.sim.modem import ModemEngine, ModemProfile
from bridge.sim.modem_pty import SimulatedModem
from tests.support.modem import run_transport, settings_for
from tests.support.paths import FIXTURES
from tests.support.polling import until

PROFILES = sorted((FIXTURES / "modems").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def cases() -> Iterator[Any]:
    for path in PROFILES:
        for pin in load(path)["expect"].get("pins", [None]):
            yield pytest.param(path, pin, id=f"{path.stem}-{'pin' if pin else 'no-pin'}")


def test_every_profile_runs() -> None:
    assert len(PROFILES) == 12


@pytest.mark.parametrize(("path", "pin"), list(cases()))
async def test_a_recorded_modem(tmp_path: Path, path: Path, pin: str | None) -> None:
    data = load(path)
    expect = data["expect"]
    engine = ModemEngine(profile=ModemProfile.from_dict(data), pin=pin)
    # command_timeout 0.5: a Wavecom never ends AT+CPIN? with OK; it is waited for.
    settings = settings_for(tmp_path / "ttyUSB0", pin=pin, command_timeout=0.5)
    async with SimulatedModem(settings.port, engine) as sim, run_transport(settings) as running:
        await running.ready()
        status = running.transport.status()
        assert (status.connected, status.registered) == (True, True)
        for words in expect.get("status_says", []):
            assert words in status.detail

        kept: list[int] = []  # the storage slots, where the modem stores before sending

        async def handed_over(slots: Sequence[int]) -> None:
            kept[:] = slots

        result = await running.transport.send(
            "+15125550142", "Sorry we missed your call", on_handover=handed_over
        )
        await running.transport.release(kept)  # as the outbox does once it is settled
        assert [(s.number, s.text) for s in sim.engine.sent] == [
            ("+15125550142", "Sorry we missed your call")
        ]
        if expect["receives"]:
            sim.receive("+15125559876", "Need a roof repair quote")
            await running.sink.wait_for(texts=1)
            assert running.sink.texts[0].body == "Need a roof repair quote"
            await until(lambda: sim.engine.store == {})  # deleted once the sink had it
        if expect["reports"]:
            sim.status_report(result.references[0], "+15125550142")
            await running.sink.wait_for(reports=1)
            (report,) = running.sink.reports
            assert (report.reference, report.delivered) == (result.references[0], True)
            await until(lambda: sim.engine.store == {} and sim.engine.reports == {})
