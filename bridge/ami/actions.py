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
