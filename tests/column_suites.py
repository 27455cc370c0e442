"""Run the column property tests again in a fresh process that a snippet sets up first.

The lean (no NumPy) and stand-in (``pyarrow.compute`` built lazily) paths are checked by the
same property tests as the default one, against the same references, in a process where the
snippet has changed what pyarrow imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUITES = (
    "tests/objects/test_columns.py",
    "tests/ops/test_checkout_plan.py",
    "tests/ops/test_commit_columns.py",
    "tests/ops/test_commit_tree_merge.py",
)
"""The property tests of the column kernels, the checkout plan, the commit's columns and its
merge with the parent's rows."""


def run_suites(setup: str, *, after: str = "", extra: Sequence[str] = ()) -> None:
    """Run :data:`SUITES` (and ``extra``) under pytest after ``setup``; ``after`` runs last
    (assertions on the process); fail with pytest's output if anything failed."""
    code = (
        "import sys\n"
        f"{setup}"
        "import pytest\n"
        "code = pytest.main(['-q', '-x', '-p', 'no:cacheprovider', *sys.argv[1:]])\n"
        f"{after}"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code, *SUITES, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
