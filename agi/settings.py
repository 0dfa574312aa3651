"""What the FastAGI server is told, in its own terms (the bridge maps its
config's ``agi:`` section onto it: bridge/app_settings.py)."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network


@dataclass(frozen=True, slots=True)
class AgiSettings:
    host: str  # where to listen; loopback unless the PBX is another machine
    port: int
    allow: tuple[IPv4Network | IPv6Network, ...]  # the peers that may report calls
    header_timeout: float  # seconds a client has to send its whole request
