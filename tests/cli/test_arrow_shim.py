"""The ``dvlin`` process keeps pandas out of pyarrow; the Python API leaves it alone."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

needs_pandas = pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None, reason="pandas is not installed here"
)

_RUN_CLI = """
import atexit, sys
atexit.register(lambda: print("PANDAS", "pandas" in sys.modules, "pyarrow" in sys.modules))
from dvlin.cli import main
sys.argv = ["dvlin", *sys.argv[1:]]
main()
"""


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _RUN_CLI, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "DVLIN_AUTHOR": "Test <t@example.org>"},
        check=False,
    )


@needs_pandas
def test_a_commit_of_many_files_builds_arrow_tables_without_importing_pandas(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5000):  # above the size where manifests go columnar
        (data / f"f{i:05}.txt").write_text(f"row {i}\n")
    assert _cli(tmp_path, "init", "-q").returncode == 0
    done = _cli(tmp_path, "commit", "data", "--name", "data")
    assert done.returncode == 0, done.stderr
    assert "PANDAS False True" in done.stdout  # pyarrow was used, pandas was not loaded
    shown = _cli(tmp_path, "ls", "data", "--json")
    assert shown.returncode == 0, shown.stderr
    assert '"f04999.txt"' in shown.stdout or "f04999.txt" in shown.stdout


@needs_pandas
def test_the_python_api_leaves_pandas_importable(tmp_path: Path) -> None:
    code = (
        "import dvlin, pyarrow as pa, pandas as pd\n"
        "print(pa.table({'a': [1, 2]}).to_pandas()['a'].sum())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "3"
