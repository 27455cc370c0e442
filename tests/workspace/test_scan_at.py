"""The walk reading each folder by columns (names, then ``fstatat`` per name) gives exactly the
rows of the walk entry by entry (``os.scandir``), its reference: same rows, same order, same
inode change times, same fingerprint, and the same errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvlin.errors import DvlinError
from dvlin.workspace import scan as scan_module
from dvlin.workspace.scan import Columns, scan_columns
from dvlin.workspace.statfile import fingerprint
from tests.workspace.walk_trees import NAME, build

pytestmark = pytest.mark.skipif(not scan_module._FD_WALK, reason="no descriptor-relative walk")

# Beside the walk's usual odd names: the names the walk skips or refuses, and executables.
ODD = st.one_of(NAME, st.sampled_from([".dvlin", ".git", "dvlin.lock", "back\\slash", "x.sh"]))
KIND = st.sampled_from(["file", "aged", "dir", "link", "exec", "empty"])
TREE = st.lists(st.tuples(st.lists(ODD, min_size=1, max_size=3), KIND), max_size=25)


def make(base: Path, tree: list[tuple[list[str], str]]) -> None:
    kinds = {"empty": "dir", "exec": "file", "aged": "file"}
    build(base, [(parts, kinds.get(kind, kind)) for parts, kind in tree])
    for parts, kind in tree:
        path = base.joinpath(*parts)
        if path.is_symlink() or not path.is_file():
            continue
        if kind == "exec":
            path.chmod(0o755)
        elif kind == "aged":  # an mtime that is not the inode change time
            os.utime(path, ns=(1_000_000_000_123, 1_000_000_000_123))


def walk(base: Path, *, at: bool, store_root: str | None = None) -> Columns | str:
    """The scan's columns, or the error it raised (type and message)."""
    old = scan_module._FD_WALK
    scan_module._FD_WALK = at
    try:
        return scan_columns(str(base), ["."], store_root=store_root, strict=False)
    except DvlinError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        scan_module._FD_WALK = old


def same(a: Columns | str, b: Columns | str) -> None:
    assert isinstance(a, Columns) == isinstance(b, Columns), (a, b)
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    assert list(a) == list(b)
    assert a.ctime_ns == b.ctime_ns
    assert fingerprint(a) == fingerprint(b)


@pytest.fixture(autouse=True)
def one_walker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVLIN_SCAN_WORKERS", "1")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREE, st.booleans())
def test_the_walk_by_columns_gives_the_rows_of_the_walk_entry_by_entry(
    tmp_path_factory: pytest.TempPathFactory, tree: list[tuple[list[str], str]], repo_root: bool
) -> None:
    base = tmp_path_factory.mktemp("t")
    if repo_root:
        (base / ".dvlin").mkdir()  # dvlin.lock beside it is skipped, deeper ones are data
    make(base, tree)
    same(walk(base, at=True), walk(base, at=False))


def test_a_folder_of_files_with_odd_names_and_modes(tmp_path: Path) -> None:
    names = ["a", "日本.txt", "tab\tx", "new\nline", "sp ace", "z" * 200]
    for i, name in enumerate(names):
        (tmp_path / "d").mkdir(exist_ok=True)
        (tmp_path / "d" / name).write_bytes(b"x" * i)
    (tmp_path / "d" / "run.sh").write_bytes(b"#!")
    (tmp_path / "d" / "run.sh").chmod(0o755)
    (tmp_path / "ünï").mkdir()
    (tmp_path / "ünï" / "é").write_bytes(b"e")
    (tmp_path / "empty").mkdir()
    got = walk(tmp_path, at=True)
    same(got, walk(tmp_path, at=False))
    assert isinstance(got, Columns)
    rows = {r.path: r for r in got}
    assert rows["d/run.sh"].mode == 0o755 and rows["d/a"].mode == 0o644
    assert rows["ünï/é"].size == 1 and rows["d/sp ace"].size == 4
    assert rows["empty"].type == "dir"


@pytest.mark.parametrize("name", [b"back\\slash", b"bad\xffutf8"], ids=["backslash", "not-utf-8"])
def test_a_name_dvlin_cannot_keep_is_refused_as_by_the_reference(
    tmp_path: Path, name: bytes
) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ok").write_bytes(b"")
    with open(os.path.join(os.fsencode(tmp_path / "d"), name), "wb"):
        pass
    got = walk(tmp_path, at=True)
    assert isinstance(got, str) and got.startswith("UsageError: file name")
    same(got, walk(tmp_path, at=False))


def test_a_fifo_is_refused_as_by_the_reference(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"")
    os.mkfifo(tmp_path / "d" / "pipe")
    got = walk(tmp_path, at=True)
    assert isinstance(got, str) and "is not a regular file, folder or symlink" in got
    same(got, walk(tmp_path, at=False))


def test_a_file_removed_after_its_folder_was_listed_is_not_in_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "d").mkdir()
    for name in ("a", "b", "c"):
        (tmp_path / "d" / name).write_bytes(name.encode())
    real = os.listdir

    def listed_then_removed(path: int | str = ".") -> list[str]:
        names = real(path)
        if "b" in names:
            os.unlink(tmp_path / "d" / "b")
        return names

    monkeypatch.setattr(os, "listdir", listed_then_removed)
    got = walk(tmp_path, at=True)
    monkeypatch.undo()
    assert isinstance(got, Columns)
    assert sorted(got.path) == ["d", "d/a", "d/c"]
    same(got, walk(tmp_path, at=False))


def test_a_link_into_the_local_store_stands_for_its_object(tmp_path: Path) -> None:
    store = tmp_path / "store"
    (store / "ab").mkdir(parents=True)
    (store / "ab" / "cdef").write_bytes(b"object")
    (tmp_path / "w" / "d").mkdir(parents=True)
    (tmp_path / "w" / "d" / "f").symlink_to(store / "ab" / "cdef")
    (tmp_path / "w" / "d" / "g").write_bytes(b"g")
    got = walk(tmp_path / "w", at=True, store_root=str(store))
    same(got, walk(tmp_path / "w", at=False, store_root=str(store)))
    assert isinstance(got, Columns)
    assert {r.path: r.oid for r in got}["d/f"] == "abcdef"


def test_a_folder_that_is_a_file_is_an_error_as_by_the_reference(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    got = walk(tmp_path / "f", at=True)
    assert isinstance(got, str) and got.startswith("FileSystemError")
    same(got, walk(tmp_path / "f", at=False))
