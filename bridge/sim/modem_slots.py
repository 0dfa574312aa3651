"""The simulated modem's message storages: slots, their status, which go.

A storage is a dict ``index -> (stat, pdu_hex)``. ``<stat>`` is TS 27.005's
PDU-mode message status (3.1): 0 received unread, 1 received read, 2 stored
unsent, 3 stored sent. Pure functions; the engine (bridge/sim/modem.py) owns
the dicts.
"""

from __future__ import annotations

import itertools

REC_UNREAD, REC_READ, STO_UNSENT, STO_SENT = 0, 1, 2, 3
ALL = 4  # AT+CMGL=4: every status

Slots = dict[int, tuple[int, str]]

# AT+CMGD=<index>,<delflag> (TS 27.005 3.5.4): which statuses each flag deletes,
# whatever the index; 0 (or no flag) deletes the index alone.
_DELFLAG: dict[int, frozenset[int]] = {
    1: frozenset({REC_READ}),
    2: frozenset({REC_READ, STO_SENT}),
    3: frozenset({REC_READ, STO_SENT, STO_UNSENT}),
    4: frozenset({REC_UNREAD, REC_READ, STO_UNSENT, STO_SENT}),
}


def free_slot(slots: Slots, first: int) -> int:
    """The lowest free index from ``first`` up, as real modems reuse them."""
    return next(i for i in itertools.count(first) if i not in slots)


def doomed(slots: Slots, index: int | None, delflag: int) -> list[int]:
    """The indexes AT+CMGD=<index>,<delflag> deletes (an empty index: none)."""
    if delflag in _DELFLAG:
        statuses = _DELFLAG[delflag]
        return sorted(i for i, (stat, _) in slots.items() if stat in statuses)
    return [index] if index is not None and index in slots else []


def listed(slots: Slots, wanted: int) -> list[tuple[int, int, str]]:
    """(index, stat, pdu) of the slots AT+CMGL=<wanted> lists, by index."""
    return [
        (index, stat, pdu_hex)
        for index, (stat, pdu_hex) in sorted(slots.items())
        if wanted in (ALL, stat)
    ]
