"""Opening a PostgreSQL store: a pool of connections to the URL's database,
migrated (or, read-only, checked to be at exactly this code's version, in
read-only transactions). Every problem is one StoreError saying what an
installer can do about it; the password never appears in one."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bridge.config.fields import DEFAULT_OFFICE, OFFICE_ID
from bridge.store.errors import StoreError, StoreUnavailable
from bridge.store.postgres.connection import Database, store_error
from bridge.store.postgres.migrate import SCHEMA_VERSION, migrate, newer, older, schema_version
from bridge.store.sqlite.stamps import iso

SCHEMES = ("postgresql", "postgres")
_CONNECT_SECONDS = 10.0
# A statement that takes this long is a server in trouble: fail it, and the
# caller's retry (the recorder keeps its decision) takes over.
_STATEMENT_SECONDS = 30.0
# The office listed, with the sequence its threads are numbered from (migration 15).
_REGISTER = "SELECT textback_register_office($1, $2)"


SslMode = Literal["disable", "prefer", "allow", "require", "verify-ca", "verify-full"]


# A role row security does not hold for would see every office's rows.
_ROLE = "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"


@dataclass(frozen=True, slots=True)
class PostgresOptions:
    """What the URL does not say (store.password, ssl_mode, ca_file, pool_size),
    and which office's rows this bridge works with (office.id)."""

    password: str | None = None
    ssl_mode: SslMode | None = None  # None: asyncpg's default, prefer
    ca_file: Path | None = None
    pool_size: int = 5
    office: str = DEFAULT_OFFICE

    def __post_init__(self) -> None:
        if not OFFICE_ID.fullmatch(self.office):
            raise StoreError(f"not an office id: {self.office!r} (lowercase letters, digits, -)")


def is_postgres_url(target: str) -> bool:
    return urlsplit(target).scheme in SCHEMES


def redacted(url: str) -> str:
    """The URL as messages may show it: no password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _tls(options: PostgresOptions) -> ssl.SSLContext | SslMode | None:
    mode = options.ssl_mode
    if mode in ("verify-ca", "verify-full"):
        context = ssl.create_default_context(
            cafile=str(options.ca_file) if options.ca_file else None
        )
        context.check_hostname = mode == "verify-full"
        return context
    return mode


async def open_database(url: str, options: PostgresOptions, *, read_only: bool) -> Database:
    where = redacted(url)
    # Every connection names its office from the start: row security reads it
    # (migrations/0014_offices.sql), and the pool's reset between uses keeps it.
    settings = {"application_name": "textback", "textback.office": options.office}
    if read_only:
        settings["default_transaction_read_only"] = "on"
    try:
        pool = await asyncpg.create_pool(
            url, password=options.password, ssl=_tls(options), min_size=1,
            max_size=options.pool_size, timeout=_CONNECT_SECONDS,
            command_timeout=_STATEMENT_SECONDS, server_settings=settings,
        )  # fmt: skip
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError) as exc:
        raise StoreError(f"the PostgreSQL server refused the login to {where}: {exc}") from None
    except asyncpg.InvalidCatalogNameError:
        raise StoreError(
            f"no database {where}: create it (docs/store.md, PostgreSQL) and start again"
        ) from None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        error = store_error(exc)
        raise type(error)(f"cannot reach the store {where}: {error}") from None
    assert pool is not None
    database = Database(pool, where)
    try:
        await _check_role(database)
        await (_check_current(database) if read_only else _prepare(database, options.office))
    except BaseException:
        await pool.close()
        raise
    return database


async def _check_role(database: Database) -> None:
    try:
        async with database.pool.acquire() as conn:
            unbound = await conn.fetchval(_ROLE)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise store_error(exc) from None
    if unbound:
        raise StoreError(
            f"the store's role in {database.where} is a superuser or BYPASSRLS: row security,"
            " which keeps each office to its own rows, does not hold for it - connect as an"
            " ordinary role that owns the database (docs/store.md)"
        )


async def _prepare(database: Database, office: str) -> None:
    try:
        async with database.pool.acquire() as conn:
            await migrate(conn, database.where)
            await conn.execute(_REGISTER, office, iso(datetime.now(UTC)))
    except asyncpg.InsufficientPrivilegeError as exc:
        raise StoreError(
            f"the store's role may not build the schema in {database.where}: {exc} - make it"
            " the database's owner (docs/store.md)"
        ) from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailable(f"cannot prepare the store {database.where}: {exc}") from None


async def _check_current(database: Database) -> None:
    """A reader's check: this database has exactly the schema this code reads."""
    try:
        async with database.pool.acquire() as conn:
            version = await schema_version(conn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise store_error(exc) from None
    if version == 0:
        raise StoreError(f"no store in {database.where} yet: has `textback run` started?")
    if version > SCHEMA_VERSION:
        raise newer(database.where, version)
    if version < SCHEMA_VERSION:
        raise older(database.where, version)
