"""The ``textback`` command.

click parses arguments; rich draws tables. A user error (bad config, missing
file, unreadable store) prints one clear message and exits non-zero, never a
traceback; the exit codes are in bridge.cli.common. One module per group of
commands; each registers its commands on the one ``main`` group.
"""

from bridge.cli import (
    checks,
    daemon,
    demo,
    history,
    inbox,
    ledger,
    modem,
    recordings,
    retention,
    settings,
    store_copy,
)
from bridge.cli.common import main

__all__ = [
    "checks",
    "daemon",
    "demo",
    "history",
    "inbox",
    "ledger",
    "main",
    "modem",
    "recordings",
    "retention",
    "settings",
    "store_copy",
]
