"""What an incoming text asks for: to stop, to start again, or help.

US carrier rules: the opt-out words must always work, in any case, with
spaces or punctuation around them; one confirmation goes out and nothing
else after. START / UNSTOP / YES re-subscribe; HELP answers with who we are.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Keyword(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


_STOP = frozenset(
    {
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "REMOVE",
        "ARRET",
    }
)
_START = frozenset({"START", "UNSTOP", "YES"})
_HELP = frozenset({"HELP", "INFO"})
# Letters only; "opt out", "Opt-Out" and "optout" all become OPTOUT.
_NOT_LETTERS = re.compile(r"[^A-Z]+")


def classify(body: str) -> Keyword | None:
    """The keyword a whole message is, or None for an ordinary reply.

    Only a message that *is* the keyword counts: "please stop by tomorrow"
    is a reply, not an opt-out.
    """
    word = _NOT_LETTERS.sub("", body.upper().replace("Ê", "E"))
    if len(word) > 12:
        return None
    if word in _STOP:
        return Keyword.STOP
    if word in _START:
        return Keyword.START
    if word in _HELP:
        return Keyword.HELP
    return None
