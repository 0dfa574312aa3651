"""The `textback` command as a user runs it: real processes, real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.sim.ami_server import FakeAsterisk, recorded_events
from tests.support.ami import SECRET
from tests.support.cli import TEXTBACK, textback
from tests.support.example_config import EXAMPLE_CONFIG, example_config
from tests.support.expected import CALLER, DID, REAL_TRACES, TRACES, trace
from tests.support.paths import ROOT
from tests.support.polling import until


def config_file(tmp_path: Path, port: int, **replacements: str) -> Path:
    path = example_config(tmp_path, port)
    text = path.read_text()
    for old, new in replacements.items():
        text = text.replace(old, new)
    path.write_text(text)
    return path


ENV = {"AMI_SECRET": SECRET, "SMTP_PASSWORD": "smtp-secret"}


@pytest.mark.parametrize("name", sorted(REAL_TRACES))
async def test_replay_json_of_each_real_trace(name: str) -> None:
    code, out, err = await textback("replay", str(TRACES / name), "--json")
    assert code == 0, err
    (line,) = out.splitlines()
    call = json.loads(line)
    outcome, reason, extra = REAL_TRACES[name]
    assert call["outcome"] == outcome
    assert call["reason"] == reason
    for key, value in extra.items():
        assert call[key] == value
    if outcome != "internal":
        assert (call["caller"], call["line"]) == (CALLER, DID)
    linkedid = call["linkedid"]
    assert call["started_at"].startswith("2026-11-25T")
    assert call["started_at"] <= call["ended_at"]
    assert trace(name).count(f"Linkedid: {linkedid}".encode()) > 0


async def test_replay_with_config_names_the_line_and_reads_a_concatenation(
    tmp_path: Path,
) -> None:
    both = tmp_path / "two.ami"
    both.write_bytes(
        trace("02_noanswer.ami") + trace("06_ringgroup_answered.ami").split(b"\r\n", 1)[1]
    )
    code, out, err = await textback(
        "replay", str(both), "--json", "--config", str(config_file(tmp_path, 5038)), env=ENV
    )
    assert code == 0, err
    calls = [json.loads(line) for line in out.splitlines()]
    assert [(c["outcome"], c["line_name"]) for c in calls] == [
        ("missed", "Main line"),
        ("answered", "Main line"),
    ]


async def test_replay_human_output_and_a_truncated_recording(tmp_path: Path) -> None:
    cut = tmp_path / "cut.ami"
    data = trace("02_noanswer.ami")
    cut.write_bytes(data[: len(data) // 2])
    code, out, err = await textback("replay", str(cut))
    assert code == 0
    assert "unknown (TRACE_ENDED)" in out
    assert "skipped a truncated message" in err


async def test_user_errors_are_one_message_and_exit_2_never_a_traceback(tmp_path: Path) -> None:
    code, _, err = await textback("replay", str(tmp_path / "missing.ami"))
    assert (code, "Traceback" in err) == (2, False)
    bad = config_file(tmp_path, 5038, **{"port: 5038": "port: abc"})
    bad.write_text(bad.read_text().replace("port: 5038", "port: abc"))
    code, _, err = await textback("check-config", str(bad), env=ENV)
    assert code == 2
    assert "Traceback" not in err
    assert f"{bad}:" in err
    assert "ami.port: expected an integer 1-65535, got 'abc'" in err
    code, _, err = await textback("run", "--config", str(bad), env=ENV)
    assert (code, "Traceback" in err) == (2, False)


async def test_check_config_masks_the_secrets(tmp_path: Path) -> None:
    code, out, err = await textback("check-config", str(EXAMPLE_CONFIG), env=ENV)
    assert code == 0, err
    assert SECRET not in out
    assert "smtp-secret" not in out
    assert "smtp.acme.example:587 (starttls)" in out
    # Each template previewed, with its size in SMS parts.
    assert "business hours text (147 characters, GSM-7, 1 SMS):" in out
    assert "Sorry we missed your call - this is Mike at Acme Roofing." in out
    assert "after hours text (" in out
    assert "**********" in out
    assert "Main line" in out
    # The caps beside what the modem can send: the cap is a valve, the modem the limit.
    flat = " ".join(out.replace("│", " ").split())
    assert "at most 300 text-backs an hour and 20 a minute" in flat
    assert "modem sends at most 600 texts an hour (texts_per_minute 10 x 60" in flat


async def test_run_decides_live_calls_stores_them_and_stops_cleanly_on_sigterm(
    tmp_path: Path,
) -> None:
    async with FakeAsterisk(secret=SECRET) as asterisk:
        config = config_file(tmp_path, asterisk.port)
        process = await asyncio.create_subprocess_exec(
            *TEXTBACK, "run", "--config", str(config), "--dry-run",
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **ENV},
        )  # fmt: skip
        assert process.stderr is not None
        try:
            async with asyncio.timeout(30):
                await asterisk.wait_for(
                    lambda: any(a.get("Action") == "CoreShowChannels" for a in asterisk.actions)
                )
                await asterisk.play(recorded_events(trace("07_voicemail_left.ami")))
                log = ""
                while "missed (VOICEMAIL)" not in log:
                    log += (await process.stderr.readline()).decode()
            # The container's HEALTHCHECK: the running bridge's heartbeat.
            code, out, err = await textback("health", "--config", str(config), env=ENV)
            assert (code, out.strip()) == (0, "ok: AMI connected"), err
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                rest = (await process.stderr.read()).decode()
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
    assert "textback bridge stopped" in rest
    assert SECRET not in log + rest
    code, out, _ = await textback("calls", "--config", str(config), "--json", env=ENV)
    assert code == 0
    (call,) = [json.loads(line) for line in out.splitlines()]
    assert (call["outcome"], call["reason"], call["voicemail_left"], call["dry_run"]) == (
        "missed", "VOICEMAIL", True, True,
    )  # fmt: skip
    code, out, _ = await textback("calls", "--config", str(config), env=ENV)
    assert "missed, voicemail" in out
    assert "(512) 555-9876" in out


async def test_capture_writes_a_stream_that_replays_to_the_same_decision(
    tmp_path: Path,
) -> None:
    out_file = tmp_path / "office.ami"
    async with FakeAsterisk(secret=SECRET) as asterisk:
        config = config_file(tmp_path, asterisk.port)
        process = await asyncio.create_subprocess_exec(
            *TEXTBACK, "capture", "--config", str(config), "--out", str(out_file),
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **ENV},
        )  # fmt: skip
        try:
            async with asyncio.timeout(30):
                await asterisk.wait_for(lambda: asterisk.sessions == 1)
                await asterisk.play(recorded_events(trace("03_busy.ami")))
                await _until_file_holds(out_file, b"Cause-txt: User busy", count=2)
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(10):
                assert await process.wait() == 0
        finally:
            if process.returncode is None:
                process.kill()
    data = out_file.read_bytes()
    assert data.startswith(b"Asterisk Call Manager/")
    assert SECRET.encode() not in data
    assert b"Action: Login" not in data
    code, out, _ = await textback("replay", str(out_file), "--json")
    assert code == 0
    assert [json.loads(line)["reason"] for line in out.splitlines()] == ["BUSY"]


async def test_demo_runs_without_a_pbx() -> None:
    code, out, err = await textback("demo", "--gap", "0")
    assert code == 0, err
    assert "MISSED (VOICEMAIL)" in out
    assert "ANSWERED" in out
    assert "INTERNAL" in out
    assert "no text for withheld number: withheld" in out
    assert "the modem texted (512) 555-0142" in out
    assert "this is Mike at Acme Roofing" in out
    assert "opted out for good; the modem confirmed once" in out
    # The whole loop: the owner's email and text, their answer, handled, the report.
    assert "Subject: Missed call from (512) 555-0142 - replied: Hi, it's Tom" in out
    # Mike's alerts for the calls and the reply were due together: one text.
    assert "#1 (512) 555-0142 replied" in out
    assert "Hi, it's Tom - water is coming" in out
    assert "the modem texted (512) 555-0142: On my way - I can be there by 3pm. Mike" in out
    assert "thread #1 is handled" in out
    assert "recovered value" in out
    assert "$850 (1 x $850 average)" in out
    # The thread view tells the time as the owner's email does: the business's.
    replied = re.search(r"replied \(thread #1\) at \w+ \w+ \d+ (\d+:\d\d) ([AP]M)", out)
    assert replied is not None, out
    hours_minutes, half = replied.groups()
    assert re.search(rf"^ +{hours_minutes}:\d\d {half}  text in ", out, re.MULTILINE), out


async def _until_file_holds(path: Path, needle: bytes, count: int) -> None:
    """The capture process writes as it reads: wait until it has written this."""

    def holds() -> bool:
        return path.exists() and path.read_bytes().count(needle) >= count

    # Another process writes the file: there is no event to wait on, so look again.
    while not await asyncio.to_thread(holds):  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_calls_shows_untrusted_names_as_text_never_as_terminal_control(
    tmp_path: Path,
) -> None:
    from bridge.store import Store
    from tests.support.store_values import decision

    config = config_file(tmp_path, 5038)
    async with await Store.open(tmp_path / "textback.db") as store:
        await store.record_decision(decision(caller_name="\x1b[2J\x1b]0;pwned\x07[red]Evil[/red]"))
    for wide in ([], ["--wide"]):
        code, out, err = await textback("calls", "--config", str(config), *wide, env=ENV)
        assert code == 0, err
        assert "\x1b" not in out
        assert "\x07" not in out
    assert "\\x1b[2J\\x1b]0;pwned\\x07[red]Evil[/red]" in out


async def test_send_test_through_a_simulated_modem_in_another_process(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    modem = await asyncio.create_subprocess_exec(
        *TEXTBACK, "sim-modem", "--link", str(link),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert modem.stdin is not None
    assert modem.stdout is not None
    try:
        await until(link.exists, within=30)
        config = example_config(tmp_path, 5038, modem=link)
        code, out, err = await textback("send-test", "--config", str(config), "5125550142", env=ENV)
        assert code == 0, out + err
        assert "4. accepted by the network" in out
        async with asyncio.timeout(10):
            shown = (await modem.stdout.readline()).decode()
        assert shown.startswith("-> +15125550142: Test from textback for Acme Roofing")
    finally:
        modem.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            await modem.wait()


async def test_send_test_without_a_modem_says_so(tmp_path: Path) -> None:
    code, _, err = await textback(
        "send-test", "--config", str(config_file(tmp_path, 5038)), "5125550142", env=ENV
    )
    assert code == 2
    assert "no modem section" in err


async def test_threads_and_thread_commands(tmp_path: Path) -> None:
    from bridge.core.texts import ReceivedText
    from bridge.store import Store
    from tests.support.store_values import decision

    config = config_file(tmp_path, 5038)
    async with await Store.open(tmp_path / "textback.db") as store:
        await store.record_decision(decision())
        await store.store_incoming(
            ReceivedText(CALLER, "Need a roof repair quote", 1, datetime.now(UTC)), None
        )
    code, out, err = await textback("threads", "--config", str(config), "--json", env=ENV)
    assert code == 0, err
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert (row["thread"], row["caller"], row["status"], row["last_reply"]) == (
        1, CALLER, "replied", "Need a roof repair quote",
    )  # fmt: skip
    code, out, _ = await textback("thread", "--config", str(config), "1", env=ENV)
    assert code == 0
    assert "missed call" in out
    assert "Need a roof repair quote" in out
    code, _, err = await textback("thread", "--config", str(config), "9", env=ENV)
    assert code == 2
    assert "there is no thread #9" in err
    # Office staff close a thread from the desk, as an owner's `CALLED 1` would.
    code, out, err = await textback(
        "handled", "--config", str(config), "1", "--by", "mike", "--called", env=ENV
    )
    assert (code, out.strip()) == (0, "#1 (512) 555-9876 marked handled by mike"), err
    code, out, _ = await textback("thread", "--config", str(config), "1", "--json", env=ENV)
    shown = json.loads(out)
    assert shown["status"] == "handled"
    assert any(e["what"] == "owner mike: called" for e in shown["events"])
    code, _, err = await textback("handled", "--config", str(config), "1", "--by", "bob", env=ENV)
    assert code == 2
    assert "no owner 'bob'" in err


async def test_a_secret_with_a_windows_line_end_is_named_by_check_config_doctor_and_run(
    tmp_path: Path,
) -> None:
    config = config_file(tmp_path, 5038)
    crlf = {**ENV, "AMI_SECRET": SECRET + "\r"}
    where = f"{config}:28: ami.secret: ends in a carriage return (\\r): a secrets.env saved"
    for command in (["check-config", str(config)], ["run", "--config", str(config)]):
        code, _, err = await textback(*command, env=crlf)
        assert (code, "Traceback" in err) == (2, False), err
        assert err.startswith(where)
        assert SECRET not in err
    code, out, _ = await textback("doctor", "--config", str(config), env=crlf)
    assert code == 1
    assert out.startswith(f"FAIL config: {where}")


EXAMPLE_VALUES = [
    "13: business.name: 'Acme Roofing' is the example's name",
    "49: lines[0].did: +15125550100 is a fictional number (555-0100 to 555-0199)",
    "59: owners[0].email: mike@acme.example is in a reserved example domain (.example)",
    "60: owners[0].mobile: +15125550199 is a fictional number (555-0100 to 555-0199)",
]
SMTP_EXAMPLE_VALUES = [
    "142: smtp.host: smtp.acme.example is in a reserved example domain (.example)",
    "145: smtp.username: textback@acme.example is in a reserved example domain (.example)",
    "147: smtp.sender: textback <textback@acme.example> is in a reserved example domain (.example)",
]
LAB_HINT = "replace them, or set `lab: true` at the top level for a test lab"


async def test_check_config_warns_of_each_example_value_left_unchanged() -> None:
    code, _, err = await textback("check-config", str(EXAMPLE_CONFIG), env=ENV)
    assert code == 0, err
    lines = err.splitlines()
    assert lines[:-1] == [f"{EXAMPLE_CONFIG}:{v}" for v in EXAMPLE_VALUES + SMTP_EXAMPLE_VALUES]
    assert lines[-1] == (
        f"textback: warning: `textback run` refuses these: 7 example value(s) left in"
        f" {EXAMPLE_CONFIG}: {LAB_HINT}"
    )


async def test_run_refuses_example_values_unless_the_config_says_lab(tmp_path: Path) -> None:
    config = config_file(tmp_path, 5038, **{"\nlab: true\n": "\n# lab: true\n"})
    code, out, err = await textback("run", "--config", str(config), "--dry-run", env=ENV)
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"{config}:{v}" for v in EXAMPLE_VALUES] + [
        f"textback: 4 example value(s) left in {config}: {LAB_HINT}"
    ]
    # A lab says so, and check-config shows it.
    config.write_text("lab: true\n" + config.read_text())
    code, out, err = await textback("check-config", str(config), env=ENV)
    assert (code, err) == (0, "")
    assert "│ lab               │ yes (lab: true): 4 fictional example value(s) allowed" in out


@pytest.mark.parametrize("name", ["/dev/zero", "README.md", "empty.ami"])
async def test_replay_of_something_that_is_not_ami_says_so_in_one_line(
    tmp_path: Path, name: str
) -> None:
    readme = ROOT / "README.md"
    (tmp_path / "README.md").write_bytes(readme.read_bytes())  # paragraphs, none of them AMI
    (tmp_path / "empty.ami").write_bytes(b"")  # a capture that never connected
    path = name if name.startswith("/") else str(tmp_path / name)
    # /dev/zero never ends: the command completing at all shows the read is bounded.
    code, out, err = await textback("replay", path)
    assert (code, out, err) == (2, "", f"textback: {path}: this is not an AMI recording\n")


async def test_replay_stops_where_a_recording_turns_into_something_else(tmp_path: Path) -> None:
    spoilt = tmp_path / "spoilt.ami"
    spoilt.write_bytes(trace("02_noanswer.ami") + bytes(3 * 1024 * 1024))
    code, out, err = await textback("replay", str(spoilt), "--json")
    assert code == 2
    assert [json.loads(line)["reason"] for line in out.splitlines()] == ["NOANSWER"]
    assert err.splitlines()[-1] == (
        f"textback: {spoilt}: no AMI message after byte 65536: stopped reading"
    )
    assert "Traceback" not in err


async def test_replay_lists_the_first_skipped_messages_and_counts_the_rest(tmp_path: Path) -> None:
    banner, rest = trace("02_noanswer.ami").split(b"\r\n", 1)
    noisy = tmp_path / "noisy.ami"
    noisy.write_bytes(banner + b"\r\n" + b"not a header line\r\n\r\n" * 50 + rest)
    code, out, err = await textback("replay", str(noisy))
    assert code == 0, err
    lines = err.splitlines()
    assert (
        lines.count("skipped a malformed message: not a 'Key: Value' line: 'not a header line'")
        == 20
    )
    assert "... and 30 more skipped" in lines
    assert "missed (NOANSWER)" in out


@pytest.mark.skipif(Path("/etc/textback/textback.yaml").exists(), reason="a real install here")
async def test_commands_read_textback_config_else_the_etc_file(tmp_path: Path) -> None:
    from bridge.store import Store

    for command in (["calls"], ["check-config"], ["doctor"]):
        code, out, err = await textback(*command, env={**ENV, "TEXTBACK_CONFIG": ""})
        assert (code, out, "Traceback" in err) == (2, "", False)
        assert err == (
            "textback: no config at /etc/textback/textback.yaml: pass --config FILE or set"
            " TEXTBACK_CONFIG\n"
        )
    config = config_file(tmp_path, 5038)
    async with await Store.open(tmp_path / "textback.db"):
        pass
    with_env = {**ENV, "TEXTBACK_CONFIG": str(config)}
    code, out, err = await textback("calls", "--json", env=with_env)
    assert (code, out) == (0, ""), err
    code, out, err = await textback("check-config", env=with_env)
    assert code == 0, err
    assert f"{config}: OK" in out
    code, _, err = await textback("threads", env={**ENV, "TEXTBACK_CONFIG": "/nowhere.yaml"})
    assert (code, err) == (
        2,
        "textback: TEXTBACK_CONFIG=/nowhere.yaml: no such file: fix it, or pass --config FILE\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        ["calls", "--limit", str(2**64)],
        ["threads", "--limit", "0"],
        ["thread", str(2**64)],
        ["handled", str(2**63), "--by", "mike"],
    ],
)
async def test_numbers_out_of_range_are_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    from bridge.store import Store

    config = config_file(tmp_path, 5038)
    async with await Store.open(tmp_path / "textback.db"):
        pass
    code, out, err = await textback(*args, "--config", str(config), env=ENV)
    assert (code, out, "Traceback" in err) == (2, "", False)
    assert err.splitlines()[-1].startswith("Error: Invalid value for ")
    assert "is not in the range 1<=x<=" in err


def _unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_capture_that_never_logged_in_fails_and_says_why(tmp_path: Path) -> None:
    out_file = tmp_path / "office.ami"
    port = _unused_port()
    config = config_file(tmp_path, port)
    args = ("capture", "--config", str(config), "--out", str(out_file), "--seconds", "0.5")
    code, _, err = await textback(*args, env=ENV)
    assert (code, "Traceback" in err) == (1, False)
    assert err.splitlines()[-2:] == [
        f"wrote 0 bytes to {out_file}",
        f"textback: never logged in to AMI at 127.0.0.1:{port} (connection refused):"
        " `textback doctor` says what to fix",
    ]
    assert out_file.read_bytes() == b""
    # Asterisk answers but refuses the login (twice, so the first refusal was seen): Ctrl-C.
    async with FakeAsterisk(secret="another-secret") as asterisk:
        config = config_file(tmp_path, asterisk.port)
        process = await asyncio.create_subprocess_exec(
            *TEXTBACK, *args[:-2], stderr=asyncio.subprocess.PIPE, env={**os.environ, **ENV}
        )
        try:
            async with asyncio.timeout(30):
                await asterisk.wait_for(
                    lambda: [a.get("Action") for a in asterisk.actions].count("Login") >= 2
                )
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(10):
                _, raw = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
    err = raw.decode()
    assert (process.returncode, "Traceback" in err) == (1, False)
    assert err.splitlines()[-1].startswith(
        f"textback: never logged in to AMI at 127.0.0.1:{asterisk.port} (login as 'textback'"
        " refused: "
    )
    assert out_file.read_bytes().startswith(b"Asterisk Call Manager/")


async def test_sim_modem_never_replaces_what_is_not_its_own_link(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    elsewhere = tmp_path / "ttyUSB0"
    elsewhere.symlink_to(precious)
    cases = [
        (precious, f"{precious} exists and is not a modem link: not replaced"),
        (elsewhere, f"{elsewhere} links to {precious}, not to a pty: not replaced"),
        (
            tmp_path / "by-id" / "modem",
            f"the folder {tmp_path / 'by-id'} does not exist: create it first",
        ),
    ]
    for path, message in cases:
        code, out, err = await textback("sim-modem", "--link", str(path))
        assert (code, out, err) == (2, "", f"textback: --link {path}: {message}\n")
    assert precious.read_text() == "keep me"
    assert elsewhere.readlink() == precious


async def test_sim_modem_serves_with_stdin_at_dev_null(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    link.symlink_to("/dev/pts/4242")  # left by an earlier run: its own kind, replaced
    modem = await asyncio.create_subprocess_exec(
        *TEXTBACK, "sim-modem", "--link", str(link),
        stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert modem.stderr is not None
    try:
        async with asyncio.timeout(30):
            started = (await modem.stderr.readline()).decode()
        assert started == f"simulated modem on {link}; Ctrl-C stops\n"
        assert link.readlink() != Path("/dev/pts/4242")
    finally:
        modem.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            rest = (await modem.stderr.read()).decode()
            assert await modem.wait() == 0
    assert "Traceback" not in rest
    assert not link.is_symlink()


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("5125550100", "(512) 555-0100 is the business's own line (Main line): use a mobile"),
        (
            "+1 (512) 555-0100",
            "(512) 555-0100 is the business's own line (Main line): use a mobile",
        ),
        ("5551234567", "'5551234567' is not a number textback texts (not-a-textable-number)"),
        ("911", "'911' is not a phone number"),
    ],
)
async def test_send_test_refuses_the_business_line_and_numbers_it_would_never_text(
    tmp_path: Path, number: str, message: str
) -> None:
    config = example_config(tmp_path, 5038, modem=tmp_path / "no-modem-here")
    code, out, err = await textback(
        "send-test", "--config", str(config), number, "--wait", "1", env=ENV
    )
    assert (code, out, err) == (2, "", f"textback: {message}\n")


async def test_calls_fit_80_columns_and_wide_shows_everything(tmp_path: Path) -> None:
    from bridge.core.calls import Outcome, Reason
    from bridge.store import Store
    from tests.support.store_values import decision

    config = config_file(tmp_path, 5038)
    long_name = "ACME PLUMBING SUPPLY COMPANY OF CENTRAL TEXAS"
    async with await Store.open(tmp_path / "textback.db") as store:
        await store.record_decision(decision("1.1"), dry_run=True, text_skip="dry-run")
        await store.record_decision(
            decision("1.2", reason=Reason.CHANUNAVAIL), text_skip="not-a-textable-number"
        )
        await store.record_decision(
            decision(
                "1.3",
                reason=Reason.QUEUE_ABANDON,
                caller=None,
                caller_raw="anonymous",
                caller_name="",
                withheld=True,
            ),
            text_skip="withheld",
        )
        await store.record_decision(
            decision("1.4", outcome=Outcome.ANSWERED, reason=None, caller_name=long_name)
        )
    narrow = {"COLUMNS": "80", **ENV}
    code, out, err = await textback("calls", "--config", str(config), env=narrow)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line.split("  ", 1)[1].split() for line in lines[2:]]  # after the time
    assert rows == [
        ["(512)", "555-9876", "ACME", "PLUMB…", "answered"],  # only the long name gives way
        ["withheld", "missed,", "left", "queue", "withheld"],
        ["(512)", "555-9876", "Jane", "Caller", "missed,", "unreachable", "not", "textable"],
        ["(512)", "555-9876", "Jane", "Caller", "missed,", "no", "answer", "dry", "run"],
    ]
    wide = {"COLUMNS": "200", **ENV}
    code, out, err = await textback("calls", "--config", str(config), "--wide", env=wide)
    assert code == 0, err
    assert long_name in out
    assert "not sent: not-a-textable-number" in out
    assert "CHANUNAVAIL" in out
    assert "…" not in out
