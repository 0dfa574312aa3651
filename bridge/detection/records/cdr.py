"""One call detail record, as Asterisk's CDR engine writes it, and the pure
mappings from what each source stores (a Master.csv row, a row of FreePBX's
``asteriskcdrdb.cdr``) to it.

Every text field is untrusted: caller names and numbers come from the carrier.
They are only ever compared and stored here, never interpreted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import NamedTuple

# What ast_cdr_disp2str() writes (main/cdr.c). CANCEL only with
# canceldispositionenabled=yes (Asterisk 20.16, 21.11, 22.6, 23 and later).
ANSWERED = "ANSWERED"
NO_ANSWER = "NO ANSWER"
BUSY = "BUSY"
FAILED = "FAILED"
CONGESTION = "CONGESTION"
CANCEL = "CANCEL"
DISPOSITIONS = frozenset({ANSWERED, NO_ANSWER, BUSY, FAILED, CONGESTION, CANCEL})

# cdr_csv's DATE_FORMAT; both sources store whole seconds.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class CdrRowError(ValueError):
    """A stored row that is not a call record (wrong shape, bad number or time)."""


@dataclass(frozen=True, slots=True)
class CdrRecord:
    """One CDR: one path of communication between a Party A channel and
    (optionally) a Party B, as the fields of Asterisk's ``struct ast_cdr``."""

    start: datetime  # aware; when the record was created
    answer: datetime | None  # when Party A was answered (by anyone, the PBX included)
    end: datetime  # when the record was finalized
    src: str  # Party A's caller ID number
    dst: str  # the extension Party A was executing at the end
    dcontext: str  # the context Party A was executing at the end
    clid: str  # '"Name" <number>' as ast_callerid_merge() writes it
    channel: str  # Party A's channel name
    dstchannel: str  # Party B's channel name, "" when there is none
    lastapp: str  # the application Party A ran last (or that tied it to Party B)
    lastdata: str
    duration: int  # seconds, end - start
    billsec: int  # seconds, end - answer
    disposition: str  # one of DISPOSITIONS (kept as stored if Asterisk wrote another)
    uniqueid: str  # Party A's Uniqueid ("" when Master.csv has no loguniqueid)
    linkedid: str  # the call's Linkedid: every record of one call shares it
    sequence: int  # Asterisk-wide counter: orders records created at the same time
    did: str = ""  # FreePBX's CDR(did), the dialled DID; cdr_csv never writes it

    @property
    def caller_name(self) -> str:
        return split_clid(self.clid).name

    @property
    def call_key(self) -> str:
        """What groups a call's records: the Linkedid, else Party A's Uniqueid."""
        return self.linkedid or self.uniqueid or self.channel

    def order(self) -> tuple[datetime, datetime, int]:
        return (self.end, self.start, self.sequence)


class CallerId(NamedTuple):
    name: str
    number: str


_CLID = re.compile(r'"((?:[^"\\]|\\.)*)"(?: <([^>]*)>)?$', re.DOTALL)
_CLID_UNQUOTED = re.compile(r"(.*?) ?<([^>]*)>$", re.DOTALL)
_NUMBERISH = re.compile(r"[+0-9*#]+")


def split_clid(clid: str) -> CallerId:
    """Name and number out of ``"Jane \\"JJ\\" Caller" <+15125559876>``.

    ast_callerid_merge() writes ``"name" <number>`` with ``"`` and ``\\``
    escaped by a backslash, the bare name or the bare number when only one
    is known. The field holds 79 bytes, so a long name loses its end (and
    the number): then the name is what survived.
    """
    text = clid.strip()
    quoted = _CLID.match(text)
    if quoted:
        return CallerId(_unescape(quoted.group(1)), quoted.group(2) or "")
    if text.startswith('"'):  # cut off inside the quoted name
        return CallerId(_unescape(text[1:]), "")
    unquoted = _CLID_UNQUOTED.match(text)
    if unquoted:
        return CallerId(unquoted.group(1).strip(), unquoted.group(2))
    if _NUMBERISH.fullmatch(text):
        return CallerId("", text)
    return CallerId(text, "")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


# ---------------------------------------------------------------- Master.csv

_BASE_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
)  # fmt: skip


def csv_columns(
    *, loguniqueid: bool, loguserfield: bool, newcdrcolumns: bool = True
) -> tuple[str, ...]:
    """The columns cdr_csv writes, in its order (cdr/cdr_csv.c build_csv_record):
    16 always, then uniqueid (loguniqueid), userfield (loguserfield), then
    peeraccount, linkedid, sequence (newcdrcolumns)."""
    columns = list(_BASE_COLUMNS)
    if loguniqueid:
        columns.append("uniqueid")
    if loguserfield:
        columns.append("userfield")
    if newcdrcolumns:
        columns.extend(("peeraccount", "linkedid", "sequence"))
    return tuple(columns)


