"""FreePBX's call records: MysqlCdrSource against a real MariaDB server.

The table is FreePBX's asteriskcdrdb.cdr, filled with the records the AMI
double writes for real recordings (bridge/sim/cdr.py, as cdr_adaptive_odbc
stores them: calldate in the PBX's local time, no answer or end column).
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from bridge.core.calls import Outcome, Reason
from bridge.detection.records.cdr import CdrRecord
from bridge.detection.records.rules import decide_cdrs
from bridge.detection.records.sources import CdrUnavailable, MysqlCdrSource
from bridge.detection.rules import DetectionRules
from bridge.sim import callgen
from bridge.sim.cdr import FREEPBX_CDR_TABLE, _callerid_merge, insert_freepbx, records_from_ami
from tests.support.expected import DID, REAL_TRACES, trace
from tests.support.mariadb_server import MariaDb

pytestmark = pytest.mark.slow  # the first test starts a MariaDB server

CHICAGO = ZoneInfo("America/Chicago")
PASSWORD = "pw-for-the-test-db-only"
_databases = itertools.count()


@dataclass
class FreePbx:
    db: MariaDb
    database: str

    def source(self, **overrides: object) -> MysqlCdrSource:
        settings: dict[str, object] = {
            "host": self.db.host,
            "port": self.db.port,
            "user": "textback",
            "password": SecretStr(PASSWORD),
            "database": self.database,
            "zone": CHICAGO,
            "connect_timeout": 5,
            "query_timeout": 10,
        }
        settings.update(overrides)
        return MysqlCdrSource(**settings)  # type: ignore[arg-type]

    def insert(self, records: list[CdrRecord]) -> None:
        with self.db.root(self.database) as connection:
            insert_freepbx(connection, records, CHICAGO)


@pytest.fixture
def freepbx(mariadb: MariaDb) -> Iterator[FreePbx]:
    """A fresh asteriskcdrdb-like database; textback may only SELECT its cdr table."""
    name = f"asteriskcdrdb_{next(_databases)}"
    with mariadb.root() as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"USE `{name}`")
        cursor.execute(FREEPBX_CDR_TABLE.format(table="cdr"))
        for user in ("textback", "stranger", "reader"):
            cursor.execute(
                f"CREATE USER IF NOT EXISTS '{user}'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,)
            )
        cursor.execute(f"GRANT SELECT ON `{name}`.`cdr` TO 'textback'@'127.0.0.1'")
        cursor.execute(f"GRANT SELECT ON `{name}`.* TO 'reader'@'127.0.0.1'")
    yield FreePbx(mariadb, name)
    with mariadb.root() as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{name}`")


def the_records(*names: str) -> list[CdrRecord]:
    records = [as_freepbx_keeps(r) for name in names for r in records_from_ami(trace(name))]
    return sorted(records, key=CdrRecord.order)


def as_freepbx_keeps(record: CdrRecord) -> CdrRecord:
    """FreePBX's table has no answer column: it is end - billsec, when known."""
    answered = record.disposition == "ANSWERED" or record.billsec > 0
    return replace(
        record, answer=record.end - timedelta(seconds=record.billsec) if answered else None
    )


async def test_the_records_come_back_as_the_double_wrote_them(
    freepbx: FreePbx, rules: DetectionRules
) -> None:
    records = the_records(*sorted(REAL_TRACES))
    freepbx.insert(records)
    got = await freepbx.source().since(records[0].end)
    assert got == records
    assert decide_cdrs(got, rules) == decide_cdrs(records, rules)
    reasons = [(d.outcome, d.reason) for d in decide_cdrs(got, rules)]
    assert (Outcome.MISSED, Reason.QUEUE_ABANDON) in reasons
    assert (Outcome.MISSED, Reason.CHANUNAVAIL) in reasons


