"""The column paths of status and commit agree with hashing everything, on random edits.

Status answers a clean tree from one scan fingerprint and a changed one from the stat cache's
columns; commit takes unchanged rows from the parent's manifest by columns. The reference here
walks the folder with ``os.walk``, hashes every file and builds one :class:`Entry` per path,
then uses the straightforward :func:`tree_digest` and :func:`diff_entries`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin import Repo
from dvlin.objects.diff import Diff, diff_entries
from dvlin.objects.hashing import hash_file
from dvlin.objects.manifest import DIR_MODE, EXEC_MODE, FILE_MODE, LINK_MODE, Entry, tree_digest
from dvlin.ops.manifests import load_entries

NAMES = [
    "a.txt",
    "b.bin",
    "sub/c.txt",
    "sub/deep/d.csv",
    "a b.txt",
    "ünï/cödé.txt",
    "-dash",
    "q'uo\"te",
    "tab\tname",
    "new\nline",
    "日本/語.bin",
    ".hidden",
    "sub/.x",
    "z" * 120,
]
CONTENTS = [b"", b"1", b"2", b"22", b"hello", b"hellp", b"x" * 5000]

op = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NAMES), st.sampled_from(CONTENTS), st.booleans()),
    st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("chmod"), st.sampled_from(NAMES), st.none(), st.booleans()),
    st.tuples(st.just("remove"), st.sampled_from(NAMES), st.none(), st.booleans()),
    st.tuples(st.just("mkdir"), st.sampled_from(["empty", "sub/empty2"]), st.none(), st.booleans()),
    st.tuples(
        st.just("link"), st.sampled_from(["ln", "sub/ln"]), st.sampled_from(NAMES), st.booleans()
    ),
    st.tuples(st.just("commit"), st.none(), st.none(), st.booleans()),
)


class World:
    """One repo with asset ``d`` and a clock that hands out distinct past mtimes."""

    def __init__(self, root: Path) -> None:
        if root.exists():
            shutil.rmtree(root)
        self.repo = Repo.init(root)
        self.d = root / "d"
        self.d.mkdir()
        self.clock = time.time_ns() - 3600 * 1_000_000_000

    @classmethod
    @contextlib.contextmanager
    def seeded(cls, root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
        """A world whose first tree is committed, the test's working folder its repo; the
        repo closed after."""
        world = cls(root)
        monkeypatch.chdir(world.repo.root)
        try:
            world.seed()
            yield world
        finally:
            world.repo.close()

    def expected(self, truth: dict[str, Entry]) -> Diff:
        """The diff from the latest version to ``truth``, by the straightforward reference."""
        latest = self.repo.catalog.latest_version("d")
        assert latest is not None
        return diff_entries(load_entries(self.repo, latest), truth)

    def commit_agrees(self, truth: dict[str, Entry], expected: Diff) -> None:
        """Commit ``d``: its diff, entries and tree digest are the reference's."""
        result = self.repo.commit(["d"], name="d")
        assert result.diff == expected
        committed = load_entries(self.repo, result.version)
        assert sorted(map(_content, committed.values())) == sorted(map(_content, truth.values()))
        assert result.version.tree == tree_digest(self.repo.config.hash, truth.values())

    def seed(self) -> None:
        """Write every name of NAMES with aged mtimes and commit ``d`` as its first version."""
        for i, name in enumerate(NAMES):
            if self._room(self.d / name):
                (self.d / name).write_bytes(CONTENTS[i % len(CONTENTS)])
                self.age(self.d / name)
        self.repo.commit(["d"], name="d")

    def age(self, path: Path) -> None:
        """A distinct mtime safely in the past (the stat cache may trust it)."""
        self.clock += 1_234_567
        os.utime(path, ns=(self.clock, self.clock), follow_symlinks=False)

    def apply(self, kind: str, a: str, b: object, aged: bool) -> None:
        target = self.d / a
        if kind == "write":
            assert isinstance(b, bytes)
            if target.is_symlink() or (target.exists() and not target.is_file()):
                return
            if not self._room(target):
                return
            target.write_bytes(b)
            if aged:
                self.age(target)
        elif kind == "rename":
            dest = self.d / str(b)
            if not target.is_file() or target.is_symlink() or os.path.lexists(dest):
                return
            if not self._room(dest):
                return
            target.rename(dest)
        elif kind == "chmod":
            if target.is_file() and not target.is_symlink():
                mode = target.stat().st_mode
                target.chmod(mode ^ 0o111)
        elif kind == "remove":
            if target.is_symlink() or target.is_file():
                target.unlink()
        elif kind == "mkdir":
            if self._room(target) and not os.path.lexists(target):
                target.mkdir()
        elif kind == "link":
            if self._room(target) and not os.path.lexists(target):
                rel = os.path.relpath(self.d / str(b), target.parent)
                target.symlink_to(rel)

    def _room(self, path: Path) -> bool:
        """Make the parent folders, unless a file or link is in the way."""
        for parent in reversed(path.relative_to(self.d).parents):
            if parent == Path("."):
                continue
            full = self.d / parent
            if full.is_symlink() or full.is_file():
                return False
        path.parent.mkdir(parents=True, exist_ok=True)
        return True

    def reference(self) -> dict[str, Entry]:
        """Every path of the folder, every file hashed."""
        found: dict[str, Entry] = {}
        algorithm = self.repo.config.hash
        for folder, dirs, files in os.walk(self.d):
            rel = os.path.relpath(folder, self.d)
            prefix = "" if rel == "." else rel + "/"
            for name in dirs + files:
                full = os.path.join(folder, name)
                st_ = os.lstat(full)
                path = prefix + name
                if stat.S_ISLNK(st_.st_mode):
                    found[path] = Entry(path, "link", LINK_MODE, 0, None, os.readlink(full))
                elif stat.S_ISDIR(st_.st_mode):
                    found[path] = Entry(path, "dir", DIR_MODE)
                else:
                    mode = EXEC_MODE if st_.st_mode & 0o111 else FILE_MODE
                    oid = hash_file(algorithm, full)
                    found[path] = Entry(path, "file", mode, st_.st_size, oid)
        return found


def _content(e: Entry) -> tuple[object, ...]:
    return (e.path, e.type, e.mode, e.size if e.type == "file" else 0, e.oid, e.target)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(op, min_size=1, max_size=25))
def test_status_and_commit_agree_with_hashing_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ops: list[tuple[str, str, object, bool]]
) -> None:
    # Seeded: every later write or rename changes a committed path.
    with World.seeded(tmp_path / "repo", monkeypatch) as world:
        repo = world.repo
        repo.status()  # the cache now holds the first tree
        for kind, a, b, aged in [*ops, ("commit", "", None, True)]:
            if kind != "commit":
                world.apply(kind, a, b, aged)
                continue
            truth = world.reference()
            expected = world.expected(truth)
            for _ in range(2):  # cold (hashes) and warm (fingerprint or cache columns)
                got = repo.status(["d"]).assets[0]
                assert got.diff == expected
            world.commit_agrees(truth, expected)
            assert repo.status(["d"]).assets[0].diff == Diff()
