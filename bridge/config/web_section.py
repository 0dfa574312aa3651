"""The web section: the owner inbox (docs/inbox.md) and its canned replies."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bridge.config.fields import Port, Secret, Section, Template, located, printable_text

__all__ = ["CannedReply", "WebConfig"]


class CannedReply(Section):
    """A ready answer the inbox's reply box offers, filled like the text templates."""

    name: Annotated[str, Field(min_length=1, max_length=60), AfterValidator(printable_text)]
    template: Template


class WebConfig(Section):
    """The owner inbox (docs/inbox.md): off unless this section is present."""

    host: str = "127.0.0.1"  # loopback: put a TLS reverse proxy in front for phones
    port: Port = 8025
    # Signs the session cookies. None: one is made on first start and kept in
    # a 0600 file beside the store (textback.web-secret).
    session_secret: Secret | None = None
    session_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 12.0
    # Cookies only over https: set when the proxy serves https; a request from
    # a trusted proxy saying X-Forwarded-Proto: https gets them too.
    secure_cookies: bool = False
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    canned_replies: tuple[CannedReply, ...] = ()

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise PydanticCustomError(
                "secret", "{message}", {"message": "at least 16 characters (a random string)"}
            )
        return value

    @model_validator(mode="after")
    def _names_once(self) -> WebConfig:
        names = [reply.name for reply in self.canned_replies]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise located(("canned_replies", i, "name"), f"{name!r} is used twice")
        return self
