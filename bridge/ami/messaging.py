"""The bridge's AMI link as the SIP transport sees it
(:class:`sms_gateway.sip_messages.AmiActions`): connected or not, and one
action, MessageSend, built by :func:`bridge.ami.actions.message_send`."""

from __future__ import annotations

from collections.abc import Mapping

from bridge.ami import actions
from bridge.ami.bookkeeping import AmiReply
from bridge.ami.errors import NotConnected
from bridge.ami.link import AmiLink
from sms_gateway.sip_messages import NotSent


class MessageSendActions:
    def __init__(self, link: AmiLink):
        self._link = link

    def is_connected(self) -> bool:
        return self._link.is_connected()

    async def wait_connected(self) -> None:
        await self._link.wait_connected()

    async def message_send(
        self, destination: str, sender: str, body: str, *, headers: Mapping[str, str]
    ) -> AmiReply:
        """NotSent (the link is down), ConnectionLost or TimeoutError if the link
        cannot carry it; Asterisk's refusal is a reply, not an error."""
        action = actions.message_send(destination, body, sender=sender, variables=headers)
        try:
            return await self._link.send_action(action)
        except NotConnected as exc:
            raise NotSent(str(exc)) from None
