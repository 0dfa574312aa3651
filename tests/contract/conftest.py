"""The contract suite's store: one per implementation, each test run over all
of them. A new backend adds its opener to BACKENDS and must pass unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bridge.store import Store
from bridge.store.postgres import PostgresStore
from bridge.store.sqlite import SqliteStore
from tests.support.store_values import Clock, Opener


async def _sqlite(request: pytest.FixtureRequest) -> Opener:
    path = request.getfixturevalue("tmp_path") / "contract.db"

    async def open_sqlite(clock: Clock) -> Store:
        return await SqliteStore.open(path, clock=clock)

    return open_sqlite


async def _postgres(request: pytest.FixtureRequest) -> Opener:
    # The server starts with the first test that needs it; each test has its own database.
    url = await request.getfixturevalue("postgres_server").fresh("contract")

    async def open_postgres(clock: Clock) -> Store:
        return await PostgresStore.open(url, clock=clock)

    return open_postgres


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Awaitable[Opener]]] = {
    "sqlite": _sqlite,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest) -> Opener:
    """Open the test's database; call again for a second connection or a restart."""
    return await BACKENDS[request.param](request)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(backend: Opener, clock: Clock) -> AsyncIterator[Store]:
    async with await backend(clock) as opened:
        yield opened
