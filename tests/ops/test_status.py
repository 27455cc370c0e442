"""Status with and without the stat cache."""

from __future__ import annotations

import os
import shutil
import time

from dvlin import Repo
from tests.conftest import write_tree


def _age(path: os.PathLike[str] | str, seconds: float = 10) -> None:
    """Move a file's mtime into the past, so the stat cache may trust it."""
    past = time.time() - seconds
    os.utime(path, (past, past), follow_symlinks=False)


def _aged_tree(repo: Repo) -> None:
    write_tree(repo.root, {"d/a.txt": "a", "d/b.txt": "b", "d/sub/c.txt": "c"})
    for p in ("d/a.txt", "d/b.txt", "d/sub/c.txt"):
        _age(repo.root / p)


def test_clean_tree_is_answered_from_the_stat_cache(repo: Repo) -> None:
    _aged_tree(repo)
    repo.commit(["d"], name="d")
    report = repo.status()
    assert report.clean and report.hashed_files == 0


def test_status_without_the_stat_cache_hashes_and_agrees(repo: Repo) -> None:
    _aged_tree(repo)
    repo.commit(["d"], name="d")
    shutil.rmtree(repo.dvlin_dir / "statcache")
    first = repo.status()
    assert first.clean and first.hashed_files == 3
    second = repo.status()
    assert second.clean and second.hashed_files == 0


def test_touched_file_is_rehashed_once_then_clean(repo: Repo) -> None:
    _aged_tree(repo)
    repo.commit(["d"], name="d")
    _age(repo.root / "d/a.txt", 5)  # a new mtime, the same bytes
    first = repo.status()
    assert first.clean and first.hashed_files == 1
    assert repo.status().hashed_files == 0


def test_changes_are_listed(repo: Repo) -> None:
    _aged_tree(repo)
    repo.commit(["d"], name="d")
    (repo.root / "d/a.txt").write_text("changed, same stat cache row is stale")
    (repo.root / "d/new.txt").write_text("new")
    os.remove(repo.root / "d/sub/c.txt")
    a = repo.status(["d"]).assets[0]
    assert a.state == "modified"
    assert a.diff.added == ("new.txt",)
    assert a.diff.changed == ("a.txt",)
    assert a.diff.removed == ("sub/c.txt",)


def test_same_size_same_second_edit_is_not_missed(repo: Repo) -> None:
    # A racy edit: same size, written right after commit. The stat cache must not vouch for it.
    write_tree(repo.root, {"d/a.txt": "aaaa"})
    repo.commit(["d"], name="d")
    (repo.root / "d/a.txt").write_text("bbbb")
    assert not repo.status().clean


def test_exec_bit_change_is_a_change(repo: Repo) -> None:
    _aged_tree(repo)
    repo.commit(["d"], name="d")
    os.chmod(repo.root / "d/a.txt", 0o755)
    assert repo.status().assets[0].diff.changed == ("a.txt",)


def _cache_files(repo: Repo) -> set[str]:
    folder = repo.dvlin_dir / "statcache"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_the_stat_cache_of_a_replaced_layout_is_removed(repo: Repo) -> None:
    _aged_tree(repo)
    repo.commit(["d/a.txt", "d/b.txt"], name="d")
    assert repo.status().clean
    old = _cache_files(repo)
    assert old
    repo.commit(["d"], name="d")  # the asset now covers the whole folder: another layout
    assert repo.status().clean
    now = _cache_files(repo)
    assert now and not now & old
    assert {name.partition(".")[2] for name in now} == {"arrow", "tree"}
    second = repo.status()  # the surviving cache is the one in use
    assert second.clean and second.hashed_files == 0


def test_the_stat_cache_of_a_removed_asset_is_removed(repo: Repo) -> None:
    from dvlin.ops.asset import rm

    _aged_tree(repo)
    write_tree(repo.root, {"e/x.txt": "x"})
    _age(repo.root / "e/x.txt")
    repo.commit(["d"], name="d")
    repo.commit(["e"], name="e")
    assert repo.status().clean
    both = _cache_files(repo)
    rm(repo, "e", keep_files=True)
    repo.status(["d"])  # a status of some assets leaves the others' caches alone
    assert _cache_files(repo) == both
    assert repo.status().clean
    left = _cache_files(repo)
    assert left and left < both
    assert repo.status().hashed_files == 0
