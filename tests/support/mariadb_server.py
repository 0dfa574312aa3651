"""A real MariaDB server for the tests, from Debian's mariadb-server package.

One per test session: ``mariadb-install-db`` into a temporary data directory,
then ``mariadbd`` on a loopback port and a unix socket, as the current user;
it is ready when it says so on stderr. Without the binaries the tests that
need it are skipped, loudly (.ci/run installs the package).

The ``mariadb`` fixture (tests/adapters/conftest.py) runs ``serve`` once per
session; a test asks for ``mariadb``.
"""

from __future__ import annotations

import getpass
import os
import queue
import shutil
import socket
import subprocess
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pymysql
import pytest

_STARTUP_SECONDS = 120
SKIP_REASON = (
    "MariaDB is NOT installed (no mariadbd / mariadb-install-db): the MySQL call-record "
    "source is NOT tested. apt-get install mariadb-server (as .ci/run does)"
)


@dataclass
class MariaDb:
    host: str
    port: int
    socket: Path
    log: list[str] = field(default_factory=list)

    def root(self, database: str | None = None) -> pymysql.Connection:
        """An administrator's connection, over the unix socket."""
        return pymysql.connect(
            unix_socket=str(self.socket), user="root", database=database, charset="utf8mb4"
        )


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin"):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _install(install_db: str, datadir: Path, user: str) -> None:
    done = subprocess.run(
        [
            install_db, "--no-defaults", f"--datadir={datadir}", f"--user={user}",
            "--auth-root-authentication-method=normal", "--skip-test-db",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed:\n{done.stdout}\n{done.stderr}")


def _drain(stream: IO[str], lines: queue.Queue[str | None], log: list[str]) -> None:
    """Keep reading the server's stderr (a full pipe would block it)."""
    for line in stream:
        log.append(line)
        lines.put(line)
    lines.put(None)


def _wait_until_ready(server: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    """Until mariadbd logs 'ready for connections' (an event, not a sleep)."""
    while True:
        try:
            line = lines.get(timeout=_STARTUP_SECONDS)
        except queue.Empty:
            raise RuntimeError("mariadbd did not get ready in time") from None
        if line is None:
            raise RuntimeError(f"mariadbd exited with {server.wait()}")
        if "ready for connections" in line:
            return


def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDb]:
    """A MariaDB server until the generator is closed; skips without the binaries."""
    mariadbd, install_db = _binary("mariadbd"), _binary("mariadb-install-db")
    if mariadbd is None or install_db is None:
        warnings.warn(SKIP_REASON, stacklevel=1)  # in the summary even without -rs
        pytest.skip(SKIP_REASON)
    base = tmp_path_factory.mktemp("mariadb")
    user = getpass.getuser()
    _install(install_db, base / "data", user)
    db = MariaDb("127.0.0.1", _free_port(), base / "mysqld.sock")
    server = subprocess.Popen(
        [
            mariadbd, "--no-defaults", f"--datadir={base / 'data'}", f"--socket={db.socket}",
            f"--port={db.port}", "--bind-address=127.0.0.1", f"--user={user}",
            f"--pid-file={base / 'mysqld.pid'}", "--skip-name-resolve", "--skip-log-bin",
            "--innodb-buffer-pool-size=16M", "--performance-schema=OFF",
        ],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "TZ": "UTC"},
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()
    reader = threading.Thread(target=_drain, args=(server.stderr, lines, db.log), daemon=True)
    reader.start()
    try:
        _wait_until_ready(server, lines)
        yield db
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        reader.join(timeout=10)
