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


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux only)")
def test_reports_cpu_per_thread_of_a_real_commit(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "dvlin", "init", "-q"], cwd=tmp_path, env=env, check=True)
    (tmp_path / "data.bin").write_bytes(os.urandom(9 * 1024 * 1024))  # a big file: chunked

    done = subprocess.run(
        [sys.executable, str(SCRIPT), "commit", "data.bin", "--name", "d"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "d@v1" in done.stdout
    line = done.stderr.strip().splitlines()[-1]
    assert re.match(r"wall \d+\.\d\d s; child processes \d+\.\d\d s;", line), line
    assert re.search(r"MainThread \d+\.\d\d", line), line
    assert re.search(r"dvlin-read \d+\.\d\d", line), line  # the big file's reader thread
