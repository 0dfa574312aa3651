"""A call's effect on its number's open thread (bridge/store/sqlite/links.py's
twin), inside the decision's transaction, which holds the number's lock
(calls.record_decision)."""

from __future__ import annotations

from bridge.core.callbacks import CALLED, REACHED, ThreadLink
from bridge.store.postgres.connection import Sql
from bridge.store.postgres.conversations import OPEN

PBX = "pbx"
_ACTIONS = {CALLED: "called", REACHED: "done"}


async def apply_link(sql: Sql, link: ThreadLink, linkedid: str, now: str) -> int | None:
    """The thread the call joined, or None when its number has no open thread
    (and the call names no thread of that number)."""
    found = None
    if link.thread_id is not None:  # click-to-call: the thread it was placed for, open or not
        found = await sql.scalar(
            "SELECT id FROM threads WHERE id = ?::bigint AND caller = ?",
            (link.thread_id, link.number),
        )
    if found is None:
        found = await sql.scalar(
            f"SELECT id FROM threads WHERE caller = ? AND status IN {OPEN}"  # noqa: S608 -- constants only
            " ORDER BY id DESC LIMIT 1",
            (link.number,),
        )
    if found is None:
        return None
    thread_id = int(found)
    await sql.run(
        "UPDATE calls SET thread_id = ?, alerted = 1, detail = ? WHERE linkedid = ?",
        (thread_id, link.note, linkedid),
    )
    action = _ACTIONS.get(link.action)
    if action is None:
        return thread_id
    await sql.run(
        "INSERT INTO owner_actions (thread_id, owner_id, action, body, at) VALUES (?, ?, ?, ?, ?)",
        (thread_id, PBX, action, link.note, now),
    )
    await sql.run(
        "UPDATE threads SET status = 'handled', handled_at = ?, handled_by = ?,"
        " last_activity_at = ? WHERE id = ?",
        (now, PBX, now, thread_id),
    )
    return thread_id
