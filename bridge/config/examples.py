"""Values the installer left as the example has them: `check-config` warns of
each, `run` refuses them unless the config says `lab: true` (mautrix's
ForbiddenDefault)."""

from __future__ import annotations

import re

from bridge.config.schema import Config

EXAMPLE_BUSINESS = "Acme Roofing"
# RFC 2606 / 6761: names that can never be anyone's real mail or SIP domain.
_RESERVED_TLDS = frozenset({"example", "invalid", "test"})
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
# NANP numbers reserved for fiction: 555-0100 to 555-0199 in any area code.
_FICTIONAL_NUMBER = re.compile(r"\+1[2-9]\d{2}55501\d{2}")

Loc = tuple[str | int, ...]


def example_values(config: Config) -> list[tuple[Loc, str]]:
    """Values the installer left as the example has them (mautrix's ForbiddenDefault)."""
    found: list[tuple[Loc, str]] = []
    if config.business.name.strip().casefold() == EXAMPLE_BUSINESS.casefold():
        found.append((("business", "name"), f"{EXAMPLE_BUSINESS!r} is the example's name"))
    numbers: list[tuple[Loc, str | None]] = [
        (("lines", i, "did"), line.did) for i, line in enumerate(config.lines)
    ]
    numbers += [(("owners", i, "mobile"), o.mobile) for i, o in enumerate(config.owners)]
    found += [
        (loc, f"{number} is a fictional number (555-0100 to 555-0199)")
        for loc, number in numbers
        if number is not None and _FICTIONAL_NUMBER.fullmatch(number)
    ]
    found += [
        (loc, f"{value} is in a reserved example domain ({domain})")
        for loc, value in _domain_values(config)
        if (domain := _reserved_domain(value)) is not None
    ]
    return found


def _domain_values(config: Config) -> list[tuple[Loc, str]]:
    values: list[tuple[Loc, str | None]] = [
        (("owners", i, "email"), o.email) for i, o in enumerate(config.owners)
    ]
    if config.smtp is not None:
        smtp = config.smtp
        values += [(("smtp", "host"), smtp.host), (("smtp", "username"), smtp.username)]
        values.append((("smtp", "sender"), smtp.sender))
    if config.sip is not None:
        values.append((("sip", "host"), config.sip.host))
    return [(loc, value) for loc, value in values if value]


def _reserved_domain(value: str) -> str | None:
    """The reserved domain in a host, an address or a 'Name <address>' sender."""
    address = value.rsplit("<", 1)[-1].rstrip(">").strip()
    host = address.rpartition("@")[2].split(":", 1)[0].rstrip(".").lower()
    if host.rpartition(".")[2] in _RESERVED_TLDS:
        return "." + host.rpartition(".")[2]
    return next((d for d in _RESERVED_DOMAINS if host == d or host.endswith("." + d)), None)
