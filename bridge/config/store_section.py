"""The store section: a SQLite file on this box, or a PostgreSQL database,
with what each needs (docs/store.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from bridge.config.fields import FilePath, Secret, Section, located, quoted

__all__ = ["StoreConfig"]

_STORE_SCHEMES = ("sqlite", "postgresql", "postgres")
_POSTGRES_ONLY = ("password", "ssl_mode", "ca_file", "pool_size")
_SQLITE_URL = "sqlite:///"


def _store_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in _STORE_SCHEMES:
        raise PydanticCustomError(
            "store_url",
            "expected sqlite:///path/to/textback.db or postgresql://user@host/database, got {got}",
            {"got": quoted(f"{parts.scheme}://{parts.hostname or ''}{parts.path}")},
        )
    if parts.scheme == "sqlite" and (not value.startswith(_SQLITE_URL) or value == _SQLITE_URL):
        raise PydanticCustomError(
            "store_url",
            "a SQLite URL names an absolute file: sqlite:///var/lib/textback/textback.db",
        )
    if parts.password:
        raise PydanticCustomError(
            "store_url", "no password in the URL: put it in store.password as ${ENV_NAME}"
        )
    if parts.scheme != "sqlite" and not (parts.hostname and parts.path.strip("/")):
        raise PydanticCustomError(
            "store_url", "a PostgreSQL URL names a host and a database: postgresql://user@host/db"
        )
    return value


class StoreConfig(Section):
    # Where the store is: a SQLite file on this box (the default) or a PostgreSQL
    # database (docs/store.md, docs/scale.md). url or path, not both.
    url: Annotated[str, AfterValidator(_store_url)] | None = None
    path: FilePath = Path("/var/lib/textback/textback.db")  # the SQLite file (no url)
    # PostgreSQL only: the role's password (as ${ENV}), TLS, and how many
    # connections this bridge keeps open.
    password: Secret | None = None
    ssl_mode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] | None = None
    ca_file: FilePath | None = None  # the CA that signed the server's certificate (verify-*)
    pool_size: Annotated[int, Field(ge=1, le=100)] = 5
    # The bridge's own files (the heartbeat `textback health` reads): beside a
    # SQLite store by default; for PostgreSQL, /var/lib/textback.
    state_dir: FilePath | None = None
    # Blank the words of alerts and texts of finished conversations older than
    # this, daily (`textback store prune`); rows, figures and opt-outs stay.
    # None: keep everything.
    keep_days: Annotated[int, Field(ge=1, le=36_500)] | None = None
    # Decisions held in memory while the store refuses writes (a PostgreSQL
    # server away), written in order when it is back; past this many, the
    # oldest calls-in-progress states go first, then the oldest decisions.
    hold: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000

    @model_validator(mode="after")
    def _one_place(self) -> StoreConfig:
        if self.url is not None and "path" in self.model_fields_set:
            raise located(("url",), "give store.url or store.path, not both")
        if self.postgres_url is None:
            for key in _POSTGRES_ONLY:
                if key in self.model_fields_set:
                    raise located(
                        (key,), "only for a PostgreSQL store (store.url: postgresql://...)"
                    )
        if self.ca_file is not None and self.ssl_mode not in ("verify-ca", "verify-full"):
            raise located(("ca_file",), "a CA file is used with ssl_mode verify-ca or verify-full")
        return self

    @property
    def postgres_url(self) -> str | None:
        """The PostgreSQL database's URL (no password), or None for SQLite."""
        if self.url is None or urlsplit(self.url).scheme == "sqlite":
            return None
        return self.url

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file (meaningless for a PostgreSQL store)."""
        if self.url is not None and self.url.startswith(_SQLITE_URL):
            return Path("/" + self.url.removeprefix(_SQLITE_URL).lstrip("/"))
        return self.path

    @property
    def state_folder(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir
        if self.postgres_url is not None:
            return Path("/var/lib/textback")
        return self.sqlite_path.parent

    @property
    def shown(self) -> str:
        """Where the store is, as messages show it."""
        url = self.postgres_url
        return str(self.sqlite_path) if url is None else url
