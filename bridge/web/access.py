"""Which threads an owner sees: the lines that list them as an owner (a line
listing nobody is everyone's), every line for an admin; a thread on no known
line is everyone's. Pure, from the config."""

from __future__ import annotations

from bridge.config import Config, OwnerConfig


def lines_seen_by(config: Config, owner: OwnerConfig) -> frozenset[str] | None:
    """The DIDs whose threads ``owner`` sees; None: every line."""
    if owner.admin:
        return None
    seen = frozenset(
        line.did for line in config.lines if not line.owners or owner.id in line.owners
    )
    return None if len(seen) == len(config.lines) else seen


def can_see(lines: frozenset[str] | None, line: str | None) -> bool:
    return lines is None or line is None or line in lines
