"""Conversations: threads, the texts that come in, and what owners do about
them. A thread is open while new, awaiting_reply or replied: a new call from
its caller to its line joins it. handled, opted_out and cold ones are closed
(a reply still reopens a handled or cold one: see store_incoming)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bridge.core.texts import Filed, OptOutChange, OwnerAction, ReceivedText
from bridge.core.threads import ThreadEvent, ThreadSummary
from bridge.store.sqlite.connection import Aggregate, Sql, one_trip
from bridge.store.sqlite.database import BlockingSql
from bridge.store.sqlite.outbox import insert_text, opted_out, record_choice
from bridge.store.sqlite.stamps import iso, iso_or_none

OPEN = "('new', 'awaiting_reply', 'replied')"
# Open or not, as the threads_listing index (migration 10) has it: the same
# expression, so listings walk that index instead of sorting every thread.
IS_OPEN = f"(status IN {OPEN})"
# A ThreadSummary's columns (summary_of reads them), from threads: the
# inbox's listings (bridge/store/sqlite/inbox.py) select them too.
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
# One statement per listing, each on its own index (an optional filter such
# as ":id IS NULL OR id = :id" would make SQLite read every thread).
_NEWEST = "ORDER BY last_activity_at DESC, id DESC LIMIT :limit"
_LISTINGS = {
    "one": f"{_SUMMARY} WHERE id = :id",
    "all": f"{_SUMMARY} ORDER BY {IS_OPEN} DESC, last_activity_at DESC, id DESC LIMIT :limit",
    "open": f"{_SUMMARY} WHERE {IS_OPEN} = 1 {_NEWEST}",
    "handled": f"{_SUMMARY} WHERE status = 'handled' AND handled_at >= :since"
    f" AND handled_at < :until {_NEWEST}",
}
# Everything that happened on a thread, oldest first; owners' own texts are
# commands, shown as the actions they caused; owners' notes (never texted) too.
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
           CASE WHEN cents IS NOT NULL THEN printf('%d.%02d', cents / 100, cents % 100)
                ELSE coalesce(reason, '') END, 'owner'
      FROM lead_steps WHERE thread_id = :t
    ORDER BY 1
"""


@one_trip
def thread_for(sql: BlockingSql, caller: str, line: str | None, now: str) -> int:
    """The open thread for (caller, line), or a new one. Inside a transaction."""
    found = sql.scalar(
        f"SELECT id FROM threads WHERE caller = ? AND line IS ?"  # noqa: S608 -- constants only
        f" AND status IN {OPEN} ORDER BY id DESC LIMIT 1",
        (caller, line),
    )
    if found is not None:
        sql.run("UPDATE threads SET last_activity_at = ? WHERE id = ?", (now, found))
        return int(found)
    created = sql.scalar(
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
    """Threads (one, the open ones, those handled in a window, or all), open first."""
    since, until = (iso(handled[0]), iso(handled[1])) if handled else (None, None)
    which = (
        "one" if thread_id is not None else "handled" if handled else "open" if open_only else "all"
    )
    rows = await sql.rows(
        _LISTINGS[which],
        {"id": thread_id, "limit": limit, "since": since, "until": until},
    )
    return [summary_of(row) for row in rows]


def summary_of(r: Sequence[Any]) -> ThreadSummary:
    """The summary from a row that starts with SUMMARY_COLUMNS."""
    return ThreadSummary(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6], r[7], int(r[8]), r[9])


async def _already_stored(sql: Sql, text: ReceivedText) -> bool:
    if text.network_time is None:
        return False
    found = await sql.scalar(
        "SELECT 1 FROM inbox WHERE sender = ? AND network_time = ? AND body = ?",
        (text.sender, iso(text.network_time), text.body),
    )
    return found is not None


async def _thread_of_sender(sql: Sql, sender: str, line: str | None, now: str) -> int:
    """The sender's latest thread - unless it ended in an opt-out: then a new one,
    on the line the text was sent to (when the transport said)."""
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
    """An answer is queued to the caller (the thread waits for them again);
    CALLED or DONE closes the thread as handled. Inside a transaction."""
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
        """Store a text that came in, in its thread, with what it asks for - all in
        one transaction, so a crash keeps all of it or none. None: a copy of a
        text already stored (nothing is written).

        A reply joins the sender's latest thread - reopening it if it was
        handled or gone cold: a person must see it - unless that thread ended
        in an opt-out; a stranger's text starts one. STOP closes the thread as
        opted out; a reply marks it replied and starts a new wait for an owner.
        Not a ``lead`` (a bank's "AcmeBank", a short code): kept, in no thread,
        news to nobody.
        """
        async with self._conn.transaction() as tx:
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
                    " urgent = max(urgent, ?) WHERE id = ?",
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
        """An owner's text - never an alert of its own - and what it asks for, in
        one transaction: a text seen twice (a SIM copy after a crash) never acts
        twice. None: it was a copy, nothing written."""
        async with self._conn.transaction() as tx:
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
        """What an owner did from the office (the command line), with its effect."""
        async with self._conn.transaction() as tx:
            await _apply_owner_action(tx, self._clock(), action, owner_id)

    async def threads(self, limit: int = 50, *, open_only: bool = False) -> list[ThreadSummary]:
        """Open threads first, then by newest activity."""
        async with self._conn.reading() as sql:
            return await thread_summaries(sql, None, open_only, limit)

    async def thread_summary(self, thread_id: int) -> ThreadSummary | None:
        """One thread without its history (see ``thread`` for that)."""
        async with self._conn.reading() as sql:
            found = await thread_summaries(sql, thread_id, False, 1)
        return found[0] if found else None

    async def thread(self, thread_id: int) -> tuple[ThreadSummary, list[ThreadEvent]] | None:
        """One thread and everything that happened on it, oldest first."""
        async with self._conn.reading() as sql:
            found = await thread_summaries(sql, thread_id, False, 1)
            if not found:
                return None
            rows = await sql.rows(_EVENTS, {"t": thread_id})
        return found[0], [ThreadEvent(*row) for row in rows]

    async def inbox(self, limit: int = 100) -> list[dict[str, object]]:
        """The newest incoming texts as rows, every column (for tests and support)."""
        async with self._conn.reading() as sql:
            rows = await sql.rows("SELECT * FROM inbox ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(row) for row in rows]
