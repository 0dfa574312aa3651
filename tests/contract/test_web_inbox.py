"""WebStore: the owner inbox's listings, search, assignment, notes and
password hashes, over every backend."""

from __future__ import annotations

import pytest

from bridge.core.calls import Reason
from bridge.core.inbox import InboxQuery
from bridge.core.texts import OwnerAction, owner_answer
from bridge.store import Store, StoreError
from tests.support.store_values import (
    CALLER,
    LINE,
    OTHER,
    SECOND_LINE,
    T0,
    Clock,
    a_text,
    decision,
    received,
)

THIRD = "+15125550177"


async def three_threads(store: Store, clock: Clock) -> dict[str, int]:
    """Jane (main line, replied urgently), Bob (second line), Ana (main line,
    handled): each a minute after the last."""
    await store.record_decision(decision("jane"), text=a_text())
    clock.advance(minutes=1)
    await store.record_decision(
        decision("bob", caller=OTHER, caller_raw=OTHER, caller_name="Bob Builder",
                 line=SECOND_LINE, line_name="Second"),
        text=a_text(OTHER, body="Sorry we missed you, Bob"),
    )  # fmt: skip
    clock.advance(minutes=1)
    await store.record_decision(
        decision("ana", caller=THIRD, caller_raw=THIRD, caller_name="Ana Lopez",
                 reason=Reason.BUSY),
    )  # fmt: skip
    clock.advance(minutes=1)
    await store.store_incoming(received("burst pipe in the attic!"), None, urgent=True)
    threads = {t.caller: t.id for t in await store.threads()}
    ids = {"jane": threads[CALLER], "bob": threads[OTHER], "ana": threads[THIRD]}
    clock.advance(minutes=1)
    await store.owner_action("mike", OwnerAction(ids["ana"], "done"))
    return ids


async def listed(store: Store, **query: object) -> list[int]:
    page = await store.inbox_page(InboxQuery(owner_id="mike", **query))  # type: ignore[arg-type]
    return [row.summary.id for row in page.rows]


async def test_views_list_newest_activity_first(store: Store, clock: Clock) -> None:
    ids = await three_threads(store, clock)
    assert await listed(store) == [ids["jane"], ids["bob"]]
    assert await listed(store, view="urgent") == [ids["jane"]]
    assert await listed(store, view="handled") == [ids["ana"]]


async def test_a_row_shows_name_owner_and_the_latest_text(store: Store, clock: Clock) -> None:
    ids = await three_threads(store, clock)
    page = await store.inbox_page(InboxQuery(owner_id="mike"))
    jane, bob = page.rows
    assert (jane.caller_name, jane.last_message, jane.last_message_in) == (
        "Jane Caller", "burst pipe in the attic!", True,
    )  # fmt: skip
    assert (bob.caller_name, bob.last_message, bob.last_message_in) == (
        "Bob Builder", "Sorry we missed you, Bob", False,
    )  # fmt: skip
    assert jane.assigned_to is None
    assert (await store.inbox_row(ids["bob"])) == bob
    assert await store.inbox_row(9999) is None


async def test_lines_limit_what_an_owner_sees(store: Store, clock: Clock) -> None:
    ids = await three_threads(store, clock)
    assert await listed(store, lines=frozenset({SECOND_LINE})) == [ids["bob"]]
    assert await listed(store, lines=frozenset()) == []
    assert await listed(store, lines=frozenset({LINE, SECOND_LINE})) == [ids["jane"], ids["bob"]]


async def test_assignment_filters_mine_and_unassigned(store: Store, clock: Clock) -> None:
    ids = await three_threads(store, clock)
    assert await store.assign(ids["bob"], "mike", by="ana")
    assert not await store.assign(9999, "mike", by="ana")
    assert await listed(store, who="mine") == [ids["bob"]]
    assert await listed(store, who="unassigned") == [ids["jane"]]
    row = await store.inbox_row(ids["bob"])
    assert row is not None
    assert row.assigned_to == "mike"
    assert await store.assign(ids["bob"], None, by="mike")
    assert await listed(store, who="mine") == []
    found = await store.thread(ids["bob"])
    assert found is not None
    notes = [(e.what, e.text, e.kind) for e in found[1] if e.kind == "note"]
    assert notes == [("assigned by ana", "mike", "note"), ("assigned by mike", "nobody", "note")]


async def test_search_by_number_name_and_words(store: Store, clock: Clock) -> None:
    ids = await three_threads(store, clock)
    assert await listed(store, search="(512) 555-0142") == [ids["bob"]]
    assert await listed(store, search="lopez", view="handled") == [ids["ana"]]
    assert await listed(store, search="BURST pipe") == [ids["jane"]]
    assert await listed(store, search="missed you, bob") == [ids["bob"]]
    assert await listed(store, search="100%") == []  # LIKE's characters are the owner's words
    assert await listed(store, search="_") == []


async def test_pages_follow_each_other_without_repeats(store: Store, clock: Clock) -> None:
    for n in range(7):
        number = f"+1512555{n:04d}"
        await store.record_decision(decision(f"c{n}", caller=number, caller_raw=number))
        if n % 2:  # pairs at the same moment: a page may end between them
            clock.advance(seconds=1)
    seen: list[int] = []
    after = None
    while True:
        page = await store.inbox_page(InboxQuery(owner_id="mike", limit=3, after=after))
        seen += [row.summary.id for row in page.rows]
        if page.next is None:
            break
        after = page.next
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == 7


async def test_a_note_is_kept_on_the_thread_and_never_queued(store: Store, clock: Clock) -> None:
    ids = await three_threads(store, clock)
    queued = len(await store.outbox())
    assert await store.add_note(ids["jane"], "mike", "her neighbour is a customer too")
    assert not await store.add_note(9999, "mike", "nowhere")
    assert len(await store.outbox()) == queued
    found = await store.thread(ids["jane"])
    assert found is not None
    assert ("note by mike", "her neighbour is a customer too") in [
        (e.what, e.text) for e in found[1]
    ]


async def test_an_answer_from_the_inbox_is_an_owners_answer(store: Store, clock: Clock) -> None:
    ids = await three_threads(store, clock)
    await store.owner_action("mike", owner_answer(ids["jane"], CALLER, "On my way", 1, T0))
    summary = await store.thread_summary(ids["jane"])
    assert summary is not None
    assert summary.status == "awaiting_reply"
    (reply,) = [row for row in await store.outbox() if row["kind"] == "reply"]
    assert (reply["to_number"], reply["body"], reply["thread_id"]) == (
        CALLER, "On my way", ids["jane"],
    )  # fmt: skip


async def test_password_hashes_are_kept_per_owner(store: Store) -> None:
    assert await store.password_hash("mike") is None
    await store.set_password_hash("mike", "$argon2id$first")
    await store.set_password_hash("mike", "$argon2id$second")
    await store.set_password_hash("ana", "$argon2id$hers")
    assert await store.password_hash("mike") == "$argon2id$second"
    assert await store.password_hash("ana") == "$argon2id$hers"


async def test_a_store_alone_in_its_database_has_no_other_office_to_view(store: Store) -> None:
    assert await store.other_offices() == []
    with pytest.raises(StoreError, match="no office 'elsewhere'"):
        await store.office_view("elsewhere")
