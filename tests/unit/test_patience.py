"""An auxiliary worker waits out an unreachable store, each refusal counted,
and anything else still goes to the supervisor."""

from __future__ import annotations

import pytest

from bridge.bus import Bus
from bridge.core.events import StoreFailed
from bridge.ops.patience import patient
from bridge.store import StoreUnavailable


async def test_a_worker_waits_for_the_store_and_goes_on() -> None:
    bus, failed = Bus(), []
    bus.subscribe(StoreFailed, failed.append)
    runs = []

    async def outbox() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise StoreUnavailable("the PostgreSQL server cannot be reached")

    await patient("outbox", outbox, bus, most=0.01)()
    assert len(runs) == 3
    assert failed == [StoreFailed("outbox", "StoreUnavailable")] * 2


async def test_any_other_failure_is_the_supervisors() -> None:
    async def broken() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await patient("outbox", broken, Bus(), most=0.01)()
