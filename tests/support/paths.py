"""Where the tests find the repository's files and their own data."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# tests/fixtures/: recorded AMI traces, modem profiles, golden PDUs and schemas.
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLE_CONFIG = ROOT / "config" / "textback.example.yaml"
