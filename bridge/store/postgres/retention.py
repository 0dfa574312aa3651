"""Retention (bridge/store/sqlite/retention.py's twin): bodies blanked a
slice at a time, each slice its own short transaction."""

from __future__ import annotations

from datetime import datetime

from bridge.core.retention import PRUNED, Pruned
from bridge.store.postgres.connection import Aggregate
from bridge.store.sqlite.stamps import iso

_SLICE = 500
_FINISHED = """(thread_id IS NULL OR thread_id IN (SELECT id FROM threads
    WHERE status IN ('handled', 'cold', 'opted_out') AND last_activity_at < :before))"""
_WHAT = {
    "alerts": (
        f"created_at < :before AND state != 'queued'"
        f" AND (body_text != :pruned OR body_html IS NOT NULL) AND {_FINISHED}",
        "body_text = :pruned, body_html = NULL",
    ),
    "outbox": (
        f"created_at < :before AND state NOT IN ('queued', 'sending') AND body != :pruned"
        f" AND {_FINISHED}",
        "body = :pruned",
    ),
    "inbox": (
        f"received_at < :before AND keyword IS NULL AND body != :pruned AND {_FINISHED}",
        "body = :pruned, network_time = NULL",
    ),
}


class Retention(Aggregate):
    async def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        params = {"before": iso(before), "pruned": PRUNED}
        counts = [
            await self._prune_table(t, params, dry_run) for t in ("alerts", "outbox", "inbox")
        ]
        return Pruned(*counts)

    async def _prune_table(self, table: str, params: dict[str, str], dry_run: bool) -> int:
        where, blank = _WHAT[table]
        if dry_run:
            async with self._conn.reading() as sql:
                count = await sql.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params)  # noqa: S608 -- constants only
            return int(count)
        total = 0
        while True:
            rows = await self._conn.write(
                f"UPDATE {table} SET {blank} WHERE id IN"  # noqa: S608 -- constants only
                f" (SELECT id FROM {table} WHERE {where} ORDER BY id LIMIT {_SLICE}) RETURNING id",
                params,
            )
            total += len(rows)
            if len(rows) < _SLICE:
                return total
