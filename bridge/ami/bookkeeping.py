"""Sans-I/O AMI action bookkeeping: actions out as bytes, replies in as messages.

:class:`ActionBook` gives each action an ActionID and its wire form, matches
the messages the framer parses to the action that asked, and collects an
event list (``EventList: start``, the events, the ``...Complete`` event) into
one :class:`AmiReply`; an action whose outcome comes later as an event of
its own (``Originate`` with ``Async: true`` -> ``OriginateResponse``) is
followed after its reply until that event. It never touches a socket or a future: the asyncio
protocol (bridge.ami.protocol) moves bytes and resolves futures around it,
and tests feed it messages directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bridge.ami.framer import AmiMessage

# What an action is made of: header -> value, or values for a repeated header
# (``Variable: a=1``, ``Variable: b=2``).
Fields = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class AmiReply:
    """Asterisk's whole answer to one action."""

    response: str  # "Success", "Error", "Goodbye"...
    message: str  # Asterisk's words, untrusted: escape before showing
    headers: AmiMessage  # the Response message itself
    events: tuple[AmiMessage, ...] = ()  # an event list's items, its Complete event last

    @property
    def success(self) -> bool:
        return self.response.lower() == "success"

    def get(self, key: str, default: str = "") -> str:
        """A header of the Response (``Ping``, ``Timestamp``...)."""
        return self.headers.get(key, default)


@dataclass(frozen=True, slots=True)
class Taken:
    """A message that belonged to a pending action; ``reply`` once it is complete."""

    action_id: str
    reply: AmiReply | None = None
    follow_up: bool = False  # ``reply`` is the event the action was followed to


@dataclass(slots=True)
class _Pending:
    response: AmiMessage | None = None
    listing: bool = False  # the response said an event list follows
    events: list[AmiMessage] = field(default_factory=list)
    then: str | None = None  # after a successful reply, follow the action to this event


class ActionBook:
    """The actions of one connection that wait for their answer."""

    def __init__(self, prefix: str = "textback") -> None:
        self._prefix = prefix
        self._issued = 0
        self._pending: dict[str, _Pending] = {}
        self._following: dict[str, str] = {}  # ActionID -> the event that ends it

    def __len__(self) -> int:
        return len(self._pending) + len(self._following)

    def request(self, fields: Fields, *, then: str | None = None) -> tuple[str, bytes]:
        """Register an action; its ActionID and the bytes to write.

        Raises ValueError for a value with CR or LF (it would end the header
        and start an action of its own), a key that is not a plain header
        name, no ``Action``, or an ``ActionID`` of the caller's own. ``then``:
        once the reply is a success, the event (with this ActionID) that
        completes the action, taken as a second :class:`Taken` (``follow_up``).
        """
        self._issued += 1
        action_id = f"{self._prefix}-{self._issued}"
        wire = encode(fields, action_id)
        self._pending[action_id] = _Pending(then=then)
        return action_id, wire

    def receive(self, message: AmiMessage) -> Taken | None:
        """None: the message answers no pending action (an event for the
        bridge, or a late answer to an action given up on)."""
        if not self._pending and not self._following:
            return None  # the usual case: events only, nothing to look up
        action_id = message.get("ActionID")
        if not action_id:
            return None
        if message.event is not None and self._following.get(action_id) == message.event:
            del self._following[action_id]
            reply = AmiReply(message.get("Response"), message.get("Message"), message)
            return Taken(action_id, reply, follow_up=True)
        pending = self._pending.get(action_id)
        if pending is None:
            return None
        if pending.response is None and message.response is not None:
            pending.response = message
            pending.listing = _starts_list(message)
            if not pending.listing:
                return self._complete(action_id, pending)
            return Taken(action_id)
        pending.events.append(message)
        if pending.response is not None and _ends_list(message):
            return self._complete(action_id, pending)
        return Taken(action_id)

    def forget(self, action_id: str) -> None:
        """The caller gave up (timeout, cancel): a late answer is not taken."""
        self._pending.pop(action_id, None)
        self._following.pop(action_id, None)

    def lose_all(self) -> list[str]:
        """The connection is gone: every pending or followed action, now failed."""
        lost = [*self._pending, *self._following]
        self._pending.clear()
        self._following.clear()
        return lost

    def _complete(self, action_id: str, pending: _Pending) -> Taken:
        del self._pending[action_id]
        response = pending.response
        assert response is not None
        reply = AmiReply(
            response=response.response or "",
            message=response.get("Message"),
            headers=response,
            events=tuple(pending.events),
        )
        if pending.then is not None and reply.success:
            self._following[action_id] = pending.then
        return Taken(action_id, reply)


def encode(fields: Fields, action_id: str) -> bytes:
    """``Action`` first, then each header in order (a list: the header repeated),
    then the ActionID; a blank line ends the action."""
    action = fields.get("Action")
    if not isinstance(action, str) or not action:
        raise ValueError("an AMI action needs an 'Action' header")
    lines = [f"Action: {_checked('Action', action)}"]
    for key, value in fields.items():
        if key.lower() == "actionid":
            raise ValueError("the link sets ActionID itself")
        if key == "Action":
            continue
        _check_key(key)
        for one in [value] if isinstance(value, str) else value:
            lines.append(f"{key}: {_checked(key, one)}")
    lines.append(f"ActionID: {action_id}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _check_key(key: str) -> None:
    if not key or ":" in key or key != key.strip() or "\r" in key or "\n" in key:
        raise ValueError(f"AMI action field {key!r} is not a header name (a line break?)")


def _checked(key: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI action field {key!r} contains a line break")
    return value


def _starts_list(response: AmiMessage) -> bool:
    # Asterisk 12+ says EventList: start; older list actions only "... will follow".
    return (
        response.get("EventList").lower() == "start"
        or "will follow" in response.get("Message").lower()
    )


def _ends_list(event: AmiMessage) -> bool:
    name = event.event or ""
    return event.get("EventList").lower() == "complete" or name.endswith("Complete")
