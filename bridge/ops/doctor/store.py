"""The store: where it is, whether this user may write it, its schema."""

from __future__ import annotations

import os
from pathlib import Path

from bridge.config.store_section import StoreConfig
from bridge.ops.doctor.report import Check
from bridge.store import SchemaMismatch, StoreError, open_configured


async def check_store(config: StoreConfig) -> Check:
    sqlite = config.postgres_url is None
    if sqlite and (place := _store_place(config.sqlite_path)) is not None:
        return place
    try:  # read-only: the doctor never creates, migrates or writes the store
        async with await open_configured(config, read_only=True) as store:
            version = await store.schema_version()
    except SchemaMismatch as exc:
        if exc.older:
            upgrade = f"schema {exc.found}; `textback run` upgrades it to {exc.current}"
            return Check("store", True, upgrade)
        newer = f"schema {exc.found} is newer than this textback ({exc.current})"
        fix = "upgrade textback; never run an older one on this store"
        return Check("store", False, newer, fix)
    except StoreError as exc:
        return Check("store", False, str(exc), "check store.path" if sqlite else "check store.url")
    if sqlite:
        return Check("store", True, f"{config.shown} is writable, schema {version} is current")
    return Check("store", True, f"{config.shown} answers, schema {version} is current")


def _store_place(path: Path) -> Check | None:
    """Can the bridge create, or write, the store there? (None: it can.)"""
    name = "store"
    directory = path.parent
    if not path.exists():
        usable = (
            directory
            if directory.exists()
            else next((p for p in directory.parents if p.exists()), Path("/"))
        )
        if os.access(usable, os.W_OK):
            return Check(name, True, f"{path} will be created on first run")
        return Check(
            name, False, f"cannot create {path}: {usable} is not writable",
            "create the directory for the bridge's user (systemd: StateDirectory=textback)",
        )  # fmt: skip
    if not os.access(path, os.W_OK) or not os.access(directory, os.W_OK):
        return Check(
            name, False, f"{path} (or its directory) is not writable by this user",
            f"chown the directory {directory} to the user textback runs as",
        )  # fmt: skip
    return None
