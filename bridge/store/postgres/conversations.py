"""Conversations: threads, the texts that come in, and what owners do about
them (bridge/store/sqlite/conversations.py's twin). A text in holds its
sender's lock (connection.lock_number): two bridges filing texts from one
number find one thread, store a SIM copy once, and confirm a STOP once."""

from __future__ import annotations

from datetime import datetime

from bridge.core.texts import Filed, OptOutChange, OwnerAction, ReceivedText
from bridge.core.threads import ThreadEvent, ThreadSummary
from bridge.store.postgres.connection import Aggregate, Row, Sql, as_dict, lock_number
from bridge.store.postgres.outbox import insert_text, opted_out, record_choice
from bridge.store.sqlite.stamps import iso, iso_or_none

OPEN = "('new', 'awaiting_reply', 'replied')"
# The threads_listing index's expression: listings walk it.
IS_OPEN = f"(status IN {OPEN})"
# A ThreadSummary's columns (summary_of reads them), from threads: the
# inbox's listings (inbox.py) select them too.
SUMMARY_COLUMNS = """
    threads.id, caller, line, status, urgent, created_at, last_activity_at,
           (SELECT body FROM inbox WHERE thread_id = threads.id AND owner_id IS NULL
             ORDER BY id DESC LIMIT 1),
           (SELECT count(*) FROM calls WHERE thread_id = threads.id
               AND outcome IN ('missed', 'unknown')),
           (SELECT detail FROM calls WHERE thread_id = threads.id AND outcome = 'outbound'
             ORDER BY ended_at DESC LIMIT 1)
"""
_SUMMARY = f"SELECT {SUMMARY_COLUMNS} FROM threads"  # noqa: S608 -- constants only
_NEWEST = "ORDER BY last_activity_at DESC, id DESC LIMIT :limit"
_LISTINGS = {
    "one": f"{_SUMMARY} WHERE id = :id",
    "all": f"{_SUMMARY} ORDER BY {IS_OPEN} DESC, last_activity_at DESC, id DESC LIMIT :limit",
    "open": f"{_SUMMARY} WHERE {IS_OPEN} {_NEWEST}",
    "handled": f"{_SUMMARY} WHERE status = 'handled' AND handled_at >= :since"
    f" AND handled_at < :until {_NEWEST}",
}
_EVENTS = """
    SELECT ended_at,
           CASE outcome WHEN 'outbound' THEN 'call back' WHEN 'answered' THEN 'answered call'
                        ELSE 'missed call' END,
           coalesce(reason, outcome) || ' - ' || detail, 'call'
      FROM calls WHERE thread_id = :t
    UNION ALL
    SELECT coalesce(sent_at, created_at),
           CASE kind WHEN 'textback' THEN 'text out' WHEN 'reply' THEN 'answer out'
                     ELSE replace(kind, '_', ' ') || ' out' END || ' (' || state || ')',
           body, 'out'
      FROM outbox WHERE thread_id = :t AND kind != 'owner_alert'
    UNION ALL
    SELECT received_at, 'text in', body, 'in' FROM inbox
     WHERE thread_id = :t AND owner_id IS NULL
    UNION ALL
    SELECT coalesce(sent_at, created_at),
           kind || ' alert to ' || owner_id || ' by ' || channel || ' (' || state || ')',
           subject, 'alert'
      FROM alerts WHERE thread_id = :t
    UNION ALL
    SELECT at, 'owner ' || owner_id || ': ' || action, coalesce(body, ''), 'owner'
      FROM owner_actions WHERE thread_id = :t
    UNION ALL
    SELECT at, CASE kind WHEN 'note' THEN 'note by ' || owner_id
                         ELSE 'assigned by ' || owner_id END, body, 'note'
      FROM thread_notes WHERE thread_id = :t
    UNION ALL
    SELECT at, 'owner ' || owner_id || ': ' || step,
           CASE WHEN cents IS NOT NULL
                THEN (cents / 100)::text || '.' || lpad((cents % 100)::text, 2, '0')
                ELSE coalesce(reason, '') END, 'owner'
      FROM lead_steps WHERE thread_id = :t
    ORDER BY 1
"""


async def thread_for(sql: Sql, caller: str, line: str | None, now: str) -> int:
    """The open thread for (caller, line), or a new one. Inside a transaction
    that holds the caller's lock."""
    found = await sql.scalar(
        f"SELECT id FROM threads WHERE caller = ? AND line IS NOT DISTINCT FROM ?::text"  # noqa: S608 -- constants only
        f" AND status IN {OPEN} ORDER BY id DESC LIMIT 1",
        (caller, line),
    )
    if found is not None:
        await sql.run("UPDATE threads SET last_activity_at = ? WHERE id = ?", (now, found))
        return int(found)
    created = await sql.scalar(
        "INSERT INTO threads (caller, line, status, created_at, last_activity_at)"
        " VALUES (?, ?, 'new', ?, ?) RETURNING id",
        (caller, line, now, now),
    )
    return int(created)


async def thread_summaries(
    sql: Sql,
    thread_id: int | None,
    open_only: bool,
    limit: int,
    *,
    handled: tuple[datetime, datetime] | None = None,
) -> list[ThreadSummary]:
    since, until = (iso(handled[0]), iso(handled[1])) if handled else (None, None)
    which = (
        "one" if thread_id is not None else "handled" if handled else "open" if open_only else "all"
    )
    rows = await sql.rows(
        _LISTINGS[which], {"id": thread_id, "limit": limit, "since": since, "until": until}
    )
    return [summary_of(row) for row in rows]


