"""Switching versions touches only the paths that differ; a restore writes the whole tree."""

from __future__ import annotations

import os

from dvlin import Repo
from dvlin.workspace import pending
from tests.conftest import write_tree

FILES: dict[str, object] = {
    f"d/s{i % 5}/f{i:03d}.bin": bytes([i % 256]) * (100 + i) for i in range(200)
}
CHANGED = ["d/s0/f000.bin", "d/s3/f123.bin"]


def _two(repo: Repo) -> None:
    write_tree(repo.root, FILES)
    repo.commit(["d"], name="d")
    for rel in CHANGED:
        (repo.root / rel).write_bytes(b"changed " + rel.encode())
    repo.commit(["d"], name="d")


def _stats(repo: Repo) -> dict[str, tuple[int, int]]:
    return {
        rel: (os.lstat(repo.root / rel).st_ino, os.lstat(repo.root / rel).st_mtime_ns)
        for rel in FILES
    }


def test_switching_back_rewrites_only_the_changed_files(repo: Repo) -> None:
    _two(repo)
    before = _stats(repo)
    result = repo.checkout("d@v1")
    assert (result.written, result.removed, result.unchanged) == (2, 0, len(FILES) + 5 - 2)
    after = _stats(repo)
    assert sorted(p for p in FILES if after[p] != before[p]) == CHANGED
    assert all((repo.root / rel).read_bytes() == data for rel, data in FILES.items())
    assert repo.status().clean


def test_restoring_a_deleted_tree_writes_it_whole_and_clean(repo: Repo) -> None:
    _two(repo)
    import shutil

    shutil.rmtree(repo.root / "d")
    result = repo.checkout("d@v1")
    assert result.written == len(FILES) + 5  # the files and their five folders
    assert all((repo.root / rel).read_bytes() == data for rel, data in FILES.items())
    names = [n for _, _, files in os.walk(repo.root / "d") for n in files]
    assert not any(pending.is_temporary_name(n) for n in names)
    report = repo.status()
    assert report.clean


def test_editing_an_older_checkout_back_to_the_latest_tree_and_committing_marks_it_latest(
    repo: Repo,
) -> None:
    """'nothing to commit' because the latest version holds the tree: the folder is at it."""
    _two(repo)
    repo.checkout("d@v1")
    for rel in CHANGED:  # by hand, back to what v2 holds
        (repo.root / rel).write_bytes(b"changed " + rel.encode())
    result = repo.commit(["d"], name="d")
    assert not result.created and result.version.number == 2
    assert repo.status().clean  # at d@v2, not "modified since d@v1"
    repo.checkout("d@v1")  # no "uncommitted changes" refusal
    assert all((repo.root / rel).read_bytes() == FILES[rel] for rel in CHANGED)
