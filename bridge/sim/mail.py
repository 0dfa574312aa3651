"""A real SMTP server on loopback (aiosmtpd) that keeps what it is given:
the demo shows owner emails with it, the tests read them back."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
import warnings
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP as SmtpSession
from aiosmtpd.smtp import AuthResult


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.encrypted: list[bool] = []  # per message: was the session under TLS?

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        # STARTTLS or TLS from the first byte: either way the transport is TLS now.
        self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        return "250 OK"


class MailCatcher:
    """``await start()`` on a free loopback port (or a given one); ``await stop()``.

    ``credentials``: AUTH required. ``tls``: a server certificate context, with
    ``implicit_tls`` for TLS from the first byte (port 465 style), else
    STARTTLS required before anything else.
    """

    def __init__(
        self,
        credentials: tuple[str, str] | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.mailbox = Mailbox()
        self.credentials = credentials
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: list[SmtpSession] = []

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        # aiosmtpd's own Controller runs a second event loop in a thread; one
        # loop is simpler to stop and to reason about.
        self._server = await loop.create_server(
            self._session,
            "127.0.0.1",
            port,
            ssl=self.tls if self.implicit_tls else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _session(self) -> SmtpSession:
        options: dict[str, Any] = {}
        if self.tls is not None and not self.implicit_tls:
            options |= {"tls_context": self.tls, "require_starttls": True}
        if self.credentials is not None:
            options |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                # aiosmtpd only knows about STARTTLS; implicit TLS is TLS too.
                "auth_require_tls": self.tls is not None and not self.implicit_tls,
            }
        with warnings.catch_warnings():
            # AUTH without TLS: a loopback double, for checking logins only.
            warnings.simplefilter("ignore", UserWarning)
            session = SmtpSession(self.mailbox, hostname="textback-demo.localhost", **options)
        self._sessions.append(session)
        return session

    @property
    def connections(self) -> int:
        """SMTP sessions opened so far."""
        return len(self._sessions)

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