def record_from_csv(fields: Sequence[str], columns: Sequence[str], zone: tzinfo) -> CdrRecord:
    """A Master.csv row (already split by the csv module) as a record.

    Times are in ``zone`` (cdr_csv writes local time unless usegmtime=yes).
    Raises CdrRowError for a row of another shape.
    """
    if len(fields) != len(columns):
        raise CdrRowError(f"{len(fields)} fields, expected {len(columns)}")
    row = dict(zip(columns, fields, strict=True))
    start = _csv_time(row["start"], zone, "start")
    end = _csv_time(row["end"], zone, "end")
    if start is None or end is None:
        raise CdrRowError("no start or end time")
    return CdrRecord(
        start=start,
        answer=_csv_time(row["answer"], zone, "answer"),
        end=end,
        src=row["src"],
        dst=row["dst"],
        dcontext=row["dcontext"],
        clid=row["clid"],
        channel=row["channel"],
        dstchannel=row["dstchannel"],
        lastapp=row["lastapp"],
        lastdata=row["lastdata"],
        duration=_integer(row["duration"], "duration"),
        billsec=_integer(row["billsec"], "billsec"),
        disposition=row["disposition"],
        uniqueid=row.get("uniqueid", ""),
        linkedid=row.get("linkedid", ""),
        sequence=_integer(row.get("sequence", "0"), "sequence"),
    )


def _csv_time(text: str, zone: tzinfo, name: str) -> datetime | None:
    if not text:
        return None  # cdr_csv writes an unset time as an empty, unquoted field
    try:
        naive = datetime.strptime(text, TIME_FORMAT)
    except ValueError:
        raise CdrRowError(f"{name} is not a time: {text[:40]!r}") from None
    return as_utc(naive, zone)


def as_utc(naive: datetime, zone: tzinfo) -> datetime:
    """A wall-clock time the PBX wrote in ``zone``, as an aware UTC time.
    In the repeated hour of a DST change the earlier reading is taken."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


_INTEGER = re.compile(r"-?[0-9]{1,12}")


def _integer(text: str, name: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise CdrRowError(f"{name} is not a whole number: {text[:20]!r}")
    return int(text)


# ---------------------------------------------------------------- FreePBX's table

# The columns read from asteriskcdrdb.cdr. FreePBX's table has no answer or
# end column: calldate is the start, the end is calldate + duration.
MYSQL_COLUMNS = (
    "calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp",
    "lastdata", "duration", "billsec", "disposition", "uniqueid", "linkedid", "sequence", "did",
)  # fmt: skip


def record_from_mysql(row: Mapping[str, object], zone: tzinfo) -> CdrRecord:
    """A row of FreePBX's cdr table (``MYSQL_COLUMNS``) as a record.

    calldate is a naive local time in ``zone`` (cdr_adaptive_odbc writes
    local time). The answer time is not stored: it is end - billsec when
    the record was answered, else unknown.
    """
    calldate = row.get("calldate")
    if not isinstance(calldate, datetime):
        raise CdrRowError(f"calldate is not a time: {calldate!r}")
    start = as_utc(calldate.replace(tzinfo=None), zone)
    duration = _whole(row.get("duration"), "duration")
    billsec = _whole(row.get("billsec"), "billsec")
    end = start + timedelta(seconds=duration)
    disposition = _text(row, "disposition")
    answered = disposition == ANSWERED or billsec > 0
    return CdrRecord(
        start=start,
        answer=end - timedelta(seconds=billsec) if answered else None,
        end=end,
        src=_text(row, "src"),
        dst=_text(row, "dst"),
        dcontext=_text(row, "dcontext"),
        clid=_text(row, "clid"),
        channel=_text(row, "channel"),
        dstchannel=_text(row, "dstchannel"),
        lastapp=_text(row, "lastapp"),
        lastdata=_text(row, "lastdata"),
        duration=duration,
        billsec=billsec,
        disposition=disposition,
        uniqueid=_text(row, "uniqueid"),
        linkedid=_text(row, "linkedid"),
        sequence=_whole(row.get("sequence"), "sequence"),
        did=_text(row, "did"),
    )


def _text(row: Mapping[str, object], name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _whole(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise CdrRowError(f"{name} is not a whole number: {value!r}")
    return int(value)
