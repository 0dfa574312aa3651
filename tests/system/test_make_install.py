"""`make install`: a venv of its own, the command on the PATH, where the unit runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

UNIT = ROOT / "config" / "systemd" / "textback.service"


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )


def test_the_default_install_is_where_the_systemd_unit_runs_it() -> None:
    planned = make("-n", "install").stdout.splitlines()
    assert "ln -sfn /opt/textback/.venv/bin/textback /usr/local/bin/textback" in planned
    (exec_start,) = [
        line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")
    ]
    assert exec_start.startswith("ExecStart=/opt/textback/.venv/bin/textback run ")


def test_make_install_builds_a_venv_and_links_the_command(tmp_path: Path) -> None:
    """A real install (about 15 s: a venv and the dependencies from pip's index)."""
    prefix, bindir = tmp_path / "opt" / "textback", tmp_path / "bin"
    result = make("install", f"PREFIX={prefix}", f"BINDIR={bindir}", f"PYTHON={sys.executable}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "textback, version 0.1.0"
    command = bindir / "textback"
    assert command.readlink() == prefix / ".venv" / "bin" / "textback"
    assert (prefix / "README.md").read_text() == (ROOT / "README.md").read_text()
    # The installed copy works on its own, away from the clone, as the README's steps run it.
    env = {"PATH": f"{bindir}:/usr/bin:/bin", "AMI_SECRET": "x", "SMTP_PASSWORD": "y"}
    env["TEXTBACK_CONFIG"] = str(ROOT / "config" / "textback.example.yaml")
    checked = subprocess.run(
        ["textback", "check-config"], cwd=tmp_path, env=env,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "textback.example.yaml: OK" in checked.stdout
