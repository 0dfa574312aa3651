"""The AMI actions the bridge sends, named by what they are for. Pure: each
returns the action's fields for :meth:`bridge.ami.link.AmiLink.send_action`.

Values from outside (a text's body, an endpoint name) never reach a header
raw: a body always goes base64-encoded, and the link refuses CR/LF in any
value, so nothing can end a header and start an action of its own.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from bridge.ami.bookkeeping import Fields


def login(username: str, secret: str) -> Fields:
    """Log in with events on (the link's whole point is the event stream)."""
    return {"Action": "Login", "Username": username, "Secret": secret, "Events": "on"}


def ping() -> Fields:
    """Keepalive; the answer also carries Asterisk's clock (``Timestamp``)."""
    return {"Action": "Ping"}


def core_show_channels() -> Fields:
    """The channels up right now, as an event list of ``CoreShowChannel``."""
    return {"Action": "CoreShowChannels"}


def message_send(
    destination: str,
    body: str,
    sender: str | None = None,
    variables: Mapping[str, str] | None = None,
) -> Fields:
    """A text through Asterisk's message technology (``pjsip:<endpoint>/<uri>``).

    The body goes as ``Base64Body`` (UTF-8): accents, emoji and line breaks
    pass untouched through the AMI framing. ``variables`` are set on the
    message as outbound (main/message.c), and PJSIP sends each as a SIP header.
    """
    fields: dict[str, str | list[str]] = {"Action": "MessageSend", "Destination": destination}
    if sender is not None:
        fields["From"] = sender
    fields["Base64Body"] = base64.b64encode(body.encode("utf-8")).decode("ascii")
    if variables:
        fields["Variable"] = [f"{name}={value}" for name, value in variables.items()]
    return fields


def pjsip_show_endpoint(endpoint: str) -> Fields:
    """One PJSIP endpoint's details (an error if no such endpoint)."""
    return {"Action": "PJSIPShowEndpoint", "Endpoint": endpoint}


def originate_dry_run() -> Fields:
    """An Originate with no Channel: Asterisk checks the user's ``originate``
    class first (Permission denied), then refuses it ("Channel not
    specified") - nothing rings."""
    return {"Action": "Originate", "Async": "true"}


# What Originate's OriginateResponse ``Reason`` says: the last control frame the
# dialled channel sent (include/asterisk/frame.h, AST_CONTROL_*), as
# main/pbx.c's pbx_dial_reason() maps Dial's result onto it.
ORIGINATE_REASONS = {
    "0": "the call could not be placed (no such phone or route)",
    "1": "it was refused or could not be reached",
    "3": "it rang and nobody answered",
    "4": "answered",
    "5": "it was busy",
    "8": "the network was congested",
}


def originate(
    channel: str,
    *,
    context: str,
    exten: str,
    caller_id: str,
    ring_seconds: float,
    variables: Mapping[str, str],
) -> Fields:
    """Ring ``channel`` first; when it answers, it runs ``exten`` in
    ``context`` (priority 1). ``caller_id`` (``"Name" <number>``) is what that
    phone shows, and what the dialplan's onward Dial presents. ``Async``: the
    reply says only that the call was queued; an ``OriginateResponse`` event
    with the same ActionID says how the first leg ended (Success, or Failure
    with a :data:`ORIGINATE_REASONS` reason). Needs the AMI user's
    ``write = originate``."""
    return {
        "Action": "Originate",
        "Channel": channel,
        "Context": context,
        "Exten": exten,
        "Priority": "1",
        "CallerID": caller_id,
        "Timeout": str(int(ring_seconds * 1000)),
        "Variable": [f"{name}={value}" for name, value in variables.items()],
        "Async": "true",
    }
