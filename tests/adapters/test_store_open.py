"""Opening the store as each command needs it: the daemon migrates, readers
never create, write or migrate anything, and every problem is one message."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge.core.texts import OutgoingText
from bridge.store import SCHEMA_VERSION, ReadOnlyStore, Store, StoreError
from bridge.store.sqlite import MIGRATIONS
from tests.support.ami import SECRET
from tests.support.example_config import example_config

ENV = {"AMI_SECRET": SECRET}


async def textback(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **ENV},
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def config_with_store(tmp_path: Path, store: Path | str) -> Path:
    path = example_config(tmp_path, 5038)
    path.write_text(path.read_text().replace(str(tmp_path / "textback.db"), str(store)))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Paths nobody may write - root included, which is who CI runs as:
    the immutable attribute stops even root, where chmod would not."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a file read-only")
        for path in paths:
            subprocess.run(["chattr", "+i", str(path)], check=True)
        try:
            yield
        finally:
            for path in reversed(paths):
                subprocess.run(["chattr", "-i", str(path)], check=True)
    else:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


def version_6_store(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for migration in MIGRATIONS[:6]:
            for statement in migration.statements:
                db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (6)")
        db.commit()


@pytest.mark.parametrize("command", ["calls", "threads", "report"])
async def test_readers_of_an_older_store_neither_migrate_nor_write_and_say_what_to_do(
    tmp_path: Path, command: str
) -> None:
    store = tmp_path / "state" / "textback.db"
    store.parent.mkdir()
    version_6_store(store)
    before = digest(store)
    config = config_with_store(tmp_path, store)
    with read_only(store, store.parent):
        code, out, err = await textback(command, "--config", str(config))
    assert code == 1, out
    assert "schema version 6, older than this textback reads" in err
    assert "start `textback run` once to upgrade it" in err
    assert "Traceback" not in err
    assert digest(store) == before
    assert sorted(p.name for p in store.parent.iterdir()) == ["textback.db"]


async def test_a_current_store_in_a_read_only_folder_can_be_read(tmp_path: Path) -> None:
    from tests.support.store_values import decision

    store = tmp_path / "state" / "textback.db"
    store.parent.mkdir()
    async with await Store.open(store) as writable:
        await writable.record_decision(decision())
    before = digest(store)
    config = config_with_store(tmp_path, store)
    with read_only(store, store.parent):
        code, out, err = await textback("calls", "--config", str(config), "--json")
        assert code == 0, err
        assert '"outcome": "missed"' in out
        # The daemon cannot work there, and says why in one line.
        code, _, err = await textback("run", "--config", str(config))
    assert code == 3  # `run`'s own exit code for a store it cannot use
    assert "cannot open the store" in err
    assert f"needs to write {store.parent}" in err
    assert "Traceback" not in err
    assert digest(store) == before


async def test_readers_never_turn_an_empty_file_into_a_store(tmp_path: Path) -> None:
    store = tmp_path / "textback.db"
    store.touch()
    code, _, err = await textback("threads", "--config", str(config_with_store(tmp_path, store)))
    assert code == 1
    assert "is an empty file, not a textback store" in err
    assert store.stat().st_size == 0


async def test_readers_of_a_missing_store_create_nothing(tmp_path: Path) -> None:
    store = tmp_path / "nowhere" / "textback.db"
    code, _, err = await textback("calls", "--config", str(config_with_store(tmp_path, store)))
    assert code == 1
    assert "no store at" in err
    assert not store.parent.exists()


@pytest.mark.parametrize("command", ["run", "calls"])
async def test_a_directory_as_the_store_is_one_clear_message(tmp_path: Path, command: str) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    code, _, err = await textback(command, "--config", str(config_with_store(tmp_path, folder)))
    assert code == (3 if command == "run" else 1)
    assert f"store.path {folder} is a directory" in err
    assert "Traceback" not in err


async def test_something_that_is_not_a_store_is_named_as_such(tmp_path: Path) -> None:
    store = tmp_path / "textback.db"
    store.write_bytes(b"this is a text file, not SQLite\n" * 200)
    for read_only_open in (True, False):
        with pytest.raises(StoreError, match="is not a textback store"):
            await Store.open(store, read_only=read_only_open)


async def test_a_reader_sees_what_the_running_bridge_wrote(tmp_path: Path) -> None:
    """While a bridge has it open (a WAL journal beside it) the reader reads through it."""
    from tests.support.store_values import decision

    path = tmp_path / "textback.db"
    async with await Store.open(path) as writer:
        await writer.record_decision(decision())
        async with await Store.open(path, read_only=True) as reader:
            assert [c.linkedid for c in await reader.recent_calls()] == [decision().linkedid]
            assert await reader.schema_version() == SCHEMA_VERSION
            with pytest.raises(ReadOnlyStore, match="readonly"):
                await reader.queue_text(OutgoingText("+15125559876", "x", 1, decision().ended_at))
