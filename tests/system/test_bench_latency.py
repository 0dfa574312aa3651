"""bench/latency.py runs end to end: the bridge here, the PBX and the modem in
the bench's child process (bench/doubles.py), a few calls at each level.

Only that it works and what it reports: never its timings (docs: figures are
measured in bench/, with ratios in the same run, not asserted in tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_latency_bench_texts_every_call_and_ends_with_its_figures() -> None:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "latency.py"), "--calls", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    for level in ("1", "10", "100", "sip_1", "sip_10"):
        # Each level's latencies were measured, one per text the doubles saw go.
        assert 0 < figures[f"p50_ms_{level}"] <= figures[f"p99_ms_{level}"]
        assert figures[f"p99_ms_{level}"] <= figures[f"max_ms_{level}"]
        assert figures[f"commits_per_text_{level}"] > 0
    assert figures["floor_ms"] > 0
    assert any("ringing at once" in line for line in lines)
