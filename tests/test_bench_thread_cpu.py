"""benchmarks/thread_cpu.py runs a real commit and reports CPU per thread, so it cannot rot.

It checks what the script reports and that the commit it wraps happened, never how fast.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "thread_cpu.py"


LINUX = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux only)")


def run_script(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "dvlin", "init", "-q"], cwd=repo, env=env, check=True)
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@LINUX
def test_reports_cpu_per_thread_of_a_real_commit(tmp_path: Path) -> None:
    data = os.urandom(9 * 1024 * 1024)  # a big file: chunked, by a reader thread that ends soon
    (tmp_path / "data.bin").write_bytes(data)

    done = run_script(tmp_path, "commit", "data.bin", "--name", "d")

    assert done.returncode == 0, done.stderr
    assert "d@v1" in done.stdout
    line = done.stderr.strip().splitlines()[-1]
    assert re.match(r"wall \d+\.\d\d s; child processes \d+\.\d\d s;", line), line
    assert re.search(r"MainThread \d+\.\d\d", line), line
    # The reader thread ended long before the report: it counted its own CPU as it ended.
    assert re.search(r"dvlin-read \d+\.\d\d", line), line
    (tmp_path / "data.bin").unlink()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        [sys.executable, "-m", "dvlin", "checkout", "d@v1"], cwd=tmp_path, env=env, check=True
    )
    assert (tmp_path / "data.bin").read_bytes() == data  # the commit it wrapped is real


@LINUX
def test_a_failing_command_keeps_its_exit_code_and_still_reports(tmp_path: Path) -> None:
    done = run_script(tmp_path, "commit", "missing.bin", "--name", "m")

    assert done.returncode == 3, done.stderr  # dvlin's "no such path" code, passed through
    assert "missing.bin does not exist" in done.stderr
    assert re.search(r"^wall \d+\.\d\d s; .*MainThread", done.stderr, re.M), done.stderr
