"""Reading call records: Master.csv as cdr_csv writes it, and the cdr config section.

The CSV rows here are the AMI double's (bridge/sim/cdr.py writes them as
cdr/cdr_csv.c does) plus hand-written ones; FreePBX's MariaDB table is in
tests/adapters/test_cdr_mysql.py.
"""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import Config, ConfigError, parse_config
from bridge.core.calls import Outcome, Reason
from bridge.detection.records import csvfile
from bridge.detection.records.cdr import CdrRecord, csv_columns
from bridge.detection.records.rules import decide_cdrs
from bridge.detection.records.sources import (
    CdrUnavailable,
    CsvCdrSource,
    MysqlCdrSource,
    calls_ending_between,
    catch_up_start,
    source_from_config,
)
from bridge.detection.rules import DetectionRules
from bridge.sim import callgen
from bridge.sim.ami_server import FakeAsterisk, recorded_events
from bridge.sim.cdr import (
    RECOMMENDED,
    CdrSettings,
    append_csv,
    cdr_csv_line,
    csv_row,
    records_from_ami,
)
from tests.support.example_config import EXAMPLE_CONFIG
from tests.support.expected import trace

COLUMNS = csv_columns(loguniqueid=True, loguserfield=True)
T0 = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
# A row as cdr_csv writes it, typed from cdr/cdr_csv.c (not from our writer):
# strings quoted with "" doubled, numbers and an unset answer time bare.
HAND_WRITTEN = (
    b'"","+15125559876","+15125550100","from-trunk","""Jane Caller"" <+15125559876>",'
    b'"PJSIP/trunk-00000008","PJSIP/201-00000009","Dial","PJSIP/201,20",'
    b'"2026-11-25 15:01:09",,"2026-11-25 15:01:17",8,0,"NO ANSWER","DOCUMENTATION",'
    b'"1795617269.8","","","1795617269.8",12\n'
)


def call_records(name: str, start: datetime, pbx_epoch: int | None = None) -> list[CdrRecord]:
    """The records of one callgen call, moved to start at ``start``."""
    pbx = callgen.Pbx(epoch=pbx_epoch or int(start.timestamp()))
    records = records_from_ami(callgen.render(name, pbx=pbx))
    shift = start - min(r.start for r in records)
    return [
        replace(r, start=r.start + shift, end=r.end + shift, answer=r.answer and r.answer + shift)
        for r in records
    ]


def write_master(path: Path, records: list[CdrRecord], cdr: CdrSettings = RECOMMENDED) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    append_csv(path, records, cdr)


class CountingFile(io.RawIOBase):
    """A real file that counts the bytes read from it."""

    def __init__(self, path: Path, counter: list[int]):
        self._file = path.open("rb")
        self._counter = counter

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def read(self, size: int = -1) -> bytes:
        data = self._file.read(size)
        self._counter[0] += len(data)
        return data

    def close(self) -> None:
        self._file.close()
        super().close()


# --- the rows ----------------------------------------------------------------------------------


def test_a_row_as_cdr_csv_writes_it(rules: DetectionRules) -> None:
    parsed = csvfile.parse_region(HAND_WRITTEN, 0, COLUMNS, UTC)
    ((offset, record),) = parsed.records
    assert offset == 0
    assert (record.caller_name, record.src, record.answer) == ("Jane Caller", "+15125559876", None)
    assert (record.start, record.duration, record.sequence) == (T0 + timedelta(seconds=69), 8, 12)
    (decision,) = decide_cdrs([record], rules)
    assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.NOANSWER)


def test_our_writer_writes_that_very_row() -> None:
    (record,) = (r for _, r in csvfile.parse_region(HAND_WRITTEN, 0, COLUMNS, UTC).records)
    assert csv_row(record) == HAND_WRITTEN


_field = st.binary(max_size=40) | st.integers(min_value=0, max_value=10**9) | st.none()


