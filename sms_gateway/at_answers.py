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

from sms_gateway.at_session import Response

_CMGL = re.compile(r"^\+CMGL:\s*(\d+),")
_STORED = re.compile(r'^\+C(?:MTI|DSI):\s*"?([A-Z]*)"?,\s*(\d+)')  # +CDSI: "SR",3
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


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


def listed(reply: Response) -> list[tuple[int, str]]:
    """(slot, PDU) for each message in an AT+CMGL answer."""
    found: list[tuple[int, str]] = []
    pending = None
    for line in reply.lines if reply.ok else ():
        match = _CMGL.match(line)
        if match:
            pending = int(match.group(1))
        elif pending is not None and _HEX.fullmatch(line):
            found.append((pending, line))
            pending = None
    return found


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
    """The TP-MR in a ``+CMGS: <mr>`` answer; -1 if the modem gave none."""
    line = reply.line_starting("+CMGS:") or ""
    try:
        return int(line.split(":", 1)[1].split(",")[0])
    except (IndexError, ValueError):
        return -1
