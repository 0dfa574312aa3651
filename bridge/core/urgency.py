"""Whether a homeowner's reply reads as an emergency. Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable


def is_urgent(text: str, words: Iterable[str]) -> bool:
    """Whether a reply reads as an emergency: any configured word or phrase,
    as whole words, in any case ("Burst pipe!" yes; "gasket" no)."""
    flat = " ".join(re.findall(r"[^\W_]+", text.casefold()))
    return any(
        re.search(rf"(?<!\w){re.escape(' '.join(word.casefold().split()))}(?!\w)", flat)
        for word in words
    )
