"""The in-process event bus: what happened, told to whoever listens.

Publishers and subscribers share only the event types (bridge.core.events):
the outbox worker wakes when a text is queued, the alert worker when an
urgent reply arrives, the heartbeat when a link or a transport changes state;
later the owner inbox's live page and the metrics endpoint listen too. Wired
once, in bridge.app.

Delivery is synchronous and must not block: a subscriber sets an event, puts
on a queue, counts. One that raises is logged (once per subscriber and event
type) and the others still hear: a listener can never stop the bridge.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

_E = TypeVar("_E")
Handler = Callable[[Any], None]


class Bus:
    def __init__(self) -> None:
        self._subscribers: defaultdict[type, list[Handler]] = defaultdict(list)
        self._failed: set[tuple[int, type]] = set()

    def subscribe(self, kind: type[_E], handler: Callable[[_E], None]) -> None:
        """Call ``handler`` with every event of ``kind`` (or of a subclass)."""
        self._subscribers[kind].append(handler)

    def publish(self, event: object) -> None:
        for kind in type(event).__mro__:
            for handler in self._subscribers.get(kind, ()):
                self._deliver(handler, kind, event)

    def _deliver(self, handler: Handler, kind: type, event: object) -> None:
        try:
            handler(event)
        except Exception:
            key = (id(handler), kind)
            if key not in self._failed:
                self._failed.add(key)
                log.exception("a listener failed on %s; the others were told", kind.__name__)
