"""The files an installer copies: checked with the tools that read them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).parent.parent / "config" / "systemd" / "textback.service"


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
