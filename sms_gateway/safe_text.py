"""Untrusted text (a modem's reply, a SIP header, Asterisk's words) made safe
for a log line or an error message: control and format characters escaped,
so nothing can forge a line or drive the terminal."""

from __future__ import annotations


def printable(text: str, limit: int = 200) -> str:
    """``text`` with every non-printable character escaped, cut to ``limit``."""
    shown = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
        for ch in text[:limit]
    )
    return shown + ("…" if len(text) > limit else "")
