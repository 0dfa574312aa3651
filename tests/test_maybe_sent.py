"""A text that may have gone out is retried so that the network can drop a
copy (issue 10, item 2: a +CMGS that came after the send timeout).

The transport says so with ``SendError.maybe_sent``; the outbox keeps it in
the row (``Store.mark_retry(..., maybe_sent=True)``) and every later attempt
passes ``maybe_sent_before=True``: for a modem, TP-RD with the same TP-MR.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bridge.store import OutgoingText, Store
from tests.expected import CALLER


async def test_a_retry_after_a_maybe_sent_failure_is_marked_maybe_sent(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with await Store.open(tmp_path / "t.db") as store:
        text_id = await store.queue_text(OutgoingText(CALLER, "hello", 1, now + timedelta(hours=1)))
        await store.mark_sending(text_id)
        await store.mark_retry(text_id, "no +CMGS in time", now, maybe_sent=True)
        (due,) = await store.due_texts(now + timedelta(seconds=1))
        assert due.maybe_sent
        await store.mark_sending(text_id)
        await store.mark_retry(text_id, "+CMS ERROR 42: congestion", now)  # a plain failure
        (due,) = await store.due_texts(now + timedelta(seconds=1))
        assert due.maybe_sent  # it may still have gone out the first time


async def test_an_ordinary_retry_is_not_maybe_sent(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    async with await Store.open(tmp_path / "t.db") as store:
        text_id = await store.queue_text(OutgoingText(CALLER, "hello", 1, now + timedelta(hours=1)))
        await store.mark_sending(text_id)
        await store.mark_retry(text_id, "+CMS ERROR 331: no network service", now)
        (due,) = await store.due_texts(now + timedelta(seconds=1))
        assert not due.maybe_sent
