"""Fixtures every tier uses, and each test's tier marker, taken from its folder.

The tiers (README.md, Tests): unit, contract, adapters, system, upstream -
one folder each under tests/. A test is marked with its folder's name here, so
``pytest -m unit`` runs one tier and nobody has to remember to mark.
Helpers that are not fixtures live in tests/support/.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bridge.detection.rules import DetectionRules
from bridge.sim.ami_server import FakeAsterisk
from tests.support.ami import SECRET
from tests.support.postgres_server import PostgresServer, serve

# The `chromium` fixture (a real browser for the inbox's tests) lives with its helpers.
pytest_plugins = ("tests.support.browser",)

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "contract", "adapters", "system", "upstream")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path).resolve()
        folder = path.relative_to(TESTS).parts[0] if path.is_relative_to(TESTS) else ""
        if folder not in TIERS:
            raise pytest.UsageError(
                f"{item.nodeid}: every test belongs in a tier folder, one of "
                f"tests/{{{','.join(TIERS)}}}/ (README.md, Tests, says which)"
            )
        item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture
def rules() -> DetectionRules:
    return DetectionRules(
        inbound_contexts=frozenset({"from-trunk", "from-pstn"}),
        internal_contexts=frozenset({"from-internal"}),
        lines={"+15125550100": "Main line"},
    )


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    async with FakeAsterisk(secret=SECRET) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session (tests/support/postgres_server.py),
    started only when a test asks for it."""
    yield from serve()