@given(st.lists(_field, min_size=2, max_size=25))
def test_any_field_contents_round_trip_as_cdr_csv_writes_them(
    values: list[bytes | int | None],
) -> None:
    """Quotes, commas, newlines, bytes that are not UTF-8: one row each."""
    line = cdr_csv_line(values)
    if line is None:
        return  # longer than cdr_csv's buffer: Asterisk drops it too
    rows, used = csvfile.split_rows(line)
    assert used == len(line)
    ((_, raw),) = rows
    fields = next(__import__("csv").reader([raw.decode("utf-8", errors="replace")], strict=True))
    expected = [
        "" if v is None else str(v) if isinstance(v, int) else v.decode("utf-8", errors="replace")
        for v in values
    ]
    assert fields == expected


@given(st.binary(max_size=3000))
@settings(max_examples=300)
def test_any_bytes_never_raise(data: bytes) -> None:
    start = csvfile.find_row_start(data, COLUMNS, UTC)
    parsed = csvfile.parse_region(data[start:], start, COLUMNS, UTC)
    assert all(0 <= bad.offset <= len(data) for bad in parsed.bad)


_hostile = st.text(alphabet=st.sampled_from('ab,"\n\r\\ <>+1'), max_size=30)


@given(st.lists(_hostile, min_size=4, max_size=12), st.integers(min_value=0), st.data())
@settings(max_examples=200, deadline=None)
def test_reading_from_any_cut_finds_only_real_rows(
    names: list[str], cut_at: int, data: st.DataObject
) -> None:
    """Caller names full of quotes, commas and newlines, and a read that starts
    anywhere in the file: never a forged record, never a real one garbled."""
    base = call_records("no_answer", T0)[0]
    records = [
        replace(base, clid=f'"{n}" <+15125559876>', lastdata=n, sequence=i)
        for i, n in enumerate(names)
    ]
    blob = b"".join(row for r in records if (row := csv_row(r)) is not None)
    cut = cut_at % (len(blob) + 1)
    start = csvfile.find_row_start(blob[cut:], COLUMNS, UTC) if cut else 0
    parsed = csvfile.parse_region(blob[cut + start :], cut + start, COLUMNS, UTC)
    got = [r for _, r in parsed.records]
    assert got == records[len(records) - len(got) :]  # a tail of the real rows, intact


def test_a_row_being_written_is_left_for_next_time() -> None:
    rows, used = csvfile.split_rows(HAND_WRITTEN + HAND_WRITTEN[:40])
    assert len(rows) == 1
    assert used == len(HAND_WRITTEN)


# --- the CSV source ------------------------------------------------------------------------


async def test_the_source_returns_calls_that_ended_since_a_moment(
    tmp_path: Path, rules: DetectionRules
) -> None:
    master = tmp_path / "cdr-csv" / "Master.csv"
    early = call_records("answered", T0)
    late = call_records("no_answer", T0 + timedelta(minutes=30), pbx_epoch=1_795_700_000)
    write_master(master, early + late)
    source = CsvCdrSource(master, UTC)
    got = await source.since(T0 + timedelta(minutes=10))
    assert got == late
    (decision,) = decide_cdrs(got, rules)
    assert (decision.outcome, decision.reason) == (Outcome.MISSED, Reason.NOANSWER)
    assert await source.since(T0, until=T0 + timedelta(minutes=10)) == early
    assert await source.since(T0 + timedelta(hours=2)) == []


async def test_a_call_that_ends_after_the_moment_comes_whole(
    tmp_path: Path, rules: DetectionRules
) -> None:
    """201 answered before the moment, the transfer to 202 rang out after it:
    the earlier record is what says a person answered."""
    answered, rang_out = call_records("transfer_after_answer", T0)
    answered = replace(answered, end=T0 + timedelta(seconds=10))
    rang_out = replace(rang_out, end=T0 + timedelta(seconds=30))
    master = tmp_path / "Master.csv"
    write_master(master, [answered, rang_out])
    got = await CsvCdrSource(master, UTC).since(T0 + timedelta(seconds=20))
    assert got == [answered, rang_out]
    (decision,) = decide_cdrs(got, rules)
    assert decision.outcome is Outcome.ANSWERED


