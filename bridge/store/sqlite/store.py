"""The SQLite store: every aggregate on one connection, implementing every
interface in bridge.store.interfaces."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from bridge.store.errors import StoreError
from bridge.store.sqlite.alerts import Alerts
from bridge.store.sqlite.backlog import OutboxBacklog
from bridge.store.sqlite.batches import Batches
from bridge.store.sqlite.calls import Calls
from bridge.store.sqlite.connection import Clock, Connection
from bridge.store.sqlite.conversations import Conversations
from bridge.store.sqlite.followup import FollowUp
from bridge.store.sqlite.inbox import Inbox
from bridge.store.sqlite.ledger import Ledger
from bridge.store.sqlite.migrate import schema_version
from bridge.store.sqlite.opening import open_connection
from bridge.store.sqlite.outbox import Outbox
from bridge.store.sqlite.report_days import ReportDays
from bridge.store.sqlite.reports import Reports
from bridge.store.sqlite.retention import Retention


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteStore(
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
    """Open with ``await SqliteStore.open(path)`` (or ``async with``); always close it."""

    def __init__(self, connection: Connection, clock: Clock = _utc_now):
        self._conn = connection
        self._clock = clock
        # The bare connection (database.py), which fault-injecting tests reach for
        # (tests/adapters/test_ami_live.py); the store itself goes through self._conn.
        self._db = connection.raw

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        clock: Clock | None = None,
        read_only: bool = False,
    ) -> SqliteStore:
        """The store at ``path``, migrated to this version's schema.

        ``read_only``: for commands that only read. Nothing is created,
        written or migrated; a file this user may only read is fine; a store
        older or newer than this textback is refused with what to do.
        """
        return cls(await open_connection(Path(path), read_only=read_only), clock or _utc_now)

    @property
    def path(self) -> Path:
        return self._conn.path

    async def close(self) -> None:
        await self._conn.close()

    async def __aenter__(self) -> SqliteStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def schema_version(self) -> int:
        async with self._conn.reading() as sql:
            return await schema_version(sql)

    async def other_offices(self) -> list[str]:
        return []  # a SQLite file is one office's

    async def office_view(self, office: str) -> SqliteStore:
        raise StoreError(f"no office {office!r} in {self.path}: a SQLite store is one office's")
