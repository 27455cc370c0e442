"""The examples run as documented."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.slow
def test_quickstart_runs_end_to_end(tmp_path: Path) -> None:
    exe = shutil.which("dvlin")
    env = {**os.environ, "DVLIN_AUTHOR": "Quickstart"}
    if not exe:
        env["DVLIN"] = f"{sys.executable} -m dvlin"
    result = subprocess.run(
        ["bash", str(EXAMPLES / "quickstart.sh"), str(tmp_path / "tour")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "→ events@v1" in result.stdout
    assert "events: modified (1 added, 1 changed, 0 removed)" in result.stdout
    assert "old_events is byte-identical to events@v1" in result.stdout
    assert 'version = "v2"' in result.stdout and "dvlin.lock is up to date" in result.stdout
    assert "gc would free" in result.stdout
    assert "Traceback" not in result.stderr
