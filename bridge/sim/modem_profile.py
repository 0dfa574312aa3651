"""How one real modem model answers, where it differs from the simulated
modem's own answers (the profiles in tests/fixtures/modems/)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModemProfile:
    """How one modem model answers where it differs from the engine's own
    answers: scripted replies for the commands it lists, which commands work
    before the PIN, where it keeps delivery reports, the URCs it slips in.
    ``tests/fixtures/modems/`` holds profiles of real models."""

    name: str = "engine default"
    manufacturer: str = "SimCom Sim"
    model: str = "SIM7600-SIM"
    # "AT+CMD" (or a prefix ending in "*") -> lines, final result included;
    # "{pin_state}" becomes READY or SIM PIN. These replace the engine's answer.
    answers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Commands answered while the SIM is locked (others: +CME ERROR: 11);
    # None: the engine's rule (only SMS and operator commands need the PIN).
    before_pin: frozenset[str] | None = None
    storages: tuple[str, ...] = ("ME", "SM", "SR")  # what AT+CPMS=? offers for reading
    report_storage: str | None = "SR"  # where <ds>=2 (or 0) keeps status reports
    report_announced_as: str | None = None  # the storage +CDSI names, if not that one
    first_slot: int = 1
    empty_slot: tuple[str, ...] = ("+CMS ERROR: 321",)  # AT+CMGR of an empty slot
    cmgr_stat: bool = True  # False: "+CMGR: ,,<length>" without the status
    unknown: str = "ERROR"  # the final result for a command it does not know
    urcs_in_replies: tuple[str, ...] = ()  # slipped in after a reply's first line
    boot: tuple[str, ...] = ()  # what it says when it powers up
    # AT+CMGW (write to <mem2>) and AT+CMSS (send from it). False: a model
    # without them, which answers both (and their =? tests) with ``unknown``.
    store_and_send: bool = True

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModemProfile:
        values = dict(data)
        values.pop("expect", None)  # for the tests that run it, not the modem
        answers = values.pop("answers", None) or {}
        values["answers"] = {str(k).upper(): tuple(map(str, v)) for k, v in answers.items()}
        if values.get("before_pin") is not None:
            values["before_pin"] = frozenset(str(c).upper() for c in values["before_pin"])
        for key in ("storages", "empty_slot", "urcs_in_replies", "boot"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)

    def scripted(self, command: str) -> tuple[str, ...] | None:
        """The scripted answer to ``command`` (upper case), if the profile has one."""
        if command in self.answers:
            return self.answers[command]
        prefixes = [k for k in self.answers if k.endswith("*") and command.startswith(k[:-1])]
        return self.answers[max(prefixes, key=len)] if prefixes else None
