"""Owner alerts by email: an office config pointed at the SMTP double, and the
parts of an email the tests read."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from bridge.config import Config


def config(smtp_port: int, store: Path) -> Config:
    return Config.model_validate(
        {
            "business": {"name": "Acme Roofing", "timezone": "America/Chicago"},
            "ami": {"username": "textback", "secret": "x"},
            "lines": [{"did": "+15125550100", "name": "Main line", "owners": ["mike"]}],
            "owners": [
                {"id": "mike", "name": "Mike", "email": "mike@acme.example"},
                {"id": "sue", "name": "Sue", "email": "sue@acme.example"},  # not this line's
            ],
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "sender": "textback <textback@acme.example>",
                "timeout": 5,
            },
            "store": {"path": str(store)},
        },
        context={"region": "US"},
    )


def plain_part(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())
