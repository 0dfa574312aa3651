"""Texting through Asterisk's own SIP stack: the AMI ``MessageSend`` action.

For offices whose SIP trunk provider carries SMS. The bridge writes no SIP:
Asterisk's PJSIP endpoint for the trunk sends a SIP MESSAGE to the provider,
which delivers it as a text. This transport only asks for AMI actions, over
the bridge's one AMI connection, through the small :class:`AmiActions`
interface it declares here (the bridge hands it its link's):

- out: ``MessageSend`` to ``pjsip:<endpoint>/sip:<number>@<host>``, from
  ``sip:<line>@<host>`` (the link sends the body base64-encoded, so accents,
  emoji and line breaks pass untouched through the AMI framing);
- in: the provider's MESSAGE lands in the endpoint's ``message_context``,
  whose dialplan (config/asterisk/extensions.conf) raises
  ``UserEvent(TextbackSMS, From: ..., To: ..., Body: ...)`` with each value
  URIENCODEd; the bridge hands that event here as plain headers.

What Asterisk's answer means (main/message.c, Asterisk 22): ``Success`` is
"handed to the SIP stack", not delivered - SIP MESSAGE has no delivery
report here. Each ``Error`` is mapped to retryable or permanent below.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol
from urllib.parse import unquote

from sms_gateway.base import (
    Handover,
    IncomingText,
    SendError,
    SendResult,
    TransportSink,
    TransportStatus,
)
from sms_gateway.safe_text import printable
from sms_gateway.settings import SipSettings

log = logging.getLogger(__name__)

# Set on every text (MessageSend's Variable; PJSIP sends it as a header): one
# text's attempts carry one value, so a trunk can recognise a copy.
TEXT_ID_HEADER = "X-Textback-Id"
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


# The inbound UserEvent's headers, as Asterisk sent them.
UserEvent = Mapping[str, str]
# A sender as SIP gave it -> the number it is (E.164), None if it is none.
Normalise = Callable[[str], str | None]


class ActionReply(Protocol):
    """Asterisk's answer to an action."""

    @property
    def success(self) -> bool: ...

    @property
    def message(self) -> str: ...


class NotSent(ConnectionError):
    """``message_send`` wrote nothing: the link was down when it was asked."""


class AmiActions(Protocol):
    """What this transport needs of an AMI connection. ``message_send`` raises
    NotSent if the link is down, another ConnectionError if it went down while
    the action waited for its answer, and TimeoutError if no answer came in time.
    ``headers`` go as the action's ``Variable`` lines: PJSIP sends each as a
    header of the SIP MESSAGE."""

    def is_connected(self) -> bool: ...

    async def wait_connected(self) -> None: ...

    async def message_send(
        self, destination: str, sender: str, body: str, *, headers: Mapping[str, str]
    ) -> ActionReply: ...


class SipMessageTransport:
    name = "sip"
    # Up exactly while the AMI link is: the bridge hears of that from the link.
    on_state: Callable[[bool, str], None] | None = None

    def __init__(
        self,
        settings: SipSettings,
        link: AmiActions,
        *,
        normalise: Normalise,
        default_line: str,
        clock: Callable[[], datetime],
    ):
        self.settings = settings
        self.link = link
        self.normalise = normalise
        self.default_line = default_line  # the From of a text that names no line
        self.clock = clock
        self._inbound: asyncio.Queue[UserEvent] = asyncio.Queue()

    # ------------------------------------------------------------ out

    def destination(self, number: str) -> str:
        return f"pjsip:{self.settings.endpoint}/{self._uri(number)}"

    def sender(self, line: str) -> str:
        return self._uri(line)

    @staticmethod
    def text_id(key: int, line: str) -> str:
        """The same on every attempt at one text: its key, and the line it is from
        (two offices on one trunk have keys of their own)."""
        return f"{key}.{line.lstrip('+')}"

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
        slots: Sequence[int] = (),  # SIP keeps nothing to settle a text from
        on_handover: Handover | None = None,
        from_line: str | None = None,
    ) -> SendResult:
        """One MessageSend. SIP has no duplicate detection of its own: a text a
        crash or a lost answer left unconfirmed is sent again, carrying the same
        ``X-Textback-Id`` header, which a trunk may use to drop the copy
        (docs/sip.md says what is guaranteed)."""
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
        line = from_line or self.default_line
        destination, sender = self.destination(to), self.sender(line)
        if on_handover is not None:
            await on_handover(())
        try:
            reply = await self.link.message_send(
                destination, sender, body, headers={TEXT_ID_HEADER: self.text_id(key, line)}
            )
        except TimeoutError:
            raise SendError(
                "no answer to MessageSend in time; it may have gone out",
                retryable=True,
                maybe_sent=True,
            ) from None
        except NotSent as exc:
            raise SendError(f"AMI: {printable(str(exc))}", retryable=True) from exc
        except ConnectionError as exc:  # the link went down meanwhile
            # Before or after Asterisk read the action, nobody can tell.
            raise SendError(
                f"AMI: {printable(str(exc))}; it may have gone out", retryable=True, maybe_sent=True
            ) from exc
        if reply.success:
            return SendResult(references=(), parts=1)
        message = printable(reply.message).strip() or "no reason given"
        retryable, meaning = _ERRORS.get(message.lower(), (True, "unknown error"))
        raise SendError(f"MessageSend refused: {message} ({meaning})", retryable=retryable)

    def holds(self, slots: Collection[int]) -> None:
        """SIP keeps nothing of a text to settle it from."""

    async def release(self, slots: Sequence[int]) -> None:
        """SIP keeps nothing of a text to settle it from."""

    # ------------------------------------------------------------ in

    def accepts(self, event: UserEvent) -> bool:
        """Whether an AMI event is an inbound text raised by the shipped dialplan."""
        return (
            event.get("Event") == "UserEvent"
            and event.get("UserEvent", "").lower() == self.settings.inbound_event.lower()
        )

    def hand_over(self, event: UserEvent) -> None:
        """From the AMI callback (no awaiting there): ``run`` stores it."""
        self._inbound.put_nowait(event)

    async def run(self, sink: TransportSink) -> None:
        """Hands inbound texts to the sink; the AMI link itself is the bridge's."""
        while True:
            event = await self._inbound.get()
            text = self.incoming(event)
            if text is None:
                log.warning(
                    "an inbound SIP message with no usable sender was skipped: From %r",
                    printable(unquote(event.get("From", "")), 80),
                )
                continue
            await sink.incoming_text(text)

    def incoming(self, event: UserEvent) -> IncomingText | None:
        sender = sip_number(unquote(event.get("From", "")), self.normalise)
        if sender is None:
            return None
        body = unquote(event.get("Body", ""), encoding="utf-8", errors="replace")
        to = sip_number(unquote(event.get("To", "")), self.normalise)
        return IncomingText(sender=sender, body=body, received_at=self.clock(), to=to)

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


def sip_number(value: str, normalise: Normalise) -> str | None:
    """The phone number in a SIP From such as ``"Jane" <sip:+15125559876@host>``."""
    found = _SIP_USER.search(value)
    user = found.group(1) if found else value.strip()
    return normalise(user)
