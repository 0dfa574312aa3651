"""Which SMS transport a text goes through: its line's list, in order of
preference (config: ``lines[].transports``), skipping any that is down, and
starting one further along after each failed attempt - so an office can text
from its main number over SIP and fall back to the modem. A text that may
have gone out is bound to the transport that had it: only there can it be
settled without the caller getting it twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

from bridge.config import Config
from sms_gateway.base import BatchSending, SmsTransport


class Transports:
    def __init__(
        self,
        available: Mapping[str, SmsTransport],
        order: Callable[[str | None], Sequence[str]],
    ):
        self.available = dict(available)
        # Those that send batches, found once: an isinstance against a
        # runtime-checkable Protocol looks up each of its members (~0.1 ms).
        self.batching: dict[str, BatchSending] = {
            name: t for name, t in self.available.items() if isinstance(t, BatchSending)
        }
        self._order = order

    @classmethod
    def for_config(cls, config: Config, available: Mapping[str, SmsTransport]) -> Transports:
        """``available`` by config name ("modem", "sip"). A line that lists no
        transports may use any, the modem first."""
        everything = sorted(available, key=("modem", "sip").index)

        def order(did: str | None) -> Sequence[str]:
            line = config.line_for(did)
            return line.transports if line is not None and line.transports else everything

        return cls(available, order)

    @classmethod
    def only(cls, transport: SmsTransport) -> Transports:
        """Every text through ``transport``."""
        return cls({transport.name: transport}, lambda line: (transport.name,))

    def __iter__(self) -> Iterator[SmsTransport]:
        return iter(self.available.values())

    def __len__(self) -> int:
        return len(self.available)

    def choose(
        self, line: str | None, attempts: int, *, pinned: str | None = None
    ) -> SmsTransport | None:
        """The transport for a text from ``line`` that has been tried ``attempts``
        times; only ``pinned``, if given, and None while that one is down."""
        if pinned is not None:
            transport = self.available.get(pinned)
            return transport if transport is not None and transport.status().connected else None
        names = [n for n in self._order(line) if n in self.available]
        if not names:
            return None
        start = attempts % len(names)
        for name in names[start:] + names[:start]:
            transport = self.available[name]
            if transport.status().connected:
                return transport
        return None
