"""A real PostgreSQL server for the tests and benches, from Debian's postgresql package.

One per test session: ``initdb`` into a temporary folder, then ``pg_ctl start``
(which returns once the server accepts connections) on a loopback port and a
unix socket in that folder. PostgreSQL refuses to run as root, so as root the
cluster belongs to the ``postgres`` OS user (the package creates it) and every
command runs through ``runuser``; as anyone else, as that user. Trust
authentication: the server listens on 127.0.0.1 only and lives for one run.

A test gets a fresh database in milliseconds (:meth:`PostgresServer.fresh`):
a copy of a template that was migrated once. Without the binaries the tests
that need it are skipped, loudly (.ci/run installs the package).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest

SKIP_REASON = (
    "PostgreSQL is NOT installed (no initdb / pg_ctl): the PostgreSQL store is NOT"
    " tested. apt-get install postgresql (as .ci/run does)"
)
SUPERUSER = "postgres"
# The stores connect as an ordinary role that owns its databases, as in
# production: a superuser would pass through row security (0014_offices.sql),
# and the store refuses one.
ROLE = "textback"
TEMPLATE = "textback_template"
_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def binaries() -> Path | None:
    """The folder with initdb and pg_ctl (Debian keeps them out of the PATH)."""
    for folder in _BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    bin_dir: Path
    base: Path  # data/, the socket and the log
    port: int
    as_user: list[str]  # the command prefix that runs a binary as the cluster's owner
    durable: bool
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def url(self, database: str = "postgres") -> str:
        """The store's URL for ``database``: as the ordinary role ROLE."""
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{database}"

    def superuser_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self.as_user, *command], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(f"{command[0]} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def start(self) -> None:
        """Start (or restart after :meth:`stop`); returns once it accepts connections."""
        options = [
            f"-p {self.port}", "-c listen_addresses=127.0.0.1",
            f"-c unix_socket_directories={self.base}", "-c max_connections=200",
            "-c shared_buffers=32MB",
        ]  # fmt: skip
        if not self.durable:  # the tests' databases are thrown away: no need to reach the disk
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        pg_ctl = str(self.bin_dir / "pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", " ".join(options),
                  "-w", "-t", "120", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    async def admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.superuser_url())

    async def fresh(self, prefix: str = "t") -> str:
        """The URL of a new database, a copy of the migrated template."""
        name = f"{prefix}_{os.getpid()}_{next(self._numbers)}"
        conn = await self.admin()
        try:
            await conn.execute(
                f'CREATE DATABASE "{name}" OWNER {ROLE} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY'
            )
        finally:
            await conn.close()
        return self.url(name)

    async def empty(self, prefix: str = "e") -> str:
        """The URL of a new database with nothing in it (migrations' own tests)."""
        name = f"{prefix}_{os.getpid()}_{next(self._numbers)}"
        conn = await self.admin()
        try:
            await conn.execute(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        finally:
            await conn.close()
        return self.url(name)

    async def prepare_template(self) -> None:
        """The template every fresh database copies: migrated once, by the store itself."""
        from bridge.store.postgres import PostgresStore  # the code under test

        conn = await self.admin()
        try:
            await conn.execute(f"CREATE ROLE {ROLE} LOGIN")
            await conn.execute(f"CREATE DATABASE {TEMPLATE} OWNER {ROLE}")
        finally:
            await conn.close()
        store = await PostgresStore.open(self.url(TEMPLATE))
        await store.close()


def _owner_prefix(base: Path) -> list[str]:
    """Run as ``postgres`` when we are root (initdb refuses root), else as ourselves."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    shutil.chown(base, user=SUPERUSER)
    return [runuser, "-u", SUPERUSER, "--"]


def _in_own_loop(work: Callable[[], Coroutine[object, object, None]]) -> None:
    """Run ``work`` on a loop of its own: the fixture may be asked for from inside a test's."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(work())).result()


def serve(*, durable: bool = False) -> Iterator[PostgresServer]:
    """A PostgreSQL server until the generator is closed; skips without the binaries.

    ``durable``: fsync on, as in production (the bench); the tests turn it off."""
    bin_dir = binaries()
    if bin_dir is None:
        warnings.warn(SKIP_REASON, stacklevel=1)  # in the summary even without -rs
        pytest.skip(SKIP_REASON)
    # Not under pytest's tmp folder: as root that is 0700, closed to the postgres user.
    base = Path(tempfile.mkdtemp(prefix="textback-pg-"))
    server = PostgresServer(bin_dir, base, _free_port(), _owner_prefix(base), durable)
    try:
        server._run(str(bin_dir / "initdb"), "-D", str(server.data), "-U", SUPERUSER,
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        server.start()
        _in_own_loop(server.prepare_template)
        yield server
    finally:
        if (server.data / "postmaster.pid").exists():
            server.stop()
        shutil.rmtree(base, ignore_errors=True)
