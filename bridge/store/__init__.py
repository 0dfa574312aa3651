"""The one place textback keeps state, behind the interfaces its parts use.

Every decision is committed here before anything acts on it, so a crash loses
nothing. Callers import from here: ``Store.open`` (or :func:`open_store`),
the per-consumer interfaces (bridge.store.interfaces), and the exceptions
(bridge.store.errors) - never a backend's own. Two backends: SQLite
(bridge.store.sqlite, the default: a file on this box) and PostgreSQL
(bridge.store.postgres); each one's schema is numbered SQL files, and the
same version number means the same schema in both.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

from bridge.config.store_section import StoreConfig
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
from bridge.store.postgres import (
    DEFAULT_OFFICE,
    PostgresOptions,
    PostgresStore,
    is_postgres_url,
)
from bridge.store.sqlite import SCHEMA_VERSION, Clock, SqliteStore

__all__ = [
    "DEFAULT_OFFICE",
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
    "open_configured",
    "open_store",
    "postgres_options",
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
    def path(self) -> Path:
        """The SQLite file (for PostgreSQL: the database as messages name it)."""
        ...

    @staticmethod
    async def open(
        path: str | Path, *, clock: Clock | None = None, read_only: bool = False
    ) -> Store:
        """The store at ``path``, a file or a URL (see :func:`open_store`)."""
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
    path: str | Path,
    *,
    clock: Clock | None = None,
    read_only: bool = False,
    options: PostgresOptions | None = None,
) -> Store:
    """The store at ``path``, migrated to this version's schema: a SQLite file
    (a path, or ``sqlite:///abs/path``) or a PostgreSQL database
    (``postgresql://user@host/db``, with ``options`` for what the URL does not say).

    ``clock`` stamps every row (tests inject one). ``read_only``: for
    commands that only read - nothing is created, written or migrated, a
    file this user may only read is fine, and a store older or newer than
    this textback is refused with what to do (SchemaMismatch).
    """
    if isinstance(path, str) and is_postgres_url(path):
        return await PostgresStore.open(path, clock=clock, read_only=read_only, options=options)
    return await SqliteStore.open(_sqlite_file(path), clock=clock, read_only=read_only)


def _sqlite_file(path: str | Path) -> Path:
    if isinstance(path, str) and path.startswith("sqlite:///"):
        return Path("/" + path.removeprefix("sqlite:///").lstrip("/"))
    return Path(path)


def postgres_options(config: StoreConfig, office: str = DEFAULT_OFFICE) -> PostgresOptions:
    """How to reach the PostgreSQL store ``store:`` names, as ``office``."""
    password = config.password.get_secret_value() if config.password else None
    return PostgresOptions(password, config.ssl_mode, config.ca_file, config.pool_size, office)


async def open_configured(
    config: StoreConfig,
    *,
    office: str = DEFAULT_OFFICE,
    clock: Clock | None = None,
    read_only: bool = False,
) -> Store:
    """The store ``store:`` in textback.yaml names, with its TLS and pool
    settings; ``office`` (office.id) is whose rows a shared PostgreSQL store
    shows and takes (a SQLite file is one office's)."""
    url = config.postgres_url
    if url is None:
        return await SqliteStore.open(config.sqlite_path, clock=clock, read_only=read_only)
    options = postgres_options(config, office)
    return await PostgresStore.open(url, clock=clock, read_only=read_only, options=options)
