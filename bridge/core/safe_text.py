"""Untrusted text (caller names, AMI values) made safe for logs and terminals.

Control characters - ESC sequences that recolour or rewrite a terminal, CR
that hides the start of a log line, NUL - are shown as escapes instead.
"""

from __future__ import annotations

import unicodedata


def printable(text: str, limit: int = 200) -> str:
    """``text`` with every control or format character escaped, cut to ``limit``."""
    out = []
    for ch in text[:limit]:
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") or not ch.isprintable():
            out.append(ch.encode("unicode_escape").decode("ascii"))
    if len(text) > limit:
        out.append("…")
    return "".join(out)


# What a spreadsheet reads as the start of a formula (=, +, -, @) or that
# hides one behind a tab or carriage return (OWASP's CSV injection list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet(text: str) -> str:
    """A text cell for a CSV a spreadsheet opens: one starting like a formula
    gets a leading ``'``, so it is shown as text and never run."""
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text
