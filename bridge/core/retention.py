"""What `store.keep_days` prunes: the bulky words of old, finished
conversations, never the rows the report counts nor the opt-outs."""

from __future__ import annotations

from dataclasses import dataclass

# What a pruned body says instead (in `textback thread N`, say).
PRUNED = "(pruned)"


@dataclass(frozen=True, slots=True)
class Pruned:
    """How many bodies were (or, in a dry run, would be) blanked."""

    alerts: int = 0
    texts_out: int = 0
    texts_in: int = 0

    @property
    def total(self) -> int:
        return self.alerts + self.texts_out + self.texts_in