def summary_of(r: Row) -> ThreadSummary:
    """The summary from a row that starts with SUMMARY_COLUMNS."""
    return ThreadSummary(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], int(r[8]), r[9])


async def _already_stored(sql: Sql, text: ReceivedText) -> bool:
    if text.network_time is None:
        return False
    found = await sql.scalar(
        "SELECT 1 FROM inbox WHERE sender = ? AND network_time = ? AND md5(body) = md5(?)",
        (text.sender, iso(text.network_time), text.body),
    )
    return found is not None


async def _thread_of_sender(sql: Sql, sender: str, line: str | None, now: str) -> int:
    row = await sql.row(
        "SELECT id, status FROM threads WHERE caller = ?"
        " ORDER BY last_activity_at DESC, id DESC LIMIT 1",
        (sender,),
    )
    if row is not None and row[1] != "opted_out":
        return int(row[0])
    return await thread_for(sql, sender, line, now)


async def _insert_inbox(
    sql: Sql,
    now: datetime,
    text: ReceivedText,
    keyword: str | None,
    thread_id: int | None,
    *,
    owner_id: str | None = None,
    alerted: bool = False,
) -> int:
    inbox_id = await sql.scalar(
        "INSERT INTO inbox (sender, body, parts, keyword, received_at, stored_at, thread_id,"
        " owner_id, alerted, network_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            text.sender, text.body, text.parts, keyword, iso(text.received_at), iso(now),
            thread_id, owner_id, int(alerted), iso_or_none(text.network_time),
        ),
    )  # fmt: skip
    return int(inbox_id)


async def _apply_owner_action(sql: Sql, now: datetime, action: OwnerAction, owner_id: str) -> None:
    assert action.action in ("reply", "called", "done")
    at, reply = iso(now), action.reply
    await sql.run(
        "INSERT INTO owner_actions (thread_id, owner_id, action, body, at) VALUES (?, ?, ?, ?, ?)",
        (action.thread_id, owner_id, action.action, reply.body if reply else None, at),
    )
    if reply is not None:
        await sql.run(
            "UPDATE threads SET status = 'awaiting_reply', last_activity_at = ?,"
            " reminded_at = NULL WHERE id = ?",
            (at, action.thread_id),
        )
        await insert_text(sql, now, reply, thread_id=action.thread_id)
    else:
        await sql.run(
            "UPDATE threads SET status = 'handled', handled_at = ?, handled_by = ?,"
            " last_activity_at = ? WHERE id = ?",
            (at, owner_id, at, action.thread_id),
        )


class Conversations(Aggregate):
    async def store_incoming(
        self,
        text: ReceivedText,
        keyword: str | None,
        *,
        urgent: bool = False,
        lead: bool = True,
        opt_out: OptOutChange | None = None,
    ) -> Filed | None:
        """As SQLite's (see there), under the sender's lock."""
        async with self._conn.transaction() as tx:
            await lock_number(tx, text.sender)
            now = self._clock()
            if await _already_stored(tx, text):
                return None
            if not lead:
                return Filed(await _insert_inbox(tx, now, text, None, None, alerted=True), None)
            thread_id = await _thread_of_sender(tx, text.sender, text.line, iso(now))
            status = {"stop": "opted_out", None: "replied"}.get(keyword)
            if status is not None:
                await tx.run(
                    "UPDATE threads SET status = ?, last_activity_at = ?, reminded_at = NULL,"
                    " urgent = greatest(urgent, ?::int) WHERE id = ?",
                    (status, iso(now), int(urgent), thread_id),
                )
            inbox_id = await _insert_inbox(tx, now, text, keyword, thread_id)
            changed = False
            if opt_out is not None and await opted_out(tx, text.sender) != opt_out.opted_out:
                choice = (opt_out.opted_out, opt_out.keyword, opt_out.source, now)
                await record_choice(tx, text.sender, *choice)
                await insert_text(tx, now, opt_out.confirmation, thread_id=thread_id)
                changed = True
        return Filed(inbox_id, thread_id, changed)

    async def store_owner_text(
        self, owner_id: str, text: ReceivedText, action: OwnerAction | None = None
    ) -> int | None:
        async with self._conn.transaction() as tx:
            await lock_number(tx, text.sender)
            now = self._clock()
            if await _already_stored(tx, text):
                return None
            thread_id = action.thread_id if action else None
            inbox_id = await _insert_inbox(
                tx, now, text, None, thread_id, owner_id=owner_id, alerted=True
            )
            if action is not None:
                await _apply_owner_action(tx, now, action, owner_id)
        return inbox_id

    async def owner_action(self, owner_id: str, action: OwnerAction) -> None:
        async with self._conn.transaction() as tx:
            await _apply_owner_action(tx, self._clock(), action, owner_id)

    async def threads(self, limit: int = 50, *, open_only: bool = False) -> list[ThreadSummary]:
        async with self._conn.reading() as sql:
            return await thread_summaries(sql, None, open_only, limit)

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None:
        async with self._conn.reading() as sql:
            found = await thread_summaries(sql, thread_id, False, 1)
        return found[0] if found else None

    async def thread(self, thread_id: int) -> tuple[ThreadSummary, list[ThreadEvent]] | None:
        async with self._conn.reading() as sql:
            found = await thread_summaries(sql, thread_id, False, 1)
            if not found:
                return None
            rows = await sql.rows(_EVENTS, {"t": thread_id})
        return found[0], [ThreadEvent(*row) for row in rows]

    async def inbox(self, limit: int = 100) -> list[dict[str, object]]:
        async with self._conn.reading() as sql:
            rows = await sql.rows("SELECT * FROM inbox ORDER BY id DESC LIMIT ?", (limit,))
        return [as_dict(row) for row in rows]
