"""A PostgreSQL store's schema as plain data, for the golden files in
tests/fixtures/schema/postgres_vN.json (and for comparing with SQLite's)."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from tests.support.paths import ROOT

GOLDEN = ROOT / "tests" / "fixtures" / "schema"
_COLUMNS = """
    SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity
      FROM information_schema.columns WHERE table_schema = 'public'
     ORDER BY table_name, ordinal_position
"""
_CONSTRAINTS = """
    SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
     ORDER BY 1, 2
"""
_INDEXES = "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"


async def schema(url: str) -> dict[str, object]:
    """Tables with their columns, constraints and indexes, each in a stable order."""
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(_COLUMNS)
        constraints = await conn.fetch(_CONSTRAINTS)
        indexes = await conn.fetch(_INDEXES)
        version = await conn.fetchval("SELECT max(version) FROM schema_version")
    finally:
        await conn.close()
    tables: dict[str, dict[str, list[object]]] = {}
    for table, name, kind, nullable, default, identity in columns:
        column = [name, kind, nullable == "YES", default, identity == "YES"]
        tables.setdefault(table, {"columns": [], "constraints": [], "indexes": []})
        tables[table]["columns"].append(column)
    for table, name, definition in constraints:
        tables[table]["constraints"].append([name, definition])
    for table, name, definition in sorted(indexes, key=lambda row: (row[0], row[1])):
        tables[table]["indexes"].append([name, definition])
    return {"schema_version": version, "tables": tables}


def golden_path(version: int) -> Path:
    return GOLDEN / f"postgres_v{version}.json"


def golden(version: int) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(golden_path(version).read_text("utf-8"))
    return loaded


def sqlite_names(version: int) -> tuple[dict[str, str], set[str]]:
    """SQLite's golden file at ``version``: each table's CREATE statement, and
    the indexes' names (its own autoindexes aside)."""
    objects = json.loads((GOLDEN / f"sqlite_v{version}.json").read_text("utf-8"))["objects"]
    tables = {o["name"]: o["sql"] for o in objects if o["type"] == "table"}
    indexes = {o["name"] for o in objects if o["type"] == "index" and o["sql"]}
    return tables, indexes
