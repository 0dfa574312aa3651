"""The owner inbox's reads and writes (bridge/store/sqlite/inbox.py's twin):
the same listings, each on the index of migration 12 the planner picks by
itself (PostgreSQL has statistics and no INDEXED BY), the lines an owner
sees as a text[] parameter, and a search bounded to the view's newest
SEARCH_WINDOW threads as SQLite's is.
"""

from __future__ import annotations

from bridge.core.inbox import SEARCH_WINDOW, Cursor, InboxPage, InboxQuery, InboxRow, search_terms
from bridge.store.postgres.connection import Aggregate, Row, Sql
from bridge.store.postgres.conversations import IS_OPEN, OPEN, SUMMARY_COLUMNS, summary_of
from bridge.store.sqlite.stamps import iso

# What a row shows beyond the summary: who has it, the caller's name on the
# latest call that had one, the latest text in or out ("in:" / "out:"), and
# what an owner last did (a handled thread that was called back says so).
_ROW_COLUMNS = f"""{SUMMARY_COLUMNS},
    assigned_to,
    (SELECT caller_name FROM calls WHERE thread_id = threads.id AND caller_name != ''
      ORDER BY ended_at DESC LIMIT 1),
    (SELECT dir || ':' || body FROM (
        SELECT received_at AS at, 'in' AS dir, body FROM inbox
         WHERE thread_id = threads.id AND owner_id IS NULL
        UNION ALL
        SELECT created_at, 'out', body FROM outbox
         WHERE thread_id = threads.id AND kind != 'owner_alert') AS latest
      ORDER BY at DESC LIMIT 1),
    (SELECT action FROM owner_actions WHERE thread_id = threads.id ORDER BY at DESC LIMIT 1)
"""  # noqa: S608 -- constants only
# Each view is the condition its index holds; who and which lines filter it.
_VIEWS = {
    "open": IS_OPEN,
    "urgent": f"urgent = 1 AND status IN {OPEN}",
    "handled": "status = 'handled'",
}
_WHO = {
    "all": "true",
    "mine": "assigned_to = :me::text",
    "unassigned": "assigned_to IS NULL",
}
_LINES = "(:every_line::boolean OR line IS NULL OR line = ANY(:lines::text[]))"
# A later page starts below the last row shown: a range on the same index.
_AFTER = "(last_activity_at, threads.id) < (:after_at::text, :after_id::bigint)"
_NEWEST = "ORDER BY last_activity_at DESC, threads.id DESC"
# A search's match, each test an index seek by thread id; ILIKE: SQLite's LIKE ignores ASCII case.
_MATCH = """(
    (:digits::text != '' AND caller LIKE '%' || :digits::text || '%')
    OR EXISTS (SELECT 1 FROM calls c WHERE c.thread_id = threads.id
                 AND c.caller_name ILIKE :pattern::text ESCAPE '\\')
    OR EXISTS (SELECT 1 FROM inbox i WHERE i.thread_id = threads.id
                 AND i.body ILIKE :pattern ESCAPE '\\')
    OR EXISTS (SELECT 1 FROM outbox o WHERE o.thread_id = threads.id
                 AND o.kind != 'owner_alert' AND o.body ILIKE :pattern ESCAPE '\\'))"""


_ONE_ROW = f"SELECT {_ROW_COLUMNS} FROM threads WHERE id = ?::bigint"  # noqa: S608 -- constants only


def _listing(view: str, who: str, *, later: bool, searching: bool) -> str:
    condition = _VIEWS[view]
    walk = "threads"
    where = f"{condition} AND {_WHO[who]} AND {_LINES}" + (f" AND {_AFTER}" if later else "")
    if not searching:
        return f"SELECT {_ROW_COLUMNS} FROM {walk} WHERE {where} {_NEWEST} LIMIT :limit"  # noqa: S608 -- constants only
    return (
        f"WITH recent AS (SELECT threads.id AS id FROM {walk} WHERE {where} {_NEWEST}"  # noqa: S608 -- constants only
        f" LIMIT {SEARCH_WINDOW})"
        f" SELECT {_ROW_COLUMNS} FROM threads WHERE threads.id IN (SELECT id FROM recent)"
        f" AND {_MATCH} {_NEWEST} LIMIT :limit"
    )


def _row(r: Row) -> InboxRow:
    latest = r[12]
    direction, _, body = latest.partition(":") if latest is not None else ("", "", None)
    return InboxRow(summary_of(r), r[11] or "", r[10], body, direction == "in", r[13])


class Inbox(Aggregate):
    async def inbox_page(self, query: InboxQuery) -> InboxPage:
        """One page of the threads ``query`` asks for, newest activity first."""
        pattern, digits = search_terms(query.search)
        searching = bool(query.search.strip())
        after = query.after
        params = {
            "me": query.owner_id,
            "every_line": query.lines is None,
            "lines": sorted(query.lines or ()),
            "after_at": after.last_activity_at if after else None,
            "after_id": after.thread_id if after else None,
            "limit": query.limit + 1,  # one more: is there a next page?
            "pattern": pattern,
            "digits": digits,
        }
        async with self._conn.reading() as sql:
            statement = _listing(
                query.view, query.who, later=after is not None, searching=searching
            )
            rows = await sql.rows(statement, params)
        found = [_row(r) for r in rows[: query.limit]]
        last = found[-1].summary if len(rows) > query.limit and found else None
        return InboxPage(found, Cursor(last.last_activity_at, last.id) if last else None)

    async def inbox_row(self, thread_id: int) -> InboxRow | None:
        """One thread as the inbox lists it."""
        async with self._conn.reading() as sql:
            found = await sql.row(_ONE_ROW, (thread_id,))
        return _row(found) if found is not None else None

    async def add_note(self, thread_id: int, owner_id: str, body: str) -> bool:
        """An owner's note on the thread, for the office only. False: no such thread."""
        async with self._conn.transaction() as tx:
            return await _note(tx, thread_id, owner_id, "note", body, iso(self._clock()))

    async def assign(self, thread_id: int, assignee: str | None, by: str) -> bool:
        """The thread is ``assignee``'s (None: nobody's), noted with who did it.
        False: no such thread, nothing written."""
        async with self._conn.transaction() as tx:
            now = iso(self._clock())
            if not await _note(tx, thread_id, by, "assigned", assignee or "nobody", now):
                return False
            await tx.run(
                "UPDATE threads SET assigned_to = ?::text WHERE id = ?::bigint",
                (assignee, thread_id),
            )
        return True

    async def password_hash(self, owner_id: str) -> str | None:
        async with self._conn.reading() as sql:
            found = await sql.scalar(
                "SELECT hash FROM owner_passwords WHERE owner_id = ?", (owner_id,)
            )
        return None if found is None else str(found)

    async def set_password_hash(self, owner_id: str, hashed: str) -> None:
        await self._conn.write(
            "INSERT INTO owner_passwords (owner_id, hash, changed_at) VALUES (?, ?, ?)"
            " ON CONFLICT (office, owner_id) DO UPDATE SET hash = excluded.hash,"
            " changed_at = excluded.changed_at",
            (owner_id, hashed, iso(self._clock())),
        )


async def _note(sql: Sql, thread_id: int, owner_id: str, kind: str, body: str, at: str) -> bool:
    if await sql.scalar("SELECT 1 FROM threads WHERE id = ?::bigint", (thread_id,)) is None:
        return False
    await sql.run(
        "INSERT INTO thread_notes (thread_id, owner_id, kind, body, at) VALUES (?, ?, ?, ?, ?)",
        (thread_id, owner_id, kind, body, at),
    )
    return True
