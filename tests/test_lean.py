"""dvlin.lean: commit and checkout of a small tree run without NumPy, with the same results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dvlin import lean
from tests.column_suites import run_suites

ROOT = Path(__file__).resolve().parent.parent

# Runs the dvlin command like the console script, then says whether NumPy was imported.
_CLI = """
import atexit, sys
from dvlin.cli import main
sys.argv = ["dvlin", *sys.argv[1:]]
# atexit: main() ends the process itself once the command is over
atexit.register(lambda: print("numpy imported:", "numpy" in sys.modules, file=sys.stderr))
main()
"""


def _dvlin(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", _CLI, *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_numpy_is_never_blocked_unless_the_process_allows_it() -> None:
    # The test process is the Python API: it never opted in, and pyarrow is imported anyway.
    assert not lean.without_numpy()
    assert not lean.numpy_blocked()


def test_a_small_commit_and_checkout_run_without_numpy_and_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for i in range(40):
        (data / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (data / f"d{i % 3}" / f"f{i}.bin").write_bytes(os.urandom(100 + i))
    (data / "odd name ü\t.txt").write_bytes(b"odd")
    assert _dvlin(tmp_path, "init").returncode == 0
    first = _dvlin(tmp_path, "commit", "data")
    assert first.returncode == 0, first.stderr
    assert "numpy imported: False" in first.stderr
    (data / "d0" / "f0.bin").write_bytes(b"changed")
    (data / "d1" / "f1.bin").unlink()
    second = _dvlin(tmp_path, "commit", "data")
    assert second.returncode == 0, second.stderr
    assert "numpy imported: False" in second.stderr
    expected = _tree(data)

    back = _dvlin(tmp_path, "checkout", "data@v1")
    assert back.returncode == 0, back.stderr
    assert "numpy imported: False" in back.stderr
    assert (data / "d1" / "f1.bin").exists()
    restored = _dvlin(tmp_path, "checkout", "data@v2", "--to", "copy")
    assert restored.returncode == 0, restored.stderr
    assert "numpy imported: False" in restored.stderr
    assert _tree(tmp_path / "copy") == expected


def test_a_commit_with_a_table_keeps_numpy_for_its_profile(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.CSV").write_text("a,b\n1,2.5\n3,4.5\n")
    assert _dvlin(tmp_path, "init").returncode == 0
    done = _dvlin(tmp_path, "commit", "data")
    assert done.returncode == 0, done.stderr
    assert "numpy imported: True" in done.stderr


@pytest.mark.slow
def test_the_column_kernels_agree_with_their_references_without_numpy() -> None:
    # The property tests of the kernels, the checkout plan, the commit's columns and its merge
    # with the parent's rows, run in a process where NumPy cannot be imported: the lean paths
    # against the same references.
    run_suites(
        "from dvlin import lean\nlean.allow()\nassert lean.without_numpy()\n",
        after="assert 'numpy' not in sys.modules, 'numpy was imported'\n",
    )
