"""The test suite keeps its shape: every test module in a tier folder, and tests
share code only through tests/support (never by importing another test module
or a conftest)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT

TESTS = ROOT / "tests"
TIERS = {"unit", "contract", "adapters", "system", "upstream"}


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "fixtures" not in p.relative_to(TESTS).parts)


def test_every_test_module_is_in_a_tier_folder() -> None:
    misplaced = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("test_*.py")
        if p.relative_to(TESTS).parts[0] not in TIERS
    ]
    assert misplaced == [], "move these into tests/<tier>/ (README.md, Tests, says which)"


def test_the_top_of_tests_holds_only_the_package_and_its_conftest() -> None:
    assert sorted(p.name for p in TESTS.glob("*.py")) == ["__init__.py", "conftest.py"]


def test_tests_import_shared_code_from_tests_support_only() -> None:
    offences = []
    for path in python_files():
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                names = [f"{'.' * node.level}{node.module or ''}"]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith(".") or (
                    name.split(".")[0] == "tests" and not name.startswith("tests.support")
                ):
                    offences.append(f"{path.relative_to(TESTS)}:{node.lineno}: {name}")
    assert offences == [], "import shared code from tests.support, fixtures via conftest.py"


def test_each_tier_folder_says_what_belongs_there() -> None:
    for tier in sorted(TIERS):
        docstring = ast.get_docstring(ast.parse((TESTS / tier / "__init__.py").read_text()))
        assert docstring, f"tests/{tier}/__init__.py: a docstring saying what goes there"
