"""The simulated modem's link: it replaces and removes only its own."""

from __future__ import annotations

import os
from pathlib import Path

from bridge.sim.modem_pty import SimulatedModem


async def test_unplug_leaves_a_link_that_now_points_elsewhere(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    first = await SimulatedModem(link).start()
    second = await SimulatedModem(link).start()  # took the path over: the link is its now
    ours = os.readlink(link)
    first.unplug()
    assert os.readlink(link) == ours
    second.unplug()
    assert not link.is_symlink()


async def test_unplug_leaves_a_file_put_where_the_link_was(tmp_path: Path) -> None:
    link = tmp_path / "ttyUSB0"
    sim = await SimulatedModem(link).start()
    link.unlink()
    link.write_text("someone's file")
    sim.unplug()
    assert link.read_text() == "someone's file"
    sim.unplug()  # twice is harmless
