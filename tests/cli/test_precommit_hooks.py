"""The hooks in .pre-commit-hooks.yaml, run through the real pre-commit framework.

The config names a git repo holding this checkout's hooks and package, as try-repo does.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.policy.conftest import write_policy, write_table

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = shutil.which("pre-commit")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(PRE_COMMIT is None, reason="pre-commit is not installed"),
]


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout's hook definitions and package, committed to a throwaway git repo, and a
    pre-commit config that names it at that commit (what try-repo writes), with a pre-commit
    home of its own.

    pre-commit builds the hooks' environment (a venv with dvlin installed) once in that home
    and every run reuses it; try-repo would build it anew for each run (~25 s each). Under
    pytest-xdist the workers share one build: the first to come builds it under a lock.
    """
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "precommit-hooks"  # this run's, shared
        root.mkdir(exist_ok=True)
    else:
        root = tmp_path_factory.mktemp("precommit-hooks")
    with (root / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "config.yaml").exists():
            _build_hooks(root)
    return root


def _build_hooks(root: Path) -> None:
    repo = root / "repo"
    repo.mkdir()
    for name in (".pre-commit-hooks.yaml", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "dvlin", repo / "dvlin", ignore=shutil.ignore_patterns("__pycache__"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "hooks")
    rev = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    ids = ", ".join(f"{{id: {hook}}}" for hook in ("dvlin-check", "dvlin-status", "dvlin-lock"))
    text = f"repos:\n- repo: {repo}\n  rev: {rev}\n  hooks: [{ids}]\n"
    (root / "config.tmp").write_text(text)
    (root / "config.tmp").rename(root / "config.yaml")  # complete, or absent


def run_hook(hooks: Path, project: Path, hook: str) -> subprocess.CompletedProcess[str]:
    """``pre-commit run HOOK --all-files`` in ``project`` with the hooks of this checkout."""
    env = {**os.environ, "PRE_COMMIT_COLOR": "never", "PRE_COMMIT_HOME": str(hooks / "home")}
    config = str(hooks / "config.yaml")
    return subprocess.run(
        [PRE_COMMIT or "pre-commit", "run", "--config", config, hook, "--all-files"],
        cwd=project,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git repo that is also a dvlin repo, with one committed asset under contract."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q")
    subprocess.run(
        [sys.executable, "-m", "dvlin", "init"], cwd=root, check=True, capture_output=True
    )
    write_policy(root, '[assets.t]\npath = "data/t"\n[assets.t.quality]\nunique = ["id"]\n')
    write_table(root / "data/t/part", {"id": [1, 2, 3]})
    env = {**os.environ, "DVLIN_AUTHOR": "Hook Test"}
    subprocess.run(
        [sys.executable, "-m", "dvlin", "commit", "data/t", "--name", "t"],
        cwd=root,
        check=True,
        capture_output=True,
        env=env,
    )
    (root / ".gitignore").write_text(".dvlin/\n")
    git(root, "add", "-A")
    return root


def test_dvlin_check_hook(hooks: Path, project: Path) -> None:
    r = run_hook(hooks, project, "dvlin-check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dvlin check (data contracts)" in r.stdout and "Passed" in r.stdout
    write_table(project / "data/t/part", {"id": [1, 1, 3]})
    r = run_hook(hooks, project, "dvlin-check")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Failed" in r.stdout and "duplicate values" in r.stdout


def test_dvlin_status_hook(hooks: Path, project: Path) -> None:
    r = run_hook(hooks, project, "dvlin-status")
    assert r.returncode == 0, r.stdout + r.stderr
    write_table(project / "data/t/part", {"id": [4, 5, 6]})
    r = run_hook(hooks, project, "dvlin-status")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "t: modified (0 added, 1 changed, 0 removed)" in r.stdout


def test_dvlin_lock_hook(hooks: Path, project: Path) -> None:
    r = run_hook(hooks, project, "dvlin-lock")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dvlin lock --check" in r.stdout and "Passed" in r.stdout
    # A lock from another code commit: it pins nothing the workspace holds.
    (project / "dvlin.lock").write_text("format = 1\n")
    r = run_hook(hooks, project, "dvlin-lock")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Failed" in r.stdout and "dvlin.lock does not pin t" in r.stdout
