"""What the bridge must decide for each real Asterisk recording."""

from __future__ import annotations

from tests.support.paths import FIXTURES

TRACES = FIXTURES / "asterisk"
CALLER = "+15125559876"
DID = "+15125550100"

# file -> (outcome, reason, extra fields that must match)
REAL_TRACES: dict[str, tuple[str, str | None, dict[str, object]]] = {
    "01_answered.ami": ("answered", None, {"answered_by": "PJSIP/201-00000009"}),
    "02_noanswer.ami": ("missed", "NOANSWER", {"dial_status": "NOANSWER"}),
    "03_busy.ami": ("missed", "BUSY", {"dial_status": "BUSY"}),
    "05_ringgroup_noanswer.ami": ("missed", "NOANSWER", {}),
    "06_ringgroup_answered.ami": ("answered", None, {"answered_by": "PJSIP/202-00000016"}),
    "07_voicemail_left.ami": (
        "missed",
        "VOICEMAIL",
        {"voicemail_left": True, "dial_status": "NOANSWER"},
    ),
    "09_queue_abandon.ami": ("missed", "QUEUE_ABANDON", {}),
    "13_internal_call.ami": ("internal", None, {"caller": None, "line": None}),
    "16_chanunavail.ami": ("missed", "CHANUNAVAIL", {"dial_status": "CHANUNAVAIL"}),
}


def trace(name: str) -> bytes:
    return (TRACES / name).read_bytes()
