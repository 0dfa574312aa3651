"""`textback store copy`'s order: every table after the tables it references,
whatever the schema (so a later migration's tables need no code), and a
cycle said plainly rather than copied half-way."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.store.catalogue import Table
from bridge.store.copy import CopyRefused, in_reference_order


def _table(name: str, *references: str) -> Table:
    return Table(name, ("id",), ("id",), frozenset(references))


@st.composite
def schemas(draw: st.DrawFn) -> list[Table]:
    """Tables t0..tn, each referencing some earlier ones (any schema without a cycle)."""
    count = draw(st.integers(1, 12))
    tables = []
    for n in range(count):
        earlier = draw(st.sets(st.integers(0, n - 1))) if n else set()
        tables.append(_table(f"t{n}", *(f"t{i}" for i in earlier)))
    return draw(st.permutations(tables))


@given(schemas())
def test_each_table_comes_after_every_table_it_references(tables: list[Table]) -> None:
    ordered = in_reference_order(tables)
    assert sorted(t.name for t in ordered) == sorted(t.name for t in tables)
    seen: set[str] = set()
    for table in ordered:
        assert table.references <= seen
        seen.add(table.name)


def test_the_store_s_own_tables_come_parents_first() -> None:
    tables = [
        _table("outbox", "calls", "threads", "alerts"),
        _table("calls", "threads"),
        _table("alerts", "threads"),
        _table("threads"),
        _table("opt_outs"),
    ]
    names = [t.name for t in in_reference_order(tables)]
    assert names == ["opt_outs", "threads", "alerts", "calls", "outbox"]


def test_a_cycle_is_refused_by_name() -> None:
    with pytest.raises(CopyRefused, match=r"cycle: \['a', 'b'\]"):
        in_reference_order([_table("a", "b"), _table("b", "a"), _table("c")])
