"""A call's effect on its number's open thread (bridge.core.callbacks), applied
inside the decision's transaction: the call joins the thread, noted; a
call-back a person talked on, or the caller reached on a later call, closes it
as handled (as an owner's CALLED would: no more reminders)."""

from __future__ import annotations

from bridge.core.callbacks import CALLED, REACHED, ThreadLink
from bridge.store.sqlite.connection import one_trip
from bridge.store.sqlite.conversations import OPEN
from bridge.store.sqlite.database import BlockingSql

PBX = "pbx"  # who did it, in owner_actions and handled_by: the PBX saw it happen
_ACTIONS = {CALLED: "called", REACHED: "done"}


@one_trip
def apply_link(sql: BlockingSql, link: ThreadLink, linkedid: str, now: str) -> int | None:
    """The thread the call joined, or None when its number has no open thread
    (and the call names no thread of that number)."""
    found = None
    if link.thread_id is not None:  # click-to-call: the thread it was placed for, open or not
        found = sql.scalar(
            "SELECT id FROM threads WHERE id = ? AND caller = ?", (link.thread_id, link.number)
        )
    if found is None:
        found = sql.scalar(
            f"SELECT id FROM threads WHERE caller = ? AND status IN {OPEN}"  # noqa: S608 -- constants only
            " ORDER BY id DESC LIMIT 1",
            (link.number,),
        )
    if found is None:
        return None
    thread_id = int(found)
    # Linked, never news of its own: the thread's alert already went (or goes).
    sql.run(
        "UPDATE calls SET thread_id = ?, alerted = 1, detail = ? WHERE linkedid = ?",
        (thread_id, link.note, linkedid),
    )
    action = _ACTIONS.get(link.action)
    if action is None:  # tried: noted on the thread, which stays open
        return thread_id
    sql.run(
        "INSERT INTO owner_actions (thread_id, owner_id, action, body, at) VALUES (?, ?, ?, ?, ?)",
        (thread_id, PBX, action, link.note, now),
    )
    sql.run(
        "UPDATE threads SET status = 'handled', handled_at = ?, handled_by = ?,"
        " last_activity_at = ? WHERE id = ?",
        (now, PBX, now, thread_id),
    )
    return thread_id