async def test_reading_since_a_moment_touches_only_the_end_of_a_file_of_years(
    tmp_path: Path,
) -> None:
    master = tmp_path / "Master.csv"
    old = csv_row(call_records("answered", T0 - timedelta(days=365))[0])
    assert old is not None
    recent = call_records("no_answer", T0, pbx_epoch=1_795_700_000)
    with master.open("wb") as file:
        file.write(old * 100_000)  # a year of calls, ~30 MB
    write_master(master, recent)
    counter = [0]
    source = CsvCdrSource(
        master, UTC, lookback=timedelta(hours=1), open_file=lambda p: CountingFile(p, counter)
    )
    assert await source.since(T0 - timedelta(minutes=5)) == recent
    size = master.stat().st_size
    assert size > 25_000_000
    assert counter[0] <= 4 * 64 * 1024  # the last blocks, whatever the file's size


async def test_rows_split_by_every_block_boundary_read_the_same(tmp_path: Path) -> None:
    names = ['Jane "JJ" Caller', "Smith, Bob", "two\nlines", 'a"\n"b', "M\u00fcller"]
    base = call_records("no_answer", T0)[0]
    records = [
        replace(base, clid=f'"{n}" <+1512555987{i}>', src=f"+1512555987{i}", sequence=i)
        for i, n in enumerate(names)
    ]
    master = tmp_path / "Master.csv"
    write_master(master, records)
    for block in (16, 50, 97, 4096):
        source = CsvCdrSource(master, UTC, block_size=block)
        assert await source.since(T0 - timedelta(days=1)) == records, block


async def test_a_row_that_is_not_a_record_is_logged_once_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    master = tmp_path / "Master.csv"
    first = call_records("busy", T0)
    second = call_records("no_answer", T0 + timedelta(minutes=1), pbx_epoch=1_795_700_000)
    write_master(master, first)
    with master.open("ab") as file:
        file.write(b'"not","a","record"\n')
    write_master(master, second)
    source = CsvCdrSource(master, UTC)
    with caplog.at_level(logging.WARNING, logger="bridge.detection.records.sources"):
        assert await source.since(T0 - timedelta(hours=1)) == first + second
        assert await source.since(T0 - timedelta(hours=1)) == first + second
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "not a call record" in warnings[0]
    assert "3 fields, expected 21" in warnings[0]


async def test_times_in_local_time_unless_usegmtime(tmp_path: Path) -> None:
    chicago = ZoneInfo("America/Chicago")
    local = CdrSettings(usegmtime=False, zone=chicago)
    records = call_records("no_answer", T0)
    master = tmp_path / "Master.csv"
    write_master(master, records, local)
    assert b"2026-11-25 09:00:00" in master.read_bytes()  # 15:00 UTC is 09:00 in Chicago
    assert await CsvCdrSource(master, chicago).since(T0 - timedelta(minutes=1)) == records


async def test_the_fake_asterisk_appends_master_csv_as_it_plays(
    tmp_path: Path, rules: DetectionRules
) -> None:
    master = tmp_path / "Master.csv"
    before = datetime.now(UTC).replace(microsecond=0)
    async with FakeAsterisk(cdr_csv=master) as pbx:
        await pbx.play(recorded_events(trace("02_noanswer.ami")))
        await pbx.play(recorded_events(trace("06_ringgroup_answered.ami")))
    got = await CsvCdrSource(master, UTC).since(before)
    assert got == pbx.cdrs
    assert len(got) == 2 + 3  # 02: the dial and Hangup(); 06: one per phone
    decisions = decide_cdrs(got, rules)
    assert [(d.outcome, d.reason) for d in decisions] == [
        (Outcome.MISSED, Reason.NOANSWER), (Outcome.ANSWERED, None),
    ]  # fmt: skip


# --- check(): what doctor prints ---------------------------------------------------------------


