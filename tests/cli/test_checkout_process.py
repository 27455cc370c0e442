"""A switch in a real ``dvlin`` process, where the folder is walked by a forked process early.

In-process tests usually run with other threads alive, which rightly keeps the walk from
forking; here the command runs as users run it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import snapshot

V1 = {f"d/s{i % 7}/f{i:03d}.txt": f"one {i}\n" * (i % 5 + 1) for i in range(300)}
V2 = {**V1, **{f"d/s{i % 7}/f{i:03d}.txt": f"two {i}\n" for i in range(0, 300, 10)}}


def _dvlin(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvlin", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DVLIN_AUTHOR": "Test <t@example.org>", "DVLIN_SCAN_WORKERS": "2"},
        check=False,
    )


def _write(root: Path, tree: dict[str, str]) -> None:
    for rel, text in tree.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.fixture
def two(tmp_path: Path) -> Path:
    assert _dvlin(tmp_path, "init", "-q").returncode == 0
    _write(tmp_path, V1)
    assert _dvlin(tmp_path, "commit", "d").returncode == 0
    _write(tmp_path, V2)
    assert _dvlin(tmp_path, "commit", "d").returncode == 0
    return tmp_path


@pytest.mark.parametrize("edited", ["d/s0/f000.txt", "d/s1/f001.txt"])  # v1 rewrites / shares
def test_a_local_edit_stops_a_switch_with_exit_5(two: Path, edited: str) -> None:
    (two / edited).write_text("my edit\n")
    before = snapshot(two / "d")
    ran = _dvlin(two, "checkout", "d@v1")
    assert ran.returncode == 5, ran.stderr
    assert "uncommitted changes" in ran.stderr and Path(edited).name in ran.stderr
    assert snapshot(two / "d") == before


def test_a_switch_and_a_restore_give_the_versions_bytes(two: Path) -> None:
    assert _dvlin(two, "checkout", "d@v1").returncode == 0
    assert {rel: (two / rel).read_text() for rel in V1} == V1
    assert _dvlin(two, "status", "--exit-code").returncode == 0
    ran = _dvlin(two, "checkout", "d@v2", "--to", str(two.parent / "restored"))
    assert ran.returncode == 0, ran.stderr
    assert {rel: (two.parent / "restored" / rel[2:]).read_text() for rel in V2} == V2
    assert not [n for n in os.listdir(two.parent) if ".dvlin-" in n]
