"""The import contracts in pyproject.toml hold: imports point one way (import-linter)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """Run ``lint-imports`` on the dvlin package found at ``root`` with ``root``'s contracts."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    code = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-c", code, "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_contracts_are_kept() -> None:
    ran = lint_imports(ROOT)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "0 broken" in ran.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("objects/store.py", "from dvlin.repo import Repo", "one-way layers"),
        ("workspace/scan.py", "import dvlin.catalog.runs", "know nothing of SQLite"),
        ("cli/gc.py", "import dvlin.catalog.gc", "reach the core through ops"),
    ],
)
def test_a_new_violation_breaks_a_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "dvlin", copy / "dvlin", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    target = copy / "dvlin" / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    ran = lint_imports(copy)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"{contract} BROKEN" in ran.stdout


def test_no_import_is_excused_from_the_contracts() -> None:
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    excused = {
        c["name"]: c["ignore_imports"]
        for c in config["tool"]["importlinter"]["contracts"]
        if c.get("ignore_imports")
    }
    assert excused == {}
