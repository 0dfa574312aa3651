"""The one place textback keeps state, behind the interfaces its parts use.

Every decision is committed here before anything acts on it, so a crash loses
nothing. Callers import from here: ``Store.open`` (or :func:`open_store`),
the per-consumer interfaces (bridge.store.interfaces), and the exceptions
(bridge.store.errors) - never a backend's own. Today's backend is SQLite
(bridge.store.sqlite); its schema is numbered SQL files.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

from bridge.store.errors import (
    ConstraintViolation,
    ReadOnlyStore,
    SchemaMismatch,
    StoreError,
    StoreUnavailable,
)
from bridge.store.interfaces import (
    AlertStore,
    ClickToCallStore,
    FollowUpStore,
    HistoryStore,
    InboundStore,
    IntakeStore,
    OpsStore,
    OutboxStore,
    RecorderStore,
    RecordsStore,
    ReportStore,
    RetentionStore,
    WebReportStore,
    WebStore,
)
from bridge.store.sqlite import SCHEMA_VERSION, Clock, SqliteStore

__all__ = [
    "SCHEMA_VERSION",
    "AlertStore",
    "ClickToCallStore",
    "ConstraintViolation",
    "FollowUpStore",
    "HistoryStore",
    "InboundStore",
    "IntakeStore",
    "OpsStore",
    "OutboxStore",
    "ReadOnlyStore",
    "RecorderStore",
    "RecordsStore",
    "ReportStore",
    "RetentionStore",
    "SchemaMismatch",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "WebReportStore",
    "WebStore",
    "open_store",
]


class Store(
    RecorderStore,
    IntakeStore,
    OutboxStore,
    InboundStore,
    AlertStore,
    FollowUpStore,
    HistoryStore,
    RetentionStore,
    WebStore,
    OpsStore,
    RecordsStore,
    ClickToCallStore,
    Protocol,
):
    """Every interface at once: what the composition root (bridge.app) and the
    tests hold. Open with ``await Store.open(path)`` (or ``async with``);
    always close it."""

    @property
    def path(self) -> Path: ...

    @staticmethod
    async def open(
        path: str | Path, *, clock: Clock | None = None, read_only: bool = False
    ) -> Store:
        """The store at ``path`` (see :func:`open_store`)."""
        return await open_store(path, clock=clock, read_only=read_only)

    async def close(self) -> None: ...

    async def __aenter__(self) -> Store: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def schema_version(self) -> int: ...

    async def set_opt_out(
        self, number: str, *, opted_out: bool, keyword: str, source: str, at: datetime
    ) -> None:
        """STOP or START from elsewhere than a text; STOP cancels what is queued."""
        ...


async def open_store(
    path: str | Path, *, clock: Clock | None = None, read_only: bool = False
) -> Store:
    """The store at ``path``, migrated to this version's schema.

    ``clock`` stamps every row (tests inject one). ``read_only``: for
    commands that only read - nothing is created, written or migrated, a
    file this user may only read is fine, and a store older or newer than
    this textback is refused with what to do (SchemaMismatch).
    """
    return await SqliteStore.open(path, clock=clock, read_only=read_only)
