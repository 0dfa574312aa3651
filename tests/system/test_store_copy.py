"""`textback store copy SRC DST` over a real PostgreSQL server: an office's
history from SQLite into PostgreSQL reads back the same through the store's
interfaces, a second copy adds nothing, a copy back into a new SQLite file
is the same again; a database holding another office is refused untouched;
bad URLs and an unreachable server are one line and an exit code."""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bridge.cli import main
from bridge.core.ledger import LeadStep
from bridge.store import SCHEMA_VERSION, Store, open_store
from bridge.store.copy import copy_store, open_source
from bridge.store.postgres import SCHEMA_VERSION as POSTGRES_VERSION
from tests.support.ami import SECRET
from tests.support.cli import textback
from tests.support.example_config import EXAMPLE_CONFIG
from tests.support.postgres_server import PostgresServer
from tests.support.report_history import known_history
from tests.support.store_values import DOMAIN, LATER, OTHER, T0, Clock, decision, sms

OWNER = "+15125550199"
SAME_SCHEMA = pytest.mark.skipif(
    SCHEMA_VERSION != POSTGRES_VERSION,
    reason=f"this build's SQLite schema is version {SCHEMA_VERSION}, its PostgreSQL schema"
    f" {POSTGRES_VERSION}: a copy needs them equal (the PostgreSQL store's later versions)",
)


async def _office(path: Path) -> Path:
    """The report's known history, an owner's ledger step, an opt-out from
    elsewhere, and owner alerts carried by one batch text (a row referencing
    a later row of its own table)."""
    clock = Clock()
    async with await open_store(path, clock=clock) as store:
        await known_history(store, clock)
        await store.lead_step("mike", LeadStep(1, "won", cents=45_000))
        await store.set_opt_out(OTHER, opted_out=True, keyword="STOP", source="web", at=clock())
        await store.queue_alerts([(e, [sms(OWNER)]) for e in await store.unalerted()], DOMAIN)
        due = await store.owner_alerts_due(OWNER, clock())
        assert await store.queue_batch(OWNER, due, "textback: missed calls", 1) is not None
    return path


async def _answers(store: Store) -> tuple[object, ...]:
    """What the office sees: its threads, each thread's events, the report, opt-outs."""
    threads = await store.threads(limit=100)
    return (
        threads,
        [await store.thread(summary.id) for summary in threads],
        await store.report(None),
        await store.is_opted_out(OTHER),
        [text.id for text in await store.due_texts(LATER)],
    )


async def _every_row(at: str) -> dict[str, list[tuple[object, ...]]]:
    """Each table's rows, in key order, as the copy reads them."""
    source = await open_source(at)
    try:
        return {
            table.name: await source.rows(table, None, 100_000) for table in await source.tables()
        }
    finally:
        await source.close()


def _copied(out: str, table: str) -> str:
    """The plain line a table's copy printed (stdout is not a terminal here)."""
    (line,) = [line for line in out.splitlines() if line.startswith(f"{table}: ")]
    return line.removeprefix(f"{table}: ")


