"""The files an installer copies: checked with the tools that read them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.paths import ROOT

UNIT = ROOT / "config" / "systemd" / "textback.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_the_systemd_unit_passes_systemd_analyze(tmp_path: Path) -> None:
    text = UNIT.read_text()
    command = "/opt/textback/.venv/bin/textback run --config /etc/textback/textback.yaml"
    assert command in text
    # The installed binary is not on a build machine; everything else is checked as shipped.
    unit = tmp_path / "textback.service"
    unit.write_text(text.replace(command, "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_the_unit_keeps_the_store_and_modem_where_the_config_expects_them() -> None:
    settings = dict(
        line.split("=", 1)
        for line in UNIT.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    assert settings["StateDirectory"] == "textback"  # /var/lib/textback, the default store.path
    assert settings["SupplementaryGroups"] == "dialout"
    assert settings["ProtectSystem"] == "strict"
    assert settings["DynamicUser"] == "yes"


DOCKER = ROOT / "docker"


def _tool(name: str) -> str:
    """A linter installed with the dev extras (pip), beside this interpreter."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is a dev dependency: pip install -e '.[dev]'"
    return found


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--no-color", str(DOCKER / "Dockerfile")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_file_passes_compose_lint() -> None:
    result = subprocess.run(
        [
            _tool("compose-lint"), "check", "--fail-on", "medium", "--strict-config",
            "--config", str(DOCKER / ".compose-lint.yml"), str(DOCKER / "compose.yaml"),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_names_match_the_docs() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    readme = (DOCKER / "README.md").read_text()
    documented = {
        (row[0], row[1].strip("`"))
        for row in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in readme.splitlines()
            if line.startswith("| ") and "`" in line
        )
    }
    devices = {device.split(":")[1] for device in compose["services"]["textback"]["devices"]}
    defined = (
        {("service", name) for name in compose["services"]}
        | {("network", name) for name in compose["networks"]}
        | {("volume", name) for name in compose["volumes"]}
        | {("device", path) for path in devices}
    )
    assert defined == documented
    # The image runs the bridge as the unit does, with the store where the config expects it.
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert 'VOLUME ["/var/lib/textback"]' in dockerfile
    assert "textback-data:/var/lib/textback" in compose["services"]["textback"]["volumes"]
    assert 'CMD ["run", "--config", "/etc/textback/textback.yaml"]' in dockerfile
    assert "USER 10001" in dockerfile  # never root
