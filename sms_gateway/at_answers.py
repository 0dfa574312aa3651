"""What a modem's answers say, read without I/O: one small function per answer.

Modems put unsolicited lines inside replies (Huawei's ``^HCSQ`` after the
``+CMGR:`` header), nest their lists differently (Wavecom) and leave fields
out, so each answer is read by its shape: a PDU is the first line of hex
after its header, never "the line after the header". The session
(:mod:`sms_gateway.at_session`) has already told replies from notifications;
these read what is inside them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sms_gateway.at_session import Response

_CMGL = re.compile(r"^\+CMGL:\s*(\d+),\s*(\d*)")
_CMGR = re.compile(r"^\+CMGR:\s*(\d*)")
_NUMBER = re.compile(r":\s*(\d+)")
_CPMS_MEM = re.compile(r'"([A-Z_]+)",\s*(\d+),\s*(\d+)')
# <stat> (TS 27.005 3.1, PDU mode): 0 received unread, 1 received read,
# 2 stored unsent, 3 stored sent - the last two are texts going out.
STORED_UNSENT, STORED_SENT = 2, 3
_STORED = re.compile(r'^\+C(?:MTI|DSI):\s*"?([A-Z]*)"?,\s*(\d+)')  # +CDSI: "SR",3
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


class Listed(NamedTuple):
    slot: int
    status: int | None  # <stat>; None where the modem leaves it out
    pdu: str

    @property
    def outgoing(self) -> bool:
        """A text written to be sent (AT+CMGW), not one that arrived."""
        return self.status in (STORED_UNSENT, STORED_SENT)


def stored_pdu(reply: Response) -> str | None:
    """The PDU of an AT+CMGR answer: the first hex line after the +CMGR:
    header, found by its shape (an unsolicited line in between is not it)."""
    header_seen = False
    for line in reply.lines if reply.ok else ():
        if line.startswith("+CMGR:"):
            header_seen = True
        elif header_seen and _HEX.fullmatch(line):
            return line
    return None


def stored_status(reply: Response) -> int | None:
    """The <stat> in an AT+CMGR answer's header; None if it has none."""
    header = reply.line_starting("+CMGR:") if reply.ok else None
    match = _CMGR.match(header or "")
    return int(match.group(1)) if match and match.group(1) else None


def listed(reply: Response) -> list[Listed]:
    """Each message in an AT+CMGL answer: its slot, status and PDU."""
    found: list[Listed] = []
    pending: tuple[int, int | None] | None = None
    for line in reply.lines if reply.ok else ():
        match = _CMGL.match(line)
        if match:
            pending = (int(match.group(1)), int(match.group(2)) if match.group(2) else None)
        elif pending is not None and _HEX.fullmatch(line):
            found.append(Listed(*pending, line))
            pending = None
    return found


def written_slot(reply: Response) -> int | None:
    """The index in an AT+CMGW answer (``+CMGW: 4``); None if none came."""
    match = _NUMBER.search(reply.line_starting("+CMGW:") or "") if reply.ok else None
    return int(match.group(1)) if match else None


def storage_room(line: str) -> tuple[str, int, int] | None:
    """The storage written to (the second of ``+CPMS: "ME",2,50,"ME",2,50,...``)
    as (name, used, total); None if the answer does not say."""
    found = _CPMS_MEM.findall(line)
    if len(found) < 2:
        return None
    name, used, total = found[1]
    return name, int(used), int(total)


def stored_at(line: str) -> tuple[str, int] | None:
    """``+CMTI: "SM",3`` or ``+CDSI: "SR",3`` -> (storage, slot); the storage
    may be empty (some modems leave it out)."""
    match = _STORED.match(line)
    return (match.group(1), int(match.group(2))) if match else None


def storage_groups(line: str) -> list[set[str]]:
    """``+CPMS: ("ME","SM","SR"),("ME","SM"),...`` -> one set per storage list
    (Wavecom nests them: ``(("SM","BM","SR"),("SM"))``)."""
    return [set(re.findall(r'"([A-Z_]+)"', group)) for group in re.findall(r"\(([^()]*)\)", line)]


def has_smsc(line: str) -> bool:
    """Does ``+CSCA: "+15125550000",145`` name an SMS centre (not ``""``)?"""
    return re.search(r'"\+?\d{3,}"', line) is not None


def is_registered(line: str) -> bool:
    """``+CREG: 0,1``: registered at home (1) or roaming (5)."""
    return re.search(r",\s*[15]\b", line) is not None


def signal_strength(line: str) -> int | None:
    """``+CSQ: 20,99`` -> 20; 99 (or nothing) is unknown."""
    match = re.search(r"(\d+),", line)
    return int(match.group(1)) if match and match.group(1) != "99" else None


def operator_name(line: str) -> str | None:
    """``+COPS: 0,0,"SimTel",7`` -> SimTel."""
    return line.split('"')[1] if line.count('"') >= 2 else None


def sent_reference(reply: Response) -> int:
    """The TP-MR in a ``+CMGS: <mr>`` (or ``+CMSS: <mr>``) answer; -1 if the modem gave none."""
    line = reply.line_starting("+CMGS:") or reply.line_starting("+CMSS:") or ""
    try:
        return int(line.split(":", 1)[1].split(",")[0])
    except (IndexError, ValueError):
        return -1
