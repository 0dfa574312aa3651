"""The shipped example config (config/textback.example.yaml), pointed at the doubles."""

from __future__ import annotations

from pathlib import Path

from tests.support.paths import EXAMPLE_CONFIG

__all__ = ["EXAMPLE_CONFIG", "example_config"]


def example_config(
    tmp_path: Path, ami_port: int, *, modem: Path | None = None, fast: bool = True
) -> Path:
    """The shipped example config, pointed at this test's doubles and store. A lab:
    the doubles and recorded traces use the fictional 555-01xx numbers."""
    text = EXAMPLE_CONFIG.read_text().replace("\n# lab: true\n", "\nlab: true\n")
    head, _, tail = text.partition("\nmodem:")
    # The example's modem and smtp sections out: tests add their own doubles.
    text = head + "\nstore:" + tail.partition("\nstore:")[2]
    text = text.replace("port: 5038", f"port: {ami_port}")
    text = text.replace("/var/lib/textback/textback.db", str(tmp_path / "textback.db"))
    if fast:
        text = text.replace("ping_interval: 20", "ping_interval: 1")
        text = text.replace("reconnect_min: 1 ", "reconnect_min: 0.05 ")
    if modem is not None:
        text += (
            f"modem:\n  port: {modem}\n  delivery_reports: false\n"
            "  command_timeout: 30\n  send_timeout: 30\n"
        )
    path = tmp_path / "textback.yaml"
    path.write_text(text)
    return path
