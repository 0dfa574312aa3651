"""The busy office bridge.sim.leads writes for the inbox's benchmark and
screenshots: one thread per lead, the statuses an inbox shows, and nothing
left for a bridge started on it to send or tell."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bridge.core.inbox import InboxQuery, InboxRow
from bridge.sim.leads import SimClock, seed_leads
from bridge.store import Store


async def all_rows(store: Store) -> list[InboxRow]:
    rows: list[InboxRow] = []
    for view in ("open", "handled"):
        page = await store.inbox_page(InboxQuery("mike", view=view, limit=1000))
        rows += page.rows
    return rows


async def test_each_lead_is_a_thread_in_a_realistic_mix(tmp_path: Path) -> None:
    clock = SimClock()
    end = clock.now
    async with await Store.open(tmp_path / "leads.db", clock=clock) as store:
        seeded = await seed_leads(store, clock, 300)
        threads = await store.threads(1000)
        assert clock.now == end
        assert len(seeded.threads) == len(set(seeded.threads)) == len(threads) == 300
        statuses = Counter(t.status for t in threads)
        assert {"handled", "cold", "replied", "opted_out"} <= set(statuses)
        assert statuses["handled"] > statuses["opted_out"] > 0
        assert {t.id for t in threads if t.urgent} == set(seeded.urgent) != set()
        assignees = Counter(row.assigned_to for row in await all_rows(store))
        assert assignees["mike"] > assignees["sam"] > 0
        assert assignees[None] > 0
        assert await store.unalerted() == []
        assert await store.due_texts(end, limit=1000) == []


async def test_the_same_seed_writes_the_same_office(tmp_path: Path) -> None:
    offices = []
    for name in ("a.db", "b.db"):
        clock = SimClock()
        async with await Store.open(tmp_path / name, clock=clock) as store:
            await seed_leads(store, clock, 50)
            offices.append([(t.caller, t.line, t.status) for t in await store.threads(100)])
    assert offices[0] == offices[1]
