"""Fixtures only the adapter tests use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mariadb_server import MariaDb, serve


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDb]:
    """A real MariaDB server for the session (tests/support/mariadb_server.py)."""
    yield from serve(tmp_path_factory)
