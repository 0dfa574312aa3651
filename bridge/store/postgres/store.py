"""The PostgreSQL store: every aggregate on one pool, implementing every
interface in bridge.store.interfaces.

Each aggregate is a module with the same name and the same methods as its
SQLite twin in bridge/store/sqlite; a new interface method is added to both,
and the contract suite (tests/contract/) runs it on both."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from bridge.store.errors import StoreError
from bridge.store.postgres.alerts import Alerts
from bridge.store.postgres.backlog import OutboxBacklog
from bridge.store.postgres.batches import Batches
from bridge.store.postgres.calls import Calls
from bridge.store.postgres.connection import Clock, Database
from bridge.store.postgres.conversations import Conversations
from bridge.store.postgres.followup import FollowUp
from bridge.store.postgres.inbox import Inbox
from bridge.store.postgres.ledger import Ledger
from bridge.store.postgres.migrate import schema_version
from bridge.store.postgres.offices import OfficeViews
from bridge.store.postgres.opening import PostgresOptions, open_database
from bridge.store.postgres.outbox import Outbox
from bridge.store.postgres.report_days import ReportDays
from bridge.store.postgres.reports import Reports
from bridge.store.postgres.retention import Retention


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PostgresStore(
    Calls,
    Outbox,
    OutboxBacklog,
    Batches,
    Conversations,
    Alerts,
    FollowUp,
    Reports,
    ReportDays,
    Retention,
    Inbox,
    Ledger,
):
    """Open with ``await PostgresStore.open(url)`` (or ``async with``); always close it."""

    def __init__(
        self, database: Database, clock: Clock = _utc_now, views: OfficeViews | None = None
    ):
        self._conn = database
        self._clock = clock
        self._views = views  # None: a view of another office itself, or no way to open one

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Clock | None = None,
        read_only: bool = False,
        options: PostgresOptions | None = None,
    ) -> PostgresStore:
        """The store in the database at ``path`` (a postgresql:// URL), migrated
        to this version's schema (``read_only``: checked to be at it, and only read)."""
        url, options = str(path), options or PostgresOptions()
        database = await open_database(url, options, read_only=read_only)
        return cls(database, clock or _utc_now, OfficeViews(database, url, options))

    @property
    def path(self) -> Path:
        """No file: the database as messages name it (``store.url`` without its password)."""
        return Path(self._conn.where)

    @property
    def where(self) -> str:
        return self._conn.where

    async def close(self) -> None:
        if self._views is not None:
            await self._views.close()
        await self._conn.close()

    async def __aenter__(self) -> PostgresStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self._conn.pool.acquire() as conn:
            return await schema_version(conn)

    async def other_offices(self) -> list[str]:
        return [] if self._views is None else await self._views.others()

    async def office_view(self, office: str) -> PostgresStore:
        if self._views is None:
            raise StoreError(f"no view of office {office!r} from here")
        return PostgresStore(await self._views.database(office), self._clock)