async def test_only_calls_that_ended_in_the_window(freepbx: FreePbx) -> None:
    early = the_records("01_answered.ami")
    late = the_records("03_busy.ami")
    freepbx.insert(early + late)
    source = freepbx.source()
    assert await source.since(early[-1].end + timedelta(seconds=1)) == late
    assert await source.since(early[0].end, until=late[0].end) == early
    assert await source.since(late[-1].end + timedelta(seconds=1)) == []


async def test_untrusted_caller_ids_come_back_verbatim(freepbx: FreePbx) -> None:
    (base,) = records_from_ami(callgen.render("busy"))
    hostile = 'Robert\'); DROP TABLE cdr;-- "Bobby" \u00dcml\u00e4ut \U0001f600'
    clid = _callerid_merge(hostile, "+15125559876")  # as Asterisk escapes the quotes
    record = replace(base, clid=clid, lastdata="a,b;c'd")
    freepbx.insert([record])
    (got,) = await freepbx.source().since(base.end - timedelta(minutes=1))
    assert got == record
    assert got.caller_name == hostile


async def test_freepbx_did_column_names_the_line(freepbx: FreePbx, rules: DetectionRules) -> None:
    (base,) = records_from_ami(callgen.render("busy"))
    freepbx.insert([replace(base, dst="201", dcontext="ext-local", did="5125550100")])
    (decision,) = decide_cdrs(await freepbx.source().since(base.start), rules)
    assert (decision.outcome, decision.line, decision.line_name) == (
        Outcome.MISSED, DID, "Main line",
    )  # fmt: skip


async def test_check_says_it_can_read(freepbx: FreePbx) -> None:
    source = freepbx.source()
    assert (await source.check()).endswith("readable, no call recorded yet")
    freepbx.insert(the_records("02_noanswer.ami"))
    assert "readable, last record ended 2026-11-25" in await source.check()


async def test_a_refused_login_says_so_and_never_shows_the_password(
    freepbx: FreePbx, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "not-the-password"
    source = freepbx.source(password=SecretStr(wrong))
    with pytest.raises(CdrUnavailable) as caught:
        await source.since(freepbx_time())
    message = str(caught.value)
    assert message.startswith(f"FreePBX's call records {freepbx.database}.cdr as textback at")
    assert "login refused" in message
    assert wrong not in message + caplog.text + repr(source)


async def test_no_grant_says_which_grant(freepbx: FreePbx) -> None:
    source = freepbx.source(user="stranger")
    with pytest.raises(CdrUnavailable, match=r"stranger may not read .*GRANT SELECT ON"):
        await source.check()


async def test_a_missing_table_says_where_freepbx_keeps_them(freepbx: FreePbx) -> None:
    with pytest.raises(CdrUnavailable, match=r"no table .*asteriskcdrdb\.cdr"):
        await freepbx.source(user="reader", table="cdr_elsewhere").check()
    # Granted one table only, MariaDB does not say whether another exists.
    with pytest.raises(CdrUnavailable, match=r"may not read .*cdr_elsewhere \(or there is none\)"):
        await freepbx.source(table="cdr_elsewhere").check()


async def test_a_server_that_is_not_there(freepbx: FreePbx) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(CdrUnavailable, match="cannot reach the server"):
        await freepbx.source(port=closed).check()


async def test_a_server_that_never_answers_times_out() -> None:
    """Accepts the connection, never sends its greeting (a hung MariaDB)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        source = MysqlCdrSource(
            host="127.0.0.1",
            port=silent.getsockname()[1],
            user="textback",
            password=SecretStr(PASSWORD),
            zone=CHICAGO,
            connect_timeout=0.2,
            query_timeout=0.2,
        )
        with pytest.raises(CdrUnavailable, match="cannot reach the server"):
            await source.check()


def test_names_that_are_not_identifiers_are_refused() -> None:
    with pytest.raises(ValueError, match="not a plain table or database name"):
        MysqlCdrSource(user="u", password=SecretStr("p"), zone=CHICAGO, table="cdr`; --")


def freepbx_time() -> datetime:
    return the_records("03_busy.ami")[0].start
