"""store: a SQLite file (path, or a sqlite:/// url) or a PostgreSQL url, with
the PostgreSQL settings refused for SQLite, and each error at its key's line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import Config, ConfigError, load_config
from bridge.ops.health import heartbeat_file
from tests.support.example_config import EXAMPLE_CONFIG


def configured(tmp_path: Path, store: str, env: dict[str, str] | None = None) -> Config:
    head = EXAMPLE_CONFIG.read_text().replace("\n# lab: true\n", "\nlab: true\n")
    head = head.partition("\nstore:")[0]
    path = tmp_path / "textback.yaml"
    path.write_text(f"{head}\nstore:\n{store}")
    return load_config(path, environ={"AMI_SECRET": "x", "SMTP_PASSWORD": "y", **(env or {})})


def problems(tmp_path: Path, store: str) -> list[str]:
    with pytest.raises(ConfigError) as failed:
        configured(tmp_path, store)
    return [p.split(": ", 1)[1] for p in failed.value.problems]


def test_the_default_is_the_sqlite_file_with_the_heartbeat_beside_it(tmp_path: Path) -> None:
    store = configured(tmp_path, "  path: /srv/tb/textback.db\n").store
    assert (store.postgres_url, store.sqlite_path) == (None, Path("/srv/tb/textback.db"))
    assert heartbeat_file(store) == Path("/srv/tb/textback.health")


def test_a_sqlite_url_names_the_file(tmp_path: Path) -> None:
    store = configured(tmp_path, "  url: sqlite:///var/lib/tb/t.db\n").store
    assert (store.postgres_url, store.sqlite_path) == (None, Path("/var/lib/tb/t.db"))


def test_a_postgres_store_takes_its_password_from_the_environment(tmp_path: Path) -> None:
    text = (
        "  url: postgresql://textback@db.example/textback\n  password: ${PG_PASS}\n"
        "  ssl_mode: verify-full\n  ca_file: /etc/textback/ca.pem\n  pool_size: 3\n"
    )
    store = configured(tmp_path, text, {"PG_PASS": "s3cret"}).store
    assert store.postgres_url == "postgresql://textback@db.example/textback"
    assert store.password is not None
    assert store.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(store)
    assert "s3cret" not in store.shown
    assert (store.ssl_mode, store.pool_size) == ("verify-full", 3)
    assert heartbeat_file(store) == Path("/var/lib/textback/textback.health")


@pytest.mark.parametrize(
    ("store", "problem"),
    [
        ("  url: mysql://u:pw@db/x\n", "store.url: expected sqlite:///path/to/textback.db or"),
        ("  url: postgresql://u:pw@db/x\n", "store.url: no password in the URL"),
        ("  url: postgresql://db\n", "store.url: a PostgreSQL URL names a host and a database"),
        ("  url: sqlite://relative.db\n", "store.url: a SQLite URL names an absolute file"),
        ("  url: postgresql://u@db/x\n  path: /x.db\n", "store.url: give store.url or store.path"),
        ("  pool_size: 3\n", "store.pool_size: only for a PostgreSQL store"),
        ("  url: postgresql://u@db/x\n  ssl_mode: sure\n", "store.ssl_mode: "),
        ("  url: postgresql://u@db/x\n  ca_file: /ca.pem\n", "store.ca_file: a CA file is used"),
    ],
)
def test_a_wrong_store_is_named_with_its_key(tmp_path: Path, store: str, problem: str) -> None:
    found = problems(tmp_path, store)
    assert len(found) == 1, found
    assert found[0].startswith(problem), found
    assert "pw" not in found[0].replace("password", "")