@SAME_SCHEMA
async def test_an_office_moves_to_postgres_and_back_the_same(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    office = await _office(tmp_path / "office.db")
    async with await open_store(office, read_only=True) as store:
        expected = await _answers(store)
        threads = len(expected[0])  # type: ignore[arg-type]
    url = await postgres_server.empty("copy")

    code, out, err = await textback("store", "copy", f"sqlite:///{office}", url)
    assert (code, err) == (0, "")
    assert _copied(out, "threads") == f"{threads} new, 0 already there"
    assert _copied(out, "lead_steps") == "1 new, 0 already there"
    assert await _every_row(url) == await _every_row(str(office))
    async with await open_store(url) as moved:
        assert await _answers(moved) == expected
        # Thread numbers go on from the office's: the sequence was moved past them.
        await moved.record_decision(decision("after-move", caller="+15125550177"))
        (newest, *_) = await moved.threads(limit=1)
        assert newest.id == threads + 1
        on_postgres = await _answers(moved)

    code, out, err = await textback("store", "copy", str(office), url)
    assert (code, err) == (0, "")
    assert _copied(out, "threads") == f"0 new, {threads} already there"
    assert _copied(out, "calls").startswith("0 new, ")

    back = tmp_path / "back" / "office.db"
    code, out, err = await textback("store", "copy", url, f"sqlite:///{back}")
    assert (code, err) == (0, "")
    assert _copied(out, "threads") == f"{threads + 1} new, 0 already there"
    assert await _every_row(str(back)) == await _every_row(url)
    async with await open_store(back) as returned:
        assert await _answers(returned) == on_postgres
        assert (await returned.lead_states([1]))[1].step == "won"


@SAME_SCHEMA
async def test_a_copy_in_small_batches_is_the_same_and_idempotent(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    """Batches of 2 rows: keys resume where the last batch ended, and a batch
    text's reference to its own table is set once the table is there."""
    office = await _office(tmp_path / "office.db")
    url = await postgres_server.fresh("batches")
    first = await copy_store(str(office), url, batch_rows=2)
    again = await copy_store(str(office), url, batch_rows=2)
    assert sum(c.new for c in first) > 0
    assert [(c.table, c.new, c.already) for c in again] == [(c.table, 0, c.new) for c in first]
    async with await open_store(office, read_only=True) as store:
        expected = await store.alerts()
    async with await open_store(url, read_only=True) as moved:
        assert await moved.alerts() == expected


@SAME_SCHEMA
async def test_a_database_holding_another_office_is_refused_untouched(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    office = await _office(tmp_path / "office.db")
    url = await postgres_server.fresh("other")
    async with await open_store(url, clock=Clock(T0)) as other:
        await other.record_decision(decision("someone-else", caller="+15125550166"))
        before = await _answers(other)

    code, _, err = await textback("store", "copy", str(office), url)
    assert code == 1
    assert "different threads row under id=1" in err
    assert "nothing was copied" in err
    assert "Traceback" not in err
    async with await open_store(url, read_only=True) as other:
        assert await _answers(other) == before


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("source", "target", "said"),
    [
        ("{db}", "mysql://textback@127.0.0.1/textback", "not a store textback knows"),
        ("{db}", "postgresql://u:hunter2@127.0.0.1/textback", "$PGPASSWORD"),
        ("{db}", "postgresql:///textback", "name a server and a database"),
        ("sqlite://relative.db", "{db}", "absolute path"),
        ("{db}", "{db}", "the same store"),
        ("{db}", "sqlite:///{db}", "the same store"),
    ],
)
def test_a_bad_url_is_a_usage_error(tmp_path: Path, source: str, target: str, said: str) -> None:
    db = str(tmp_path / "office.db")
    args = ["store", "copy", source.format(db=db), target.format(db=db)]
    result = CliRunner().invoke(main, args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert said in result.stderr
    assert "hunter2" not in result.stderr
    assert not (tmp_path / "office.db").exists()


async def test_an_unreachable_server_or_a_missing_file_is_one_line(tmp_path: Path) -> None:
    office = await _office(tmp_path / "office.db")
    url = f"postgresql://textback@127.0.0.1:{_closed_port()}/textback"
    code, _, err = await textback("store", "copy", str(office), url, env={"PGPASSWORD": "s3cr3t"})
    assert code == 1
    assert "cannot reach the store" in err
    assert "s3cr3t" not in err
    assert len(err.strip().splitlines()) == 1

    code, _, err = await textback("store", "copy", str(tmp_path / "none.db"), url)
    assert code == 1
    assert "no store at" in err
    assert "Traceback" not in err


async def test_a_source_newer_than_this_textback_is_refused_before_the_target_is_made(
    tmp_path: Path,
) -> None:
    office = await _office(tmp_path / "office.db")
    with sqlite3.connect(office) as db:
        db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    target = tmp_path / "new.db"
    code, _, err = await textback("store", "copy", str(office), str(target))
    assert code == 1
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this textback" in err
    assert not target.exists()


@pytest.mark.skipif(SCHEMA_VERSION == POSTGRES_VERSION, reason="both schemas at one version")
async def test_stores_at_different_versions_are_refused(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    office = await _office(tmp_path / "office.db")
    url = await postgres_server.fresh("versions")
    code, _, err = await textback("store", "copy", str(office), url)
    assert code == 1
    assert f"schema version {SCHEMA_VERSION} and " in err
    assert f" at {POSTGRES_VERSION}: a copy needs both at the same version" in err


def _office_config(tmp_path: Path, office: Path) -> Path:
    """The example config, its store the office's SQLite file."""
    text = EXAMPLE_CONFIG.read_text().replace("\n# lab: true\n", "\nlab: true\n")
    text = text.replace("path: /var/lib/textback/textback.db", f"path: {office}", 1)
    path = tmp_path / "textback.yaml"
    path.write_text(text)
    return path


async def test_the_configured_store_is_named_config(tmp_path: Path) -> None:
    office = await _office(tmp_path / "office.db")
    config = _office_config(tmp_path, office)
    target = tmp_path / "copy.db"
    env = {"AMI_SECRET": SECRET, "SMTP_PASSWORD": "smtp-secret"}
    code, out, err = await textback(
        "store", "copy", "--config", str(config), "config", str(target), env=env
    )
    assert (code, err) == (0, "")
    assert _copied(out, "threads") == "4 new, 0 already there"
    assert await _every_row(str(target)) == await _every_row(str(office))
