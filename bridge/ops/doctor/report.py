"""One finding of `textback doctor`: a line, and what to fix."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        fix = f" - fix: {self.fix}" if self.fix and not self.ok else ""
        return f"{mark} {self.name}: {self.message}{fix}"
