"""Texting through Asterisk's own SIP stack: the AMI ``MessageSend`` action.

For offices whose SIP trunk provider carries SMS. The bridge writes no SIP:
Asterisk's PJSIP endpoint for the trunk sends a SIP MESSAGE to the provider,
which delivers it as a text. This transport only speaks AMI, over the
bridge's one AMI connection:

- out: ``Action: MessageSend`` with ``Destination: pjsip:<endpoint>/sip:<number>@<host>``,
  ``From: sip:<line>@<host>`` and the body as ``Base64Body`` (UTF-8, so
  accents, emoji and line breaks pass untouched through the AMI framing);
- in: the provider's MESSAGE lands in the endpoint's ``message_context``,
  whose dialplan (config/asterisk/extensions.conf) raises
  ``UserEvent(TextbackSMS, From: ..., To: ..., Body: ...)`` with each value
  URIENCODEd; the bridge hands that event here.

What Asterisk's answer means (main/message.c, Asterisk 22): ``Success`` is
"handed to the SIP stack", not delivered - SIP MESSAGE has no delivery
report here. Each ``Error`` is mapped to retryable or permanent below.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import unquote

from bridge.ami.framer import AmiMessage
from bridge.ami.link import AmiError
from bridge.config import SipConfig
from bridge.core.numbers import to_e164
from bridge.core.safe_text import printable
from sms_gateway.base import IncomingText, SendError, SendResult, TransportSink, TransportStatus

log = logging.getLogger(__name__)

# Asterisk decodes Base64Body into a 1301-byte buffer: anything longer is cut.
MAX_BODY_BYTES = 1300
_DIALLABLE = re.compile(r"\+?[0-9]{3,20}")
_SIP_USER = re.compile(r"sips?:([^@;>\s]+)", re.IGNORECASE)

# Asterisk's error messages for MessageSend -> (retryable, what it means).
_ERRORS: Mapping[str, tuple[bool, str]] = {
    "message failed to send.": (True, "the SIP stack would not take the message"),
    "internal failure": (True, "Asterisk could not allocate the message"),
    "message technology not found.": (
        False,
        "Asterisk has no 'pjsip' message technology: is res_pjsip_messaging loaded?",
    ),
    "no 'to' address specified.": (False, "no destination"),
    "permission denied": (
        False,
        "the AMI user may not send messages: add 'message' to its write= in manager.conf",
    ),
}


class ActionLink(Protocol):
    """What this transport needs of the AMI link (bridge.ami.AmiLink)."""

    def is_connected(self) -> bool: ...

    async def wait_connected(self) -> None: ...

    async def send_action(self, fields: Mapping[str, str | Sequence[str]]) -> Any: ...


class SipMessageTransport:
    name = "sip"
    # Up exactly while the AMI link is: the bridge hears of that from the link.
    on_state: Callable[[bool, str], None] | None = None

    def __init__(
        self,
        settings: SipConfig,
        link: ActionLink,
        *,
        region: str,
        default_line: str,
        clock: Callable[[], datetime],
    ):
        self.settings = settings
        self.link = link
        self.region = region
        self.default_line = default_line  # the From of a text that names no line
        self.clock = clock
        self._inbound: asyncio.Queue[AmiMessage] = asyncio.Queue()

    # ------------------------------------------------------------ out

    def destination(self, number: str) -> str:
        return f"pjsip:{self.settings.endpoint}/{self._uri(number)}"

    def sender(self, line: str) -> str:
        return self._uri(line)

    def _uri(self, number: str) -> str:
        user = number if self.settings.plus_in_uri else number.lstrip("+")
        return f"sip:{user}@{self.settings.host}"

    async def send(
        self,
        to: str,
        body: str,
        *,
        key: int = 0,
        maybe_sent_before: bool = False,
        from_line: str | None = None,
    ) -> SendResult:
        """One MessageSend. SIP has no duplicate detection: a text a crash left
        unconfirmed is sent again (the window is one AMI round trip)."""
        if not _DIALLABLE.fullmatch(to):
            raise SendError(f"not a phone number: {printable(to, 40)!r}", retryable=False)
        data = body.encode("utf-8")
        if len(data) > MAX_BODY_BYTES:
            raise SendError(
                f"{len(data)} bytes is longer than Asterisk's MessageSend takes ({MAX_BODY_BYTES})",
                retryable=False,
            )
        if not self.link.is_connected():
            raise SendError("AMI is not connected", retryable=True)
        action = {
            "Action": "MessageSend",
            "Destination": self.destination(to),
            "From": self.sender(from_line or self.default_line),
            "Base64Body": base64.b64encode(data).decode("ascii"),
        }
        try:
            reply = await self.link.send_action(action)
        except TimeoutError:
            raise SendError("no answer to MessageSend in time", retryable=True) from None
        except (AmiError, OSError) as exc:  # the link went down meanwhile
            raise SendError(f"AMI: {printable(str(exc))}", retryable=True) from exc
        if reply.get("Response", "").lower() == "success":
            return SendResult(references=(), parts=1)
        message = printable(reply.get("Message", "")).strip() or "no reason given"
        retryable, meaning = _ERRORS.get(message.lower(), (True, "unknown error"))
        raise SendError(f"MessageSend refused: {message} ({meaning})", retryable=retryable)

    # ------------------------------------------------------------ in

    def accepts(self, message: AmiMessage) -> bool:
        """Whether an AMI event is an inbound text raised by the shipped dialplan."""
        return (
            message.event == "UserEvent"
            and message.get("UserEvent").lower() == self.settings.inbound_event.lower()
        )

    def hand_over(self, message: AmiMessage) -> None:
        """From the AMI callback (no awaiting there): ``run`` stores it."""
        self._inbound.put_nowait(message)

    async def run(self, sink: TransportSink) -> None:
        """Hands inbound texts to the sink; the AMI link itself is the bridge's."""
        while True:
            message = await self._inbound.get()
            text = self.incoming(message)
            if text is None:
                log.warning(
                    "an inbound SIP message with no usable sender was skipped: From %r",
                    printable(unquote(message.get("From")), 80),
                )
                continue
            await sink.incoming_text(text)

    def incoming(self, message: AmiMessage) -> IncomingText | None:
        sender = sip_number(unquote(message.get("From")), self.region)
        if sender is None:
            return None
        body = unquote(message.get("Body"), encoding="utf-8", errors="replace")
        return IncomingText(sender=sender, body=body, received_at=self.clock())

    # ------------------------------------------------------------ health

    def status(self) -> TransportStatus:
        up = self.link.is_connected()
        return TransportStatus(
            name=self.name,
            connected=up,
            registered=up,
            detail=f"MessageSend via pjsip:{self.settings.endpoint}"
            + ("" if up else " (AMI not connected)"),
        )

    async def wait_ready(self) -> None:
        await self.link.wait_connected()


def sip_number(value: str, region: str) -> str | None:
    """The phone number in a SIP From such as ``"Jane" <sip:+15125559876@host>``."""
    found = _SIP_USER.search(value)
    user = found.group(1) if found else value.strip()
    return to_e164(user, region)
