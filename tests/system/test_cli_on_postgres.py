"""The textback command on a PostgreSQL store (store.url): the listings read
it, doctor checks it, and a wrong database is one line without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.store.postgres import PostgresStore
from tests.support.ami import SECRET
from tests.support.cli import textback
from tests.support.example_config import EXAMPLE_CONFIG
from tests.support.postgres_server import PostgresServer
from tests.support.store_values import a_text, decision

ENV = {"AMI_SECRET": SECRET, "SMTP_PASSWORD": "smtp-secret", "STORE_PASSWORD": "unused"}


def postgres_config(tmp_path: Path, url: str) -> Path:
    text = EXAMPLE_CONFIG.read_text().replace("\n# lab: true\n", "\nlab: true\n")
    head, _, tail = text.partition("\nstore:\n")
    rest = tail.partition("\nlog:")[2]
    store = f"store:\n  url: {url}\n  password: ${{STORE_PASSWORD}}\n  state_dir: {tmp_path}\n"
    path = tmp_path / "textback.yaml"
    path.write_text(f"{head}\n{store}\nlog:{rest}")
    return path


async def test_calls_lists_what_the_postgres_store_holds(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = await postgres_server.fresh("cli")
    async with await PostgresStore.open(url) as store:
        await store.record_decision(decision("cli.1"), text=a_text())
    config = postgres_config(tmp_path, url)
    code, out, err = await textback("calls", "--config", str(config), "--json", env=ENV)
    assert (code, err) == (0, "")
    (call,) = [json.loads(line) for line in out.splitlines()]
    assert (call["linkedid"], call["text"]) == ("cli.1", "queued")


async def test_a_missing_database_is_one_line_naming_it(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    config = postgres_config(tmp_path, postgres_server.url("no_such_db"))
    code, _, err = await textback("calls", "--config", str(config), env=ENV)
    assert code != 0
    assert "no_such_db" in err
    assert "Traceback" not in err
    assert "unused" not in err  # the password
