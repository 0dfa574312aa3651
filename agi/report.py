"""What a FastAGI request from the shipped dialplan says about a call. Pure.

The route is called as
``AGI(agi://127.0.0.1:4573/missed,linkedid=...,did=...,dialstatus=...,...)``
(config/asterisk/extensions.conf): Asterisk sends its ``agi_*`` variables,
the arguments arrive as ``agi_arg_1``... in ``key=value`` form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DialplanReport:
    """A call as the dialplan reports it: the channel's own AGI variables plus
    DIALSTATUS, ANSWEREDTIME, DIALEDPEERNAME, VMSTATUS, VM_MESSAGEFILE,
    QUEUESTATUS, ABANDONED, MEMBERINTERFACE, the channel's state and FROM_DID,
    read when the call ends (the h extension) or after Dial(). Untrusted text,
    all of it."""

    linkedid: str
    channel: str
    context: str
    exten: str
    caller_raw: str
    caller_name: str
    did: str = ""
    dial_status: str = ""
    vm_status: str = ""
    vm_message_file: str = ""
    queue_status: str = ""
    answered_time: str = ""  # ANSWEREDTIME: Dial() connected the caller this many seconds
    dialed_peer: str = ""  # DIALEDPEERNAME: the channel that answered Dial()
    abandoned: str = ""  # ABANDONED: TRUE when the caller hung up waiting in Queue()
    member: str = ""  # MEMBERINTERFACE: the queue member who answered (setinterfacevar)
    channel_state: str = ""  # CHANNEL(state): Up if anything answered the caller


# The keys the shipped dialplan passes, and the report field each fills.
_ARGUMENTS = {
    "linkedid": "linkedid",
    "did": "did",
    "dialstatus": "dial_status",
    "vmstatus": "vm_status",
    "vmfile": "vm_message_file",
    "queuestatus": "queue_status",
    "answeredtime": "answered_time",
    "peer": "dialed_peer",
    "abandoned": "abandoned",
    "member": "member",
    "state": "channel_state",
}
# The h and s extensions name no number; the DNID then says what was dialled.
_NOT_A_NUMBER = frozenset({"h", "s", "i", "t", ""})


def arguments(headers: Mapping[str, str]) -> dict[str, str]:
    """``agi_arg_N: key=value`` headers as a mapping (unknown keys ignored)."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        if name.startswith("agi_arg_"):
            key, sep, text = value.partition("=")
            if sep and key.strip().lower() in _ARGUMENTS:
                found[_ARGUMENTS[key.strip().lower()]] = text.strip()
    return found


def call_report(headers: Mapping[str, str], linkedid: str | None = None) -> DialplanReport | None:
    """The call a request reports; None when it names no call at all."""
    given = arguments(headers)
    linkedid = given.pop("linkedid", "") or linkedid or headers.get("agi_uniqueid", "")
    if not linkedid:
        return None
    extension = headers.get("agi_extension", "")
    return DialplanReport(
        linkedid=linkedid,
        channel=headers.get("agi_channel", ""),
        context=headers.get("agi_context", ""),
        exten=extension if extension not in _NOT_A_NUMBER else headers.get("agi_dnid", ""),
        caller_raw=headers.get("agi_callerid", ""),
        caller_name=headers.get("agi_calleridname", ""),
        **given,
    )
