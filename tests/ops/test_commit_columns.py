"""Commit cost follows the change: what an unchanged or barely changed tree does not touch."""

from __future__ import annotations

import os
import time

import pytest

from dvlin import Repo
from dvlin.ops import commit as commit_module
from tests.conftest import write_tree


def _aged(repo: Repo, files: dict[str, str]) -> None:
    write_tree(repo.root, files)
    past = time.time() - 60
    for p in files:
        os.utime(repo.root / p, (past, past))


def test_an_unchanged_tree_commits_nothing_without_reading_the_manifest(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    _aged(repo, {"d/a.txt": "a", "d/sub/b.txt": "b"})
    first = repo.commit(["d"], name="d")

    def no_manifest(*args: object, **kwargs: object) -> None:
        raise AssertionError("the parent's manifest was read")

    monkeypatch.setattr(commit_module, "load_manifest", no_manifest)
    again = repo.commit(["d"], name="d", tags=["same"])
    assert not again.created and again.version.id == first.version.id
    assert again.diff.clean and repo.catalog.tag("d", "same") is not None


def test_a_changed_tree_still_reads_the_parent(repo: Repo) -> None:
    _aged(repo, {"d/a.txt": "a", "d/sub/b.txt": "b"})
    repo.commit(["d"], name="d")
    (repo.root / "d/a.txt").write_text("changed")
    second = repo.commit(["d"], name="d")
    assert second.created and second.diff.changed == ("a.txt",)
    assert second.version.files == 2
