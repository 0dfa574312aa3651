"""`textback doctor` against the real things' doubles: each failure it checks,
and what it says to fix."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import serial

from bridge.ops.doctor import Check, diagnose
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.mail import MailCatcher
from bridge.sim.modem import ModemEngine, ModemProfile
from bridge.sim.modem_pty import SimulatedModem
from bridge.store import SCHEMA_VERSION, Store
from tests.support.ami import SECRET
from tests.support.cli import textback


def write_config(
    tmp_path: Path,
    ami_port: int,
    *,
    secret: str = SECRET,
    modem: Path | None = None,
    smtp: str = "",
    sip: bool = False,
    store: Path | None = None,
    owners: str = "",
) -> Path:
    text = f"""
lab: true
business: {{name: Acme Roofing}}
ami:
  port: {ami_port}
  username: textback
  secret: {secret}
  connect_timeout: 2
  reconnect_min: 0.05
lines: [{{did: "+15125550100", name: Main line}}]
store: {{path: {store or tmp_path / "textback.db"}}}
"""
    if modem is not None:
        text += f"modem: {{port: {modem}, command_timeout: 1}}\n"
    if sip:
        text += "sip: {endpoint: provider-trunk, host: sip.provider.example}\n"
    text += smtp + owners
    path = tmp_path / "textback.yaml"
    path.write_text(text)
    return path


def smtp_section(port: int, password: str) -> str:
    return (
        f"smtp: {{host: 127.0.0.1, port: {port}, security: none,"
        f" username: textback@acme.example, password: {password}, sender: t@acme.example}}\n"
    )


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


async def test_all_well(tmp_path: Path) -> None:
    mail = MailCatcher(credentials=("textback@acme.example", "smtp-pass"))
    await mail.start()
    smtp = smtp_section(mail.port, "smtp-pass")
    try:
        async with (
            FakeAsterisk(secret=SECRET) as asterisk,
            SimulatedModem(tmp_path / "ttyUSB0") as modem,
        ):
            config = write_config(tmp_path, asterisk.port, modem=modem.path, smtp=smtp, sip=True)
            checks = await diagnose(str(config), modem_wait=5)
    finally:
        await mail.stop()
    assert [c for c in checks if not c.ok] == []
    lines = [c.line() for c in checks]
    assert lines[0] == f"ok   config: {config} is valid (lab: 5 example value(s) allowed)"
    assert f"ok   store: {tmp_path / 'textback.db'} will be created on first run" in lines
    assert f"ok   AMI login: logged in to 127.0.0.1:{asterisk.port} as textback" in lines
    found = by_name(checks)
    assert found["SIP MessageSend"].message == "allowed (a dry call, nothing sent)"
    assert found["SIP endpoint"].message == "PJSIP endpoint provider-trunk exists"
    assert found["AMI events"].message == "arriving (FullyBooted seen)"
    assert found["modem"].message.startswith("ready, registered on SimTel, signal")
    assert found["SMTP"].message == f"127.0.0.1:{mail.port} accepts us as textback@acme.example"
    assert found["PBX clock"].ok
    assert asterisk.messages == []  # the dry MessageSend sent nothing
    assert mail.mailbox.messages == []
    assert not (tmp_path / "textback.db").exists()  # nothing created


async def test_a_bad_config_is_the_one_line(tmp_path: Path) -> None:
    path = tmp_path / "textback.yaml"
    path.write_text("business: {name: Acme}\nami: {username: u, secret: s, port: abc}\n")
    (check,) = await diagnose(str(path))
    assert check.line() == (
        f"FAIL config: {path}:2: ami.port: expected an integer 1-65535, got 'abc'"
        f" (and 1 more) - fix: textback check-config {path}"
    )


async def test_ami_unreachable_and_login_refused(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET) as asterisk:
        port = asterisk.port
        found = by_name(await diagnose(str(write_config(tmp_path, port, secret="wrong"))))
    assert found["AMI login"].line() == (
        "FAIL AMI login: login as 'textback' refused: Authentication failed - fix: ami.username"
        " and the secret must match the [textback] user in manager.conf"
        " (see config/asterisk/manager.conf); then `manager reload`"
    )
    found = by_name(await diagnose(str(write_config(tmp_path, port))))  # nobody listens now
    assert found["AMI"].message == f"cannot reach Asterisk at 127.0.0.1:{port}: connection refused"
    assert "enabled = yes" in found["AMI"].fix


async def test_missing_ami_permissions_events_and_sip_endpoint(tmp_path: Path) -> None:
    async with FakeAsterisk(
        secret=SECRET, write_classes=frozenset(), fully_booted=False, endpoints=frozenset()
    ) as asterisk:
        found = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, sip=True))))
    assert found["AMI CoreShowChannels"].line() == (
        "FAIL AMI CoreShowChannels: permission denied - fix: add 'system' to write= for this"
        " user in manager.conf, then `manager reload`"
    )
    assert found["SIP MessageSend"].fix.startswith("add 'message' to write=")
    assert not found["SIP endpoint"].ok
    assert not found["AMI events"].ok
    assert "read = call,dialplan,agent,system,user" in found["AMI events"].fix


async def test_the_pbx_clock_far_off(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET, clock_offset=-300) as asterisk:
        found = by_name(await diagnose(str(write_config(tmp_path, asterisk.port))))
    check = found["PBX clock"]
    assert not check.ok
    assert check.message.startswith("this machine and Asterisk differ by +30")  # ~ +300 s
    assert check.fix == "run NTP (systemd-timesyncd or chrony) on both machines"


async def test_store_problems(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    async with await Store.open(newer):
        pass
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    async with FakeAsterisk(secret=SECRET) as asterisk:
        found = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, store=newer))))
        current = tmp_path / "current.db"
        async with await Store.open(current):
            pass
        ok = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, store=current))))
        bad = tmp_path / "not-a-store.db"
        bad.write_text("hello")
        broken = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, store=bad))))
    assert found["store"].message == (
        f"schema {SCHEMA_VERSION + 1} is newer than this textback ({SCHEMA_VERSION})"
    )
    assert ok["store"].message == f"{current} is writable, schema {SCHEMA_VERSION} is current"
    assert not broken["store"].ok
    assert broken["store"].message.startswith(f"{bad} is not a textback store")


async def test_modem_absent_silent_and_unregistered(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET) as asterisk:
        missing = tmp_path / "ttyUSB9"
        found = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, modem=missing))))
        assert found["modem"].line() == (
            f"FAIL modem: no device at {missing} - fix: plug the modem in;"
            " use its /dev/serial/by-id/ name for modem.port"
        )
        engine = ModemEngine(registered=False)
        async with SimulatedModem(tmp_path / "ttyUSB0", engine) as modem:
            config = write_config(tmp_path, asterisk.port, modem=modem.path)
            found = by_name(await diagnose(str(config), modem_wait=5))
    assert found["modem"].message == "the SIM is not registered, signal 20/31"
    assert found["modem"].fix == "check the SIM's service and the antenna"


@pytest.mark.parametrize("store_and_send", [True, False], ids=["stores-first", "cannot"])
async def test_the_modem_check_says_what_settles_a_text_cut_off_mid_send(
    tmp_path: Path, store_and_send: bool
) -> None:
    engine = ModemEngine(profile=ModemProfile(store_and_send=store_and_send))
    async with (
        FakeAsterisk(secret=SECRET) as asterisk,
        SimulatedModem(tmp_path / "ttyUSB0", engine) as modem,
    ):
        config = write_config(tmp_path, asterisk.port, modem=modem.path)
        found = by_name(await diagnose(str(config), modem_wait=5))
    assert found["modem"].ok  # a modem without it still texts: said, not failed
    if store_and_send:
        assert found["modem"].message.endswith("settled from the modem's storage")
    else:
        assert "no store-and-send (the modem cannot store a text to send it (AT+CMGW))" in (
            found["modem"].message
        )
        assert "resent with TP-RD" in found["modem"].message


async def test_smtp_unreachable_and_refusing_the_login(tmp_path: Path) -> None:
    mail = MailCatcher(credentials=("textback@acme.example", "right"))
    await mail.start()
    smtp = smtp_section(mail.port, "wrong")
    try:
        async with FakeAsterisk(secret=SECRET) as asterisk:
            refused = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, smtp=smtp))))
            await mail.stop()
            down = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, smtp=smtp))))
    finally:
        await mail.stop()
    assert refused["SMTP"].message.startswith(f"127.0.0.1:{mail.port} refused the login: 535")
    assert refused["SMTP"].fix == "check smtp.username and SMTP_PASSWORD"
    assert down["SMTP"].message.startswith(f"cannot reach 127.0.0.1:{mail.port}")


async def test_the_command_exits_non_zero_on_any_failure(tmp_path: Path) -> None:
    async with FakeAsterisk(secret=SECRET) as asterisk:
        good = write_config(tmp_path, asterisk.port)
        code, out, err = await textback("doctor", "--config", str(good))
        assert code == 0, out + err
        assert "FAIL" not in out
        bad = write_config(tmp_path, asterisk.port, secret="wrong")
        code, out, err = await textback("doctor", "--config", str(bad))
    assert code == 1
    assert "FAIL AMI login" in out
    assert "1 problem(s) found" in err
    assert "wrong" not in out + err  # the secret is never printed
    # Only the report: the checks' own connections log nothing of their own.
    assert err.strip() == "1 problem(s) found"
    assert all(line.startswith(("ok   ", "FAIL ")) for line in out.splitlines()), out


async def test_a_modem_held_by_the_running_bridge_is_not_a_sim_problem(tmp_path: Path) -> None:
    from bridge.ops import health

    async with FakeAsterisk(secret=SECRET) as asterisk, SimulatedModem(tmp_path / "ttyUSB0") as sim:
        config = write_config(tmp_path, asterisk.port, modem=sim.path)
        with serial.Serial(str(sim.path), exclusive=True):  # as `textback run` holds it
            stranger = by_name(await diagnose(str(config), modem_wait=5))["modem"]
            beat = health.heartbeat_path(tmp_path / "textback.db")
            health.write(beat, health.Snapshot(datetime.now(UTC), "connected", {"modem": True}))
            bridge = by_name(await diagnose(str(config), modem_wait=5))["modem"]
    assert stranger.line() == (
        f"FAIL modem: {sim.path} is in use by another program - fix: find it with"
        f" `fuser -v {sim.path}` (often ModemManager: systemctl disable --now ModemManager)"
    )
    assert bridge.line() == "ok   modem: in use by the running bridge, which reports it up"


@pytest.mark.parametrize("year", [2019])
def test_a_clock_in_the_past(year: int, tmp_path: Path) -> None:
    from bridge.config import load_config
    from bridge.ops.doctor import check_clock

    config = load_config(write_config(tmp_path, 5038))
    check = check_clock(config, datetime(year, 1, 1, tzinfo=UTC))
    assert check.line() == (
        "FAIL clock: this machine thinks it is 2019-01-01 - fix: set the clock and run NTP"
    )


async def test_call_records_in_use_missing_or_not_configured(tmp_path: Path) -> None:
    from tests.support.expected import trace

    master = tmp_path / "cdr-csv" / "Master.csv"
    master.parent.mkdir()
    async with FakeAsterisk(secret=SECRET, cdr_csv=master) as asterisk:
        plain = write_config(tmp_path, asterisk.port)
        off = by_name(await diagnose(str(plain)))["call records"]
        await asterisk.play(recorded_events(trace("02_noanswer.ami")))
        with_records = plain.read_text() + f"cdr: {{csv: {master}}}\n"
        plain.write_text(with_records)
        in_use = by_name(await diagnose(str(plain)))["call records"]
        plain.write_text(with_records.replace(str(master), str(tmp_path / "nowhere" / "M.csv")))
        missing = by_name(await diagnose(str(plain)))["call records"]
    assert off.ok
    assert off.message.startswith("not configured: a call that ends while textback")
    assert in_use.ok
    assert in_use.message.startswith(f"Asterisk's Master.csv at {master}: readable, last record")
    assert in_use.message.endswith("in use to catch up after an outage")
    assert not missing.ok
    assert "no such directory: is cdr_csv loaded" in missing.message


async def test_the_example_left_unedited_is_a_failure_run_would_refuse(tmp_path: Path) -> None:
    config = write_config(tmp_path, 5038)
    config.write_text(config.read_text().replace("lab: true\n", ""))
    found = by_name(await diagnose(str(config)))
    assert found["config"].line() == (
        f"FAIL config: the example's value is still in place: {config}:2: business.name:"
        " 'Acme Roofing' is the example's name (and 1 more) - fix: replace them"
        f" (textback check-config {config} lists them), or set `lab: true` in a lab"
    )


def test_doctor_shows_a_running_bridge_degraded(tmp_path: Path) -> None:
    from bridge.ops import health
    from bridge.ops.doctor import check_running_bridge

    beat = tmp_path / "textback.health"
    now = datetime.now(UTC)
    assert check_running_bridge(beat, now).line() == (
        "ok   bridge: not running here now (no fresh heartbeat)"
    )
    health.write(beat, health.Snapshot(now, "connected", {"modem": True}))
    assert check_running_bridge(beat, now).line() == "ok   bridge: running, AMI connected"
    crashed = {"follow-up": "KeyError: 'x'"}
    health.write(beat, health.Snapshot(now, "connected", {"modem": True}, crashed))
    line = check_running_bridge(beat, now).line()
    assert line.startswith(
        "FAIL bridge: running, but restarted after a crash: follow-up (KeyError: 'x') - fix:"
    )


async def test_click_to_call_needs_write_originate(tmp_path: Path) -> None:
    owners = 'owners: [{id: mike, name: Mike, extension: PJSIP/201, mobile: "+15125550199"}]\n'
    async with FakeAsterisk(secret=SECRET) as asterisk:  # write = system,message
        found = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, owners=owners))))
        assert found["AMI Originate"].line() == (
            "FAIL AMI Originate: permission denied: CALL 12 cannot ring anyone - fix: add"
            " 'originate' to write= for this user in manager.conf, then `manager reload`"
        )
        asterisk.write_classes = frozenset({"system", "originate"})
        found = by_name(await diagnose(str(write_config(tmp_path, asterisk.port, owners=owners))))
        assert found["AMI Originate"].ok
        assert found["AMI Originate"].message == (
            "allowed, for click-to-call (a dry call, nothing rang)"
        )
        originates = [a for a in asterisk.actions if a.get("Action") == "Originate"]
        assert [a.get("Channel") for a in originates] == ["", ""]  # nothing to ring
    assert "AMI Originate" not in by_name(await diagnose(str(write_config(tmp_path, 1))))