async def test_check_says_the_file_is_readable(tmp_path: Path) -> None:
    master = tmp_path / "Master.csv"
    write_master(master, call_records("busy", T0))
    line = await CsvCdrSource(master, UTC).check()
    assert line.startswith(f"Asterisk's Master.csv at {master}: readable")


async def test_check_without_newcdrcolumns_says_what_to_set(tmp_path: Path) -> None:
    master = tmp_path / "Master.csv"
    fields = csvfile.row_fields(HAND_WRITTEN.rstrip())[:-3]  # no peeraccount, linkedid, sequence
    master.write_bytes(cdr_csv_line([f.encode() for f in fields]) or b"")
    source = CsvCdrSource(master, UTC)
    with pytest.raises(CdrUnavailable, match="newcdrcolumns=yes"):
        await source.check()


async def test_check_with_other_optional_columns_says_what_to_match(tmp_path: Path) -> None:
    master = tmp_path / "Master.csv"
    write_master(master, call_records("busy", T0), CdrSettings(loguserfield=False))
    with pytest.raises(CdrUnavailable, match="loguniqueid and loguserfield"):
        await CsvCdrSource(master, UTC).check()
    ok = CsvCdrSource(master, UTC, loguserfield=False)
    assert "readable" in await ok.check()


async def test_check_catches_gmt_times_read_as_local(tmp_path: Path) -> None:
    master = tmp_path / "Master.csv"
    now = datetime.now(UTC)
    write_master(master, call_records("busy", now - timedelta(minutes=1)))  # usegmtime=yes
    with pytest.raises(CdrUnavailable, match="usegmtime"):
        await CsvCdrSource(master, ZoneInfo("America/Los_Angeles")).check()  # read as UTC-8


async def test_a_missing_directory_or_unreadable_file_says_what_to_fix(tmp_path: Path) -> None:
    with pytest.raises(CdrUnavailable, match=r"no such directory: is cdr_csv loaded"):
        await CsvCdrSource(tmp_path / "nowhere" / "Master.csv", UTC).check()

    def refused(path: Path) -> BinaryIO:
        raise PermissionError(13, "Permission denied", str(path))

    source = CsvCdrSource(tmp_path / "Master.csv", UTC, open_file=refused)
    with pytest.raises(CdrUnavailable, match="asterisk group"):
        await source.since(T0)


async def test_no_file_yet_is_no_call_yet(tmp_path: Path) -> None:
    source = CsvCdrSource(tmp_path / "Master.csv", UTC)
    assert (await source.check()).endswith("no call recorded yet")
    assert await source.since(T0) == []


# --- pure helpers -----------------------------------------------------------------------------


def test_calls_are_kept_whole_and_by_their_last_end() -> None:
    a1, a2 = call_records("transfer_after_answer", T0)
    a2 = replace(a2, end=a1.end + timedelta(minutes=5))
    assert calls_ending_between([a1, a2], a1.end + timedelta(seconds=1), None) == [a1, a2]
    assert calls_ending_between([a1, a2], a2.end + timedelta(seconds=1), None) == []
    assert calls_ending_between([a1, a2], T0, until=a2.end) == []


def test_catch_up_never_goes_back_further_than_allowed() -> None:
    day = timedelta(hours=24)
    assert catch_up_start(None, T0, day) is None  # a fresh install: no history is news
    assert catch_up_start(T0 - timedelta(hours=1), T0, day) == T0 - timedelta(hours=1)
    assert catch_up_start(T0 - timedelta(days=9), T0, day) == T0 - day


# --- config -------------------------------------------------------------------------------------

CONFIG = """\
business: {name: Acme Roofing, timezone: America/Chicago}
ami: {username: textback, secret: s}
lines: [{did: "+15125550100", name: Main line}]
"""
ENV = {"CDR_PASSWORD": "cdr-secret-from-env"}


def config_with(section: str) -> Config:
    return parse_config(CONFIG + section, "textback.yaml", ENV)


