"""Master.csv as cdr_csv writes it, read from bytes: pure, no file access.

cdr_csv (cdr/cdr_csv.c) appends one row per record: every text field in
double quotes with ``"`` doubled, numbers and unset times bare, ``\\n`` at
the end, the bytes of caller names as the carrier sent them (not always
UTF-8). A quoted field may hold a newline, so a row ends at the first
newline after an even number of quotes.

The reader starts somewhere near the end of a file of years, which may be
inside a row; ``find_row_start`` finds where whole rows begin.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo

from bridge.detection.records.cdr import CdrRecord, CdrRowError, record_from_csv

# cdr_csv builds a row in a 1024-byte buffer and drops longer ones; anything
# much longer is not a row but an unmatched quote swallowing the file.
MAX_ROW_BYTES = 4096
_SYNC_ROWS = 3  # whole rows that must parse for a starting point to be trusted
_SYNC_TRIES = 64


@dataclass(frozen=True, slots=True)
class BadRow:
    offset: int  # where the row starts in the file
    why: str


@dataclass(slots=True)
class ParsedRegion:
    records: list[tuple[int, CdrRecord]] = field(default_factory=list)  # (file offset, record)
    bad: list[BadRow] = field(default_factory=list)


def split_rows(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The complete rows in ``data`` (which starts where a row starts), each as
    (offset, bytes without the newline), and how many bytes they cover. A
    trailing row with no newline yet (Asterisk still writing) is left out.
    A run longer than MAX_ROW_BYTES is cut at its first newline."""
    rows: list[tuple[int, bytes]] = []
    start = pos = quotes = 0
    while (newline := data.find(b"\n", pos)) >= 0:
        quotes += data.count(b'"', pos, newline)
        pos = newline + 1
        if quotes % 2 == 0:
            rows.append((start, data[start:newline]))
            start, quotes = pos, 0
        elif newline - start > MAX_ROW_BYTES:
            cut = data.index(b"\n", start)
            rows.append((start, data[start:cut]))
            start = pos = cut + 1
            quotes = 0
    return rows, start


def row_fields(raw: bytes) -> list[str]:
    """One row's fields; bytes that are not UTF-8 become U+FFFD."""
    text = raw.decode("utf-8", errors="replace")
    try:
        return next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration) as exc:
        raise CdrRowError(f"not a CSV row: {exc}") from None


def parse_row(raw: bytes, columns: Sequence[str], zone: tzinfo) -> CdrRecord:
    """One row's bytes as a record; CdrRowError if it is not one."""
    return record_from_csv(row_fields(raw), columns, zone)


def parse_region(data: bytes, offset: int, columns: Sequence[str], zone: tzinfo) -> ParsedRegion:
    """Every complete row of ``data`` (starting at a row start, at ``offset``
    in the file): records and the rows that are not records."""
    parsed = ParsedRegion()
    rows, _ = split_rows(data)
    for at, raw in rows:
        try:
            parsed.records.append((offset + at, parse_row(raw, columns, zone)))
        except CdrRowError as exc:
            parsed.bad.append(BadRow(offset + at, str(exc)))
    return parsed


def find_row_start(data: bytes, columns: Sequence[str], zone: tzinfo) -> int:
    """Where whole rows begin in ``data``, a piece cut out of the middle of a
    file: just after the first newline from which the next rows parse.

    A newline inside a quoted field is no row boundary, and starting there
    would read every later quote the wrong way round; a wrong start almost
    never yields several valid rows in a row. Falls back to the first
    newline (or the end, with none).
    """
    newline = data.find(b"\n")
    first = newline
    for _ in range(_SYNC_TRIES):
        if newline < 0:
            break
        start = newline + 1
        window = data[start : start + _SYNC_ROWS * MAX_ROW_BYTES]
        rows, _ = split_rows(window)
        if rows and all(_parses(raw, columns, zone) for _, raw in rows[:_SYNC_ROWS]):
            return start
        newline = data.find(b"\n", start)
    return first + 1 if first >= 0 else len(data)


def _parses(raw: bytes, columns: Sequence[str], zone: tzinfo) -> bool:
    try:
        parse_row(raw, columns, zone)
    except CdrRowError:
        return False
    return True
