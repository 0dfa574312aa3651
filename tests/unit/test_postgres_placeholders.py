"""The PostgreSQL store's statements are written as for SQLite (? and :name)
and numbered $1, $2... once: never inside a quoted string, never a ::cast."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.store.postgres.connection import bind, numbered


def test_question_marks_are_numbered_in_order() -> None:
    assert numbered("SELECT ? + ?::int WHERE x = '?'") == ("SELECT $1 + $2::int WHERE x = '?'", 2)


def test_a_name_used_twice_is_one_parameter() -> None:
    sql = "SELECT :a, :b::text, ':a', :a"
    assert numbered(sql) == ("SELECT $1, $2::text, ':a', $1", ("a", "b"))
    assert bind(sql, {"b": 2, "a": 1, "unused": 3}) == ("SELECT $1, $2::text, ':a', $1", [1, 2])


def test_a_wrong_count_or_a_mix_is_refused() -> None:
    with pytest.raises(ValueError, match="2 placeholders, 1 values"):
        bind("SELECT ?, ?", (1,))
    with pytest.raises(ValueError, match="mixes"):
        numbered("SELECT ?, :a")


@given(st.text(alphabet=st.characters(blacklist_characters="'\x00"), max_size=30))
def test_a_quoted_literal_is_never_touched(inside: str) -> None:
    literal = "'" + inside + "'"
    text, _ = numbered(f"SELECT {literal}, ?")
    assert text.startswith(f"SELECT {literal}, $")