def test_csv_in_one_line() -> None:
    config = config_with("cdr: {csv: /var/log/asterisk/cdr-csv/Master.csv}\n")
    assert config.cdr is not None
    assert config.cdr.csv is not None
    source = source_from_config(config)
    assert isinstance(source, CsvCdrSource)
    assert source.describe() == "Asterisk's Master.csv at /var/log/asterisk/cdr-csv/Master.csv"
    assert source.zone is UTC  # the sample cdr.conf says usegmtime=yes
    assert source_from_config(config_with("")) is None


def test_csv_in_local_time_is_read_in_the_pbx_zone() -> None:
    config = config_with("cdr:\n  csv: {path: /tmp/Master.csv, usegmtime: false}\n")
    source = source_from_config(config)
    assert isinstance(source, CsvCdrSource)
    assert source.zone == ZoneInfo("America/Chicago")  # cdr.timezone defaults to the business's
    config = config_with(
        "cdr:\n  csv: {path: /tmp/Master.csv, usegmtime: false}\n  timezone: America/New_York\n"
    )
    assert getattr(source_from_config(config), "zone", None) == ZoneInfo("America/New_York")


def test_mysql_password_from_the_environment_is_never_shown() -> None:
    config = config_with(
        "cdr:\n  mysql: {host: 192.0.2.10, user: textback, password: '${CDR_PASSWORD}'}\n"
    )
    source = source_from_config(config)
    assert isinstance(source, MysqlCdrSource)
    assert "cdr-secret-from-env" not in repr(config) + repr(source) + source.describe()
    assert source.describe() == (
        "FreePBX's call records asteriskcdrdb.cdr as textback at 192.0.2.10:3306"
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("cdr: {csv: /x, mysql: {user: u, password: p}}\n",
         "4: cdr.mysql: give csv or mysql, not both"),
        ("cdr: {max_catch_up_hours: 2}\n",
         "4: cdr: give csv (Master.csv) or mysql (FreePBX's asteriskcdrdb)"),
        ("cdr:\n  mysql: {user: u, password: p, table: 'cdr; DROP TABLE cdr'}\n",
         "5: cdr.mysql.table: string should match pattern '^[A-Za-z0-9_$]{1,64}$',"
         " got 'cdr; DROP TABLE cdr'"),
        ("cdr: {csv: /x, timezone: Mars/Olympus}\n",
         "4: cdr.timezone: expected an IANA time zone such as America/Chicago,"
         " got 'Mars/Olympus'"),
        ("cdr:\n  mysql: {user: u}\n", "5: cdr.mysql.password: required key is missing"),
    ],
)  # fmt: skip
def test_cdr_config_mistakes_are_located(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_with(section)
    assert caught.value.problems == [f"textback.yaml:{message}"]


def test_the_examples_cdr_section_loads_when_uncommented() -> None:
    text = EXAMPLE_CONFIG.read_text()
    start = text.index("# cdr:")
    end = text.index("\n\n", start)
    block = "\n".join(line[2:] for line in text[start:end].splitlines())
    config = parse_config(CONFIG + block + "\n", "textback.yaml", ENV)
    assert config.cdr is not None
    assert config.cdr.csv is not None
    assert config.cdr.csv.path == Path("/var/log/asterisk/cdr-csv/Master.csv")
    assert config.cdr.max_catch_up_hours == 24
    lines = block.splitlines()  # now the mysql source instead of the csv one
    first = next(i for i, line in enumerate(lines) if line.startswith("  # mysql:"))
    last = next(i for i, line in enumerate(lines) if line.startswith("  timezone:"))
    mysql_lines = (line.replace("  # ", "  ", 1) for line in lines[first:last])
    mysql = "\n".join([lines[0], *mysql_lines, *lines[last:]])
    config = parse_config(CONFIG + mysql + "\n", "textback.yaml", ENV)
    assert config.cdr is not None
    assert config.cdr.mysql is not None
    assert config.cdr.mysql.password.get_secret_value() == "cdr-secret-from-env"
