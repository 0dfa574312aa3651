"""Where the call records are read from: Asterisk's Master.csv (cdr_csv, the
default on a plain Asterisk) or FreePBX's ``asteriskcdrdb.cdr`` table.

Thin adapters: the blocking reads run in a worker thread, every foreign
error becomes a ``CdrUnavailable`` saying which source, what is wrong and
what to fix (``textback doctor`` prints it), and the rows become
``CdrRecord`` through the pure mappings in bridge/cdr/records.py.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import BinaryIO, Protocol
from zoneinfo import ZoneInfo

import pymysql
from pydantic import SecretStr

from bridge.config import CdrConfig, Config
from bridge.detection.records import csvfile
from bridge.detection.records.cdr import (
    MYSQL_COLUMNS,
    CdrRecord,
    CdrRowError,
    csv_columns,
    record_from_mysql,
)

log = logging.getLogger(__name__)

# The longest a call lasts: a call's records end within this of each other.
DEFAULT_LOOKBACK = timedelta(hours=12)
_BLOCK = 64 * 1024
_REPORTED_MEMORY = 1000  # bad rows remembered so each is logged once


class CdrUnavailable(Exception):
    """A source of call records cannot be read. The message names the source,
    what is wrong and what to fix, in one line."""


class CdrSource(Protocol):
    def describe(self) -> str:
        """Which source this is, for logs and doctor (never a secret)."""
        ...

    async def check(self) -> str:
        """Read the source once: a line saying it works, or CdrUnavailable."""
        ...

    async def since(self, moment: datetime, until: datetime | None = None) -> list[CdrRecord]:
        """Every record of each call that ended at or after ``moment`` (and
        before ``until``), ordered by end time. A call is all the records of
        one Linkedid, including those of its parts that ended earlier.
        Raises CdrUnavailable."""
        ...


def calls_ending_between(
    records: Iterable[CdrRecord], moment: datetime, until: datetime | None
) -> list[CdrRecord]:
    """The records of calls whose last record ends in [moment, until)."""
    calls: dict[str, list[CdrRecord]] = {}
    for record in records:
        calls.setdefault(record.call_key, []).append(record)
    kept = [
        record
        for group in calls.values()
        if (end := max(r.end for r in group)) >= moment and (until is None or end < until)
        for record in group
    ]
    return sorted(kept, key=CdrRecord.order)


def _aware(*moments: datetime | None) -> None:
    if any(m is not None and m.utcoffset() is None for m in moments):
        raise ValueError("since() takes aware datetimes")


def catch_up_start(
    last_seen: datetime | None, now: datetime, max_catch_up: timedelta
) -> datetime | None:
    """From when to read records after a start or reconnect: the last AMI
    event the bridge saw, but never more than ``max_catch_up`` ago. None on
    a fresh install (nothing seen yet): years of history are not news."""
    if last_seen is None:
        return None
    return max(last_seen, now - max_catch_up)


def source_from_config(config: Config) -> CdrSource | None:
    """The configured source, or None when the config has no ``cdr`` section."""
    cdr = config.cdr
    if cdr is None:
        return None
    zone = ZoneInfo(cdr.timezone or config.business.timezone)
    lookback = timedelta(hours=config.pbx.max_call_hours)
    return _source(cdr, zone, lookback)


def _source(cdr: CdrConfig, zone: tzinfo, lookback: timedelta) -> CdrSource:
    if cdr.csv is not None:
        return CsvCdrSource(
            cdr.csv.path,
            UTC if cdr.csv.usegmtime else zone,
            loguniqueid=cdr.csv.loguniqueid,
            loguserfield=cdr.csv.loguserfield,
            lookback=lookback,
        )
    mysql = cdr.mysql
    assert mysql is not None  # CdrConfig holds exactly one of the two
    return MysqlCdrSource(
        host=mysql.host,
        port=mysql.port,
        user=mysql.user,
        password=mysql.password,
        database=mysql.database,
        table=mysql.table,
        zone=zone,
        connect_timeout=mysql.connect_timeout,
        query_timeout=mysql.query_timeout,
        lookback=lookback,
    )


# ---------------------------------------------------------------- Master.csv


def _open_binary(path: Path) -> BinaryIO:
    return path.open("rb")


class CsvCdrSource:
    """Asterisk's Master.csv, read from its end back only as far as needed.

    cdr_csv appends each record when its channel hangs up, so a record
    appears within a call's length of its end: reading back to a record
    that ended two call-lengths before ``moment`` finds every record that
    ends after ``moment - lookback`` and nothing much older. The work is
    bounded by the rows of that window, whatever the file's size.
    """

    def __init__(
        self,
        path: Path,
        zone: tzinfo,
        *,
        loguniqueid: bool = True,
        loguserfield: bool = True,
        lookback: timedelta = DEFAULT_LOOKBACK,
        open_file: Callable[[Path], BinaryIO] = _open_binary,
        block_size: int = _BLOCK,
    ):
        self.path = Path(path)
        self.zone = zone
        self.columns = csv_columns(loguniqueid=loguniqueid, loguserfield=loguserfield)
        self.lookback = lookback
        self._open = open_file
        self._block = block_size
        self._reported: OrderedDict[int, None] = OrderedDict()
        self._last_size = 0
        self._lock = threading.Lock()  # reads may overlap in worker threads

    def describe(self) -> str:
        return f"Asterisk's Master.csv at {self.path}"

    async def check(self) -> str:
        return await asyncio.to_thread(self._check)

    async def since(self, moment: datetime, until: datetime | None = None) -> list[CdrRecord]:
        return await asyncio.to_thread(self._since, moment, until)

    # ---- blocking, in a worker thread

    def _since(self, moment: datetime, until: datetime | None) -> list[CdrRecord]:
        _aware(moment, until)
        with self._lock:
            region = self._read_back(moment - 2 * self.lookback)
            self._report(region.bad)
        return calls_ending_between((r for _, r in region.records), moment, until)

    def _check(self) -> str:
        with self._lock:
            region = self._read_back(None)
        if not region.records and region.bad:
            raise CdrUnavailable(self._layout_problem(region))
        if not region.records:
            return f"{self.describe()}: no call recorded yet"
        latest = region.records[-1][1].end
        if latest > datetime.now(UTC) + timedelta(hours=1):
            raise CdrUnavailable(
                f"{self.describe()}: the last record ends {latest:%Y-%m-%d %H:%M} UTC, in the "
                "future: set cdr.csv.usegmtime (and cdr.timezone) as cdr.conf's [csv] writes times"
            )
        return f"{self.describe()}: readable, last record ended {latest:%Y-%m-%d %H:%M} UTC"

    def _layout_problem(self, region: csvfile.ParsedRegion) -> str:
        why = region.bad[-1].why
        expected = len(self.columns)
        if why.startswith(f"{expected - 3} fields"):
            return (
                f"{self.describe()}: rows have no linkedid column: set newcdrcolumns=yes in the "
                "[csv] section of cdr.conf, then 'module reload cdr_csv.so'"
            )
        return (
            f"{self.describe()}: the last rows are not call records as expected ({why}): "
            "set cdr.csv.loguniqueid and loguserfield as cdr.conf's [csv] section does"
        )

    def _read_back(self, older_than: datetime | None) -> csvfile.ParsedRegion:
        """Rows from the end of the file back to one that ended before
        ``older_than`` (None: just the last block)."""
        try:
            with self._open(self.path) as file:
                return self._read_tail(file, older_than)
        except FileNotFoundError:
            if self.path.parent.is_dir():
                return csvfile.ParsedRegion()  # no call recorded since cdr_csv started
            raise CdrUnavailable(
                f"{self.describe()}: no such directory: is cdr_csv loaded, with a [csv] "
                "section in cdr.conf? Or set cdr.csv.path to where Asterisk writes it"
            ) from None
        except PermissionError:
            raise CdrUnavailable(
                f"{self.describe()}: not readable by this user: add it to the asterisk group "
                "(usermod -aG asterisk textback) or make the file group-readable"
            ) from None
        except OSError as exc:
            raise CdrUnavailable(f"{self.describe()}: cannot be read: {exc.strerror}") from None

    def _read_tail(self, file: BinaryIO, older_than: datetime | None) -> csvfile.ParsedRegion:
        size = file.seek(0, 2)
        if size < self._last_size:
            self._reported.clear()  # rotated: offsets start again
        self._last_size = size
        start, data = size, b""
        while True:
            step = max(self._block, len(data))  # doubling: every byte is parsed O(1) times
            begin = max(0, start - step)
            file.seek(begin)
            data = file.read(start - begin) + data
            start = begin
            skip = 0 if start == 0 else csvfile.find_row_start(data, self.columns, self.zone)
            region = csvfile.parse_region(data[skip:], start + skip, self.columns, self.zone)
            oldest = region.records[0][1].end if region.records else None
            if start == 0 or older_than is None or (oldest is not None and oldest < older_than):
                return region

    def _report(self, bad: list[csvfile.BadRow]) -> None:
        for row in bad:
            if row.offset in self._reported:
                continue
            self._reported[row.offset] = None
            if len(self._reported) > _REPORTED_MEMORY:
                self._reported.popitem(last=False)
            log.warning(
                "%s: byte %d: a row that is not a call record, skipped (%s)",
                self.path,
                row.offset,
                row.why,
            )


# ---------------------------------------------------------------- FreePBX's asteriskcdrdb

_IDENTIFIER = re.compile(r"[A-Za-z0-9_$]{1,64}")
# MySQL client and server error numbers worth a sentence of their own.
_ACCESS_DENIED = 1045
_DB_ACCESS_DENIED = {1044, 1142, 1143}
_NO_SUCH_TABLE = {1049, 1146}
_NO_SUCH_COLUMN = 1054
_CANNOT_CONNECT = {2002, 2003, 2005, 2006}
_LOST = {2013}


class MysqlCdrSource:
    """FreePBX's call records in MariaDB (``asteriskcdrdb.cdr``), over the LAN.

    PyMySQL in a worker thread, one short connection per read: a read is
    rare (at start and after each reconnect), so no pool is kept. Only the
    time bounds are sent, and as query parameters; the database and table
    names are checked identifiers.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 3306,
        user: str,
        password: SecretStr,
        database: str = "asteriskcdrdb",
        table: str = "cdr",
        zone: tzinfo,
        connect_timeout: float = 5.0,
        query_timeout: float = 10.0,
        lookback: timedelta = DEFAULT_LOOKBACK,
        unix_socket: str | None = None,
    ):
        for name in (database, table):
            if not _IDENTIFIER.fullmatch(name):
                raise ValueError(f"not a plain table or database name: {name!r}")
        self.host, self.port, self.user = host, port, user
        self._password = password
        self.database, self.table = database, table
        self.zone = zone
        self.connect_timeout, self.query_timeout = connect_timeout, query_timeout
        self.lookback = lookback
        self.unix_socket = unix_socket

    def __repr__(self) -> str:
        return f"MysqlCdrSource({self.describe()})"

    def describe(self) -> str:
        where = self.unix_socket or f"{self.host}:{self.port}"
        return f"FreePBX's call records {self.database}.{self.table} as {self.user} at {where}"

    async def check(self) -> str:
        return await asyncio.to_thread(self._check)

    async def since(self, moment: datetime, until: datetime | None = None) -> list[CdrRecord]:
        return await asyncio.to_thread(self._since, moment, until)

    # ---- blocking, in a worker thread

    def _check(self) -> str:
        rows = self._query(f"{self._select()} ORDER BY calldate DESC LIMIT 1", ())
        records = self._records(rows)
        if not records:
            return f"{self.describe()}: readable, no call recorded yet"
        return f"{self.describe()}: readable, last record ended {records[0].end:%Y-%m-%d %H:%M} UTC"

    def _since(self, moment: datetime, until: datetime | None) -> list[CdrRecord]:
        _aware(moment, until)
        # Every record of a call that ends after `moment` starts after
        # moment - lookback: the calldate index bounds the rows read.
        sql = f"{self._select()} WHERE calldate >= %s"
        params: list[datetime] = [self._local(moment - self.lookback)]
        if until is not None:
            sql += " AND calldate < %s"
            params.append(self._local(until))
        rows = self._query(sql + " ORDER BY calldate, sequence", tuple(params))
        return calls_ending_between(self._records(rows), moment, until)

    def _select(self) -> str:
        columns = ", ".join(f"`{c}`" for c in MYSQL_COLUMNS)
        # Names are checked identifiers; every value goes as a parameter.
        return f"SELECT {columns} FROM `{self.database}`.`{self.table}`"  # noqa: S608

    def _local(self, moment: datetime) -> datetime:
        """The PBX's wall-clock time, as cdr_adaptive_odbc stores calldate."""
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _records(self, rows: Iterable[tuple[object, ...]]) -> list[CdrRecord]:
        records = []
        for row in rows:
            try:
                fields = dict(zip(MYSQL_COLUMNS, row, strict=True))
                records.append(record_from_mysql(fields, self.zone))
            except CdrRowError as exc:
                log.warning(
                    "%s: a row that is not a call record, skipped (%s)", self.describe(), exc
                )
        return records

    def _query(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        try:
            connection = pymysql.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self._password.get_secret_value(),
                unix_socket=self.unix_socket,
                charset="utf8mb4",
                connect_timeout=self.connect_timeout,
                read_timeout=self.query_timeout,
                write_timeout=self.query_timeout,
            )
        except pymysql.MySQLError as exc:
            raise CdrUnavailable(self._explain(exc)) from None
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        except pymysql.MySQLError as exc:
            raise CdrUnavailable(self._explain(exc)) from None
        finally:
            connection.close()

    def _explain(self, exc: pymysql.MySQLError) -> str:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        said = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
        where = self.describe()
        table = f"{self.database}.{self.table}"
        if code == _ACCESS_DENIED:
            return (
                f"{where}: login refused ({said}): check cdr.mysql.user and password, and that "
                "the user may connect from this host"
            )
        if code in _DB_ACCESS_DENIED:
            return (
                f"{where}: {self.user} may not read {table} (or there is none): GRANT SELECT ON "
                f"{table} TO '{self.user}'@'<this host>'; FreePBX keeps them in asteriskcdrdb.cdr"
            )
        if code in _NO_SUCH_TABLE:
            return (
                f"{where}: no table {table} ({said}): FreePBX keeps them in asteriskcdrdb.cdr; "
                "check cdr.mysql.database and table"
            )
        if code == _NO_SUCH_COLUMN:
            return f"{where}: {table} is not a FreePBX cdr table ({said})"
        if code in _CANNOT_CONNECT | _LOST:
            return (
                f"{where}: cannot reach the server ({said}): is MariaDB listening beyond "
                "localhost (bind-address) and does its firewall let this host in?"
            )
        return f"{where}: {said} (error {code})"
