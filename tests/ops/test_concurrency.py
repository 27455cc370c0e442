"""Two processes at once, and a process killed mid-commit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dvlin import Repo
from dvlin.errors import ConflictError
from dvlin.ops.manifests import load_entries
from tests.conftest import write_tree


def _dvlin(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "dvlin", *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def _assert_every_version_is_whole(repo: Repo) -> None:
    """Each version's manifest and every object it lists exist and verify."""
    for v in repo.catalog.versions():
        entries = load_entries(repo, v)
        for e in entries.values():
            for oid in e.storage_oids():
                repo.store.get(oid)


@pytest.mark.slow
def test_two_processes_committing_at_once(repo: Repo) -> None:
    for i in range(2):
        write_tree(repo.root, {f"d{i}/f{j}.bin": os.urandom(3000) for j in range(300)})
    procs = [
        _dvlin(repo.root, "commit", f"d{i}", "--name", "shared", "-m", f"p{i}") for i in range(2)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    versions = repo.log("shared")
    assert sorted(v.number for v in versions) == [1, 2]
    assert versions[0].parent == versions[1].id
    _assert_every_version_is_whole(repo)
    assert repo.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_busy_repo_is_a_clear_conflict(repo: Repo) -> None:
    # Another Repo object opens the lock file again, as another process would (the lock is
    # re-entrant only within one Repo).
    with repo.lock(), Repo.open(repo.root) as other:
        with pytest.raises(ConflictError, match="locked by another dvlin process"):
            with other.lock(timeout=0.2):
                pass


@pytest.mark.slow
def test_killed_mid_commit_leaves_a_usable_repo(repo: Repo, tmp_path: Path) -> None:
    write_tree(repo.root, {"d/a.txt": "v1"})
    repo.commit(["d"], name="d")
    write_tree(repo.root, {f"d/new{j}.bin": os.urandom(5000) for j in range(200)})
    marker = tmp_path / "paused"
    proc = _dvlin(
        repo.root,
        "commit",
        "d",
        "--name",
        "d",
        env={"DVLIN_TEST_PAUSE_BEFORE_CATALOG": str(marker)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()

    # Objects were written, the version was not: the repo is as it was, and still usable.
    assert [v.number for v in repo.log("d")] == [1]
    _assert_every_version_is_whole(repo)
    assert not repo.status().clean
    result = repo.commit(["d"], name="d")
    assert result.version.number == 2
    _assert_every_version_is_whole(repo)
