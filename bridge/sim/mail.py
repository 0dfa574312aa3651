"""A real SMTP server on loopback (aiosmtpd) that keeps what it is given:
the demo shows owner emails with it, the tests read them back."""

from __future__ import annotations

import asyncio
import email
import email.policy
import warnings
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP as SmtpSession
from aiosmtpd.smtp import AuthResult


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.arrived = asyncio.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.arrived.set()
        return "250 OK"


class MailCatcher:
    """``await start()`` on a free loopback port (or a given one); ``await stop()``."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.mailbox = Mailbox()
        self.credentials = credentials  # when set, AUTH is required (no TLS on loopback)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: list[SmtpSession] = []

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        # aiosmtpd's own Controller runs a second event loop in a thread; one
        # loop is simpler to stop and to reason about.
        self._server = await loop.create_server(self._session, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    def _session(self) -> SmtpSession:
        if self.credentials is None:
            session = SmtpSession(self.mailbox, hostname="textback-demo.localhost")
        else:
            with warnings.catch_warnings():
                # AUTH without TLS: a loopback double, for checking logins only.
                warnings.simplefilter("ignore", UserWarning)
                session = SmtpSession(
                    self.mailbox,
                    hostname="textback-demo.localhost",
                    authenticator=self._authenticate,
                    auth_required=True,
                    auth_require_tls=False,
                )
        self._sessions.append(session)
        return session

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        wanted = self.credentials
        given = (auth_data.login.decode(), auth_data.password.decode())
        # handled=False: aiosmtpd itself answers 535 to a wrong password.
        return AuthResult(success=wanted is not None and given == wanted, handled=False)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # A client cancelled mid-dialogue leaves its session open; wait_closed()
            # would wait for it for ever.
            for session in self._sessions:
                if isinstance(session.transport, asyncio.Transport):
                    session.transport.abort()
            await self._server.wait_closed()
            self._server = None
