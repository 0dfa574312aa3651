"""The owner inbox's listing as values: which threads a page asks for, and
what each row shows. Pure: the store fills them (bridge.store's WebStore),
the web pages render them (bridge.web)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bridge.core.threads import ThreadSummary

Who = Literal["all", "mine", "unassigned"]
View = Literal["open", "urgent", "handled"]
WHO: tuple[Who, ...] = ("all", "mine", "unassigned")
VIEWS: tuple[View, ...] = ("open", "urgent", "handled")
# A search reads at most this many of the view's newest threads (each looked
# up by index: its caller, the caller's name, every text in and out), so a
# search costs the same on year ten as on day one. Older pages search on.
SEARCH_WINDOW = 5000
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next (older) page starts: after this thread's place."""

    last_activity_at: str
    thread_id: int

    def token(self) -> str:
        return f"{self.last_activity_at}~{self.thread_id}"

    @classmethod
    def parse(cls, token: str) -> Cursor | None:
        """None for anything that is not a token this module made."""
        at, sep, number = token.partition("~")
        if not sep or not number.isdigit() or not 10 <= len(at) <= 40:
            return None
        if not all(ch.isdigit() or ch in "-:.T+Z" for ch in at):
            return None
        return cls(at, int(number))


@dataclass(frozen=True, slots=True)
class InboxQuery:
    owner_id: str
    who: Who = "all"
    view: View = "open"
    # The lines (DIDs) whose threads the owner sees; None: every line. A
    # thread on no known line (None) is everyone's.
    lines: frozenset[str] | None = None
    search: str = ""
    after: Cursor | None = None
    limit: int = PAGE_SIZE


@dataclass(frozen=True, slots=True)
class InboxRow:
    summary: ThreadSummary
    caller_name: str  # as Asterisk had it on the latest call ("" if none)
    assigned_to: str | None
    last_message: str | None  # the latest text in or out
    last_message_in: bool  # True: from the caller
    last_action: str | None = None  # reply, called, done: what an owner last did


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[InboxRow]
    next: Cursor | None  # None: this was the last page


def search_terms(text: str) -> tuple[str, str]:
    """(a LIKE pattern for names and words, the digits for a number - "" when
    fewer than 3) from what the owner typed; LIKE's own characters escaped."""
    words = " ".join(text.split())[:100]
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    digits = "".join(ch for ch in words if ch.isdigit())
    return f"%{escaped}%", digits if len(digits) >= 3 else ""
