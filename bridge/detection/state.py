"""What the tracker knows of one call in progress: everything its decision
needs, and nothing else. Kept in the store as JSON so a restart can finish it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class CallState:
    linkedid: str
    origin: str  # the caller's channel name
    context: str
    exten: str
    caller_raw: str
    caller_name: str
    started_at: datetime
    last_seen: datetime
    adopted: bool = False  # first seen in a CoreShowChannels snapshot
    did: str = ""
    answered_by: str | None = None
    answered_at: datetime | None = None  # when answered_by was first seen
    pbx_answered: bool = False  # the caller's channel went Up (any reason)
    dialled: bool = False
    dial_status: str | None = None
    # The last status of a dial the caller's own channel made: what the caller
    # heard, where a helper (Local;2) leg's status may say something else.
    origin_dial_status: str | None = None
    caller_hung_up: bool = False
    in_queue: bool = False
    queue_abandoned: bool = False
    voicemail: bool = False
    voicemail_left: bool = False
    hangup_cause: str = ""
    bridges: dict[str, set[str]] = field(default_factory=dict)
    restored: bool = False  # read back from the store after a restart
    pbx_dropped: bool = False  # Asterisk announced its shutdown during the call
    # A gap (a restart, a dropped link) since the caller's channel was last seen.
    unseen_since: bool = False
    # Up when first seen after a gap, no answer seen: a person may have
    # answered and hung up while nothing was seen.
    answer_unseen: bool = False
    # The caller's channel was one Asterisk requested (Newchannel in state
    # Down: an Originate, click-to-call): nobody dialled in. What it dials is
    # the callee; only its own dials and bridges say the callee answered.
    originated: bool = False
    dial_target: str = ""  # the first DialString of the caller's own dial
    thread_hint: int | None = None  # TEXTBACK_THREAD, set by textback's own Originate

    def answered(self, by: str) -> None:
        if self.answered_by is None:
            self.answered_by = by

    @property
    def certain(self) -> bool:
        """Whether a missed call's decision can no longer change, whatever
        happened unseen: a voicemail was left, or the PBX itself went down."""
        return self.voicemail_left or self.pbx_dropped

    def to_json(self) -> str:
        state = {name: getattr(self, name) for name in CallState.__dataclass_fields__}
        state["started_at"] = self.started_at.isoformat()
        state["last_seen"] = self.last_seen.isoformat()
        state["answered_at"] = self.answered_at.isoformat() if self.answered_at else None
        state["bridges"] = {key: sorted(members) for key, members in self.bridges.items()}
        return json.dumps(state)

    @classmethod
    def from_json(cls, text: str) -> CallState:
        state = json.loads(text)
        known = {k: v for k, v in state.items() if k in cls.__dataclass_fields__}
        known["started_at"] = datetime.fromisoformat(known["started_at"])
        known["last_seen"] = datetime.fromisoformat(known["last_seen"])
        if known.get("answered_at"):
            known["answered_at"] = datetime.fromisoformat(known["answered_at"])
        known["bridges"] = {key: set(members) for key, members in known["bridges"].items()}
        return cls(**known)
