"""The contract suite's store: one per implementation, each test run over all
of them. A new backend adds its opener to BACKENDS and must pass unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bridge.store import Store
from bridge.store.sqlite import SqliteStore
from tests.support.store_values import Clock, Opener


def _sqlite(tmp_path: Path) -> Opener:
    path = tmp_path / "contract.db"

    async def open_sqlite(clock: Clock) -> Store:
        return await SqliteStore.open(path, clock=clock)

    return open_sqlite


BACKENDS: dict[str, Callable[[Path], Opener]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """Open the test's database; call again for a second connection or a restart."""
    return BACKENDS[request.param](tmp_path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(backend: Opener, clock: Clock) -> AsyncIterator[Store]:
    async with await backend(clock) as opened:
        yield opened
