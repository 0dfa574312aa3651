"""Untrusted text on a terminal: caller names and texts reach rich tables and
the console escaped, and never read as markup."""

from __future__ import annotations

from rich.text import Text

from bridge.core.safe_text import printable


def cell(text: str, limit: int = 200) -> Text:
    """Untrusted text for a rich table or console: escaped, and never read as markup."""
    return Text(printable(text, limit))
