"""A stand-in SMS transport for outbox tests: always up, keeping nothing of a
text. Subclasses write ``send`` (and ``name``) to script what happens."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

from sms_gateway.base import TransportStatus


class AlwaysUp:
    name = "fake"
    on_state = None

    async def run(self, sink: object) -> None:
        await asyncio.Event().wait()  # nothing arrives through it

    def holds(self, slots: Collection[int]) -> None:
        return None

    async def release(self, slots: Sequence[int]) -> None:
        return None

    def status(self) -> TransportStatus:
        return TransportStatus(self.name, connected=True, registered=True)

    async def wait_ready(self) -> None:
        return None
