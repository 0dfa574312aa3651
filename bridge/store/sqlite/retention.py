"""Retention: the bodies of alerts and texts older than a moment blanked,
their rows kept (the report counts rows, never words). Only what belongs to
no thread or to a finished one (handled, cold, opted out) whose last activity
is older too: a conversation still going keeps every word. Opt-outs - the
table and the STOP texts themselves - are never touched."""

from __future__ import annotations

from datetime import datetime

from bridge.core.retention import PRUNED, Pruned
from bridge.store.sqlite.connection import Aggregate
from bridge.store.sqlite.stamps import iso

# Rows are blanked a slice at a time, each slice its own short transaction,
# so decisions and texts never wait long behind a first prune of years.
_SLICE = 500
_FINISHED = """(thread_id IS NULL OR thread_id IN (SELECT id FROM threads
    WHERE status IN ('handled', 'cold', 'opted_out') AND last_activity_at < :before))"""
# table -> (which rows are old enough and not blank yet, what blanks them)
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
    # STOP, START and HELP are the opt-out's record: kept word for word. The
    # network time only spots a copy the SIM offers again; an old text needs
    # no such check, and blank bodies must not collide in inbox_once.
    "inbox": (
        f"received_at < :before AND keyword IS NULL AND body != :pruned AND {_FINISHED}",
        "body = :pruned, network_time = NULL",
    ),
}


class Retention(Aggregate):
    async def prune(self, before: datetime, *, dry_run: bool = False) -> Pruned:
        """Blank the bulky bodies older than ``before`` (see the module); how
        many were - or, with ``dry_run``, would be - blanked."""
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
