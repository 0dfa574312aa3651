"""An admin's look at the other offices of a shared database (docs/scale.md):
which offices there are, and each one's rows through a store of its own.

Row security keeps every connection to the office its `textback.office`
setting names, fixed when the pool connects it (opening.py), so another
office is read through another pool: a small one, read-only (its
transactions are), opened at the first look and kept until the store
closes. Nothing here widens what one connection sees.
"""

from __future__ import annotations

import asyncio
import dataclasses

from bridge.store.errors import StoreError
from bridge.store.postgres.connection import Database
from bridge.store.postgres.opening import PostgresOptions, open_database

# An admin's look needs a page at a time, not the bridge's pool.
_VIEW_POOL = 2
# Views kept open at once; the least recently looked at closes first.
_MOST_VIEWS = 8

_OTHERS = "SELECT id FROM offices WHERE id != textback_office() ORDER BY id"


class OfficeViews:
    """The other offices' databases beside ``home``, the store's own, opened
    at ``url`` with ``options``."""

    def __init__(self, home: Database, url: str, options: PostgresOptions):
        self._home = home
        self._url = url
        self._options = options
        self._open: dict[str, Database] = {}
        self._lock = asyncio.Lock()

    async def others(self) -> list[str]:
        async with self._home.reading() as sql:
            return [row[0] for row in await sql.rows(_OTHERS)]

    async def database(self, office: str) -> Database:
        """Office ``office``'s rows, read only. StoreError: no such office here."""
        async with self._lock:
            found = self._open.pop(office, None)
            if found is None:
                if office not in await self.others():
                    raise StoreError(f"no office {office!r} in {self._home.where}")
                options = dataclasses.replace(self._options, office=office, pool_size=_VIEW_POOL)
                found = await open_database(self._url, options, read_only=True)
            self._open[office] = found  # the newest look last
            while len(self._open) > _MOST_VIEWS:
                oldest = next(iter(self._open))
                await self._open.pop(oldest).close()
            return found

    async def close(self) -> None:
        async with self._lock:
            views, self._open = list(self._open.values()), {}
        for database in views:
            await database.close()
