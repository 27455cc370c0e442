"""A fast status (fingerprint, stat-cache columns) agrees with hashing every file.

Beside the edits of ``test_hotpath_property`` (writes, renames, mode flips, links, odd names):
rewrites of the same size that put the old mtime back, which size, mtime and inode cannot
tell from the original (the stat cache also compares the inode change time).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import write_tree
from tests.ops.test_hotpath_property import NAMES, World, op

keep = st.tuples(st.just("keep"), st.sampled_from(NAMES), st.none(), st.booleans())


def rewrite_keeping_mtime(path: Path) -> None:
    """New bytes of the same length, then the old atime and mtime put back."""
    if path.is_symlink() or not path.is_file():
        return
    before = path.stat()
    data = path.read_bytes()
    path.write_bytes(bytes(b ^ 1 for b in data) if data else b"")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.one_of(op, keep, keep), min_size=1, max_size=20))
def test_status_agrees_with_hashing_everything_after_rewrites_that_keep_the_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ops: list[tuple[str, str, object, bool]]
) -> None:
    with World.seeded(tmp_path / "repo", monkeypatch) as world:
        repo = world.repo
        assert repo.status().clean  # the cache now vouches for every file
        for kind, a, b, aged in ops:
            if kind == "keep":
                rewrite_keeping_mtime(world.d / a)
            elif kind == "commit":
                repo.commit(["d"], name="d")
            else:
                world.apply(kind, a, b, aged)
            expected = world.expected(world.reference())
            for _ in range(2):  # as found, then from what the first status cached
                assert repo.status(["d"]).assets[0].diff == expected


@pytest.mark.parametrize("size", ["same size", "another size"])
def test_a_rewrite_that_keeps_its_mtime_is_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: str
) -> None:
    from dvlin import Repo

    repo = Repo.init(tmp_path / "r")
    monkeypatch.chdir(repo.root)
    try:
        write_tree(repo.root, {"d/a.txt": "aaaa", "d/b.txt": "bbbb"})
        for name in ("a.txt", "b.txt"):
            os.utime(repo.root / "d" / name, (1_000_000_000, 1_000_000_000))
        repo.commit(["d"], name="d")
        assert repo.status().hashed_files == 0
        if size == "same size":
            rewrite_keeping_mtime(repo.root / "d/a.txt")
        else:
            (repo.root / "d/a.txt").write_bytes(b"longer now")
            os.utime(repo.root / "d/a.txt", (1_000_000_000, 1_000_000_000))
        got = repo.status().assets[0]
        assert got.state == "modified" and got.diff.changed == ("a.txt",)
        assert repo.commit(["d"], name="d").diff.changed == ("a.txt",)
        assert repo.status().clean
    finally:
        repo.close()
